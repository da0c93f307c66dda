// A Sigstore deployment of the test bed's own, the way a private deployment stands beside
// Sigstore's public-good one: a CA standing in for Fulcio (certificates made by the openssl CLI,
// with Fulcio's OIDC issuer extensions and the workflow's URI as subject alternative name), a
// transparency log standing in for Rekor (an ECDSA P-256 key: each entry a hashedrekord body with
// a signed entry timestamp and an inclusion proof in a one-leaf tree under a signed checkpoint),
// and its `trusted_root.json` in Sigstore's TrustedRoot format. No CT log (a trust root without
// one: the verifier asks for no SCT) and no timestamp authority (the log's integrated time is the
// timestamp).
//
//   const root = await makeTrustRoot(dir);          // root.trustedRootPath: the trusted_root.json
//   await signFile(root, binaryPath);                  // writes <binary>.sigstore.json, a good bundle
//   await signFile(root, binaryPath, { subject: 'https://github.com/evil/x/.github/workflows/a.yml@refs/heads/main' });
//
// Bad bundles, each refused for its own reason: `tamper` (the bytes signed are not the file's),
// `otherFile` (a good bundle of another file), `subject` / `issuer` (another identity, the right
// CA), `selfSigned` (a certificate no CA issued), `noTlog` (no transparency-log entry).
import { execFile } from 'node:child_process';
import { createHash, createPrivateKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The identity a buildx release's bundle names: Docker's build workflow. */
export const BUILDX_SIGNER = {
  issuer: 'https://token.actions.githubusercontent.com',
  subject: 'https://github.com/docker/github-builder/.github/workflows/bake.yml@refs/tags/v1.17.0',
};

const LOG_URL = 'https://rekor.testbed.invalid';
const LOG_NAME = 'rekor.testbed.invalid';

export interface TestTrustRoot {
  dir: string;
  /** the trusted_root.json to hand to the verification */
  trustedRootPath: string;
  caKeyPath: string;
  caCertPath: string;
  logKey: KeyObject;
  /** sha256 of the log's DER public key */
  logId: Buffer;
}

export interface SignOptions {
  /** the bundle is written here (default `<file>.sigstore.json`) */
  out?: string;
  /** sign these bytes instead of the file's (the file changed after signing) */
  tamper?: boolean;
  /** a good bundle of another file */
  otherFile?: boolean;
  /** the certificate's subject alternative name (default BUILDX_SIGNER.subject) */
  subject?: string;
  /** the certificate's OIDC issuer (default BUILDX_SIGNER.issuer) */
  issuer?: string;
  /** a self-signed certificate, not the CA's */
  selfSigned?: boolean;
  /** no transparency-log entry */
  noTlog?: boolean;
  /** the log index the entry claims (default 0) */
  logIndex?: number;
}

const openssl = async (args: string[]): Promise<void> => {
  await run('openssl', args);
};

const b64 = (b: Buffer | string): string => Buffer.from(b).toString('base64');

/** The DER bytes of a PEM certificate. */
function derOf(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

/** Makes the CA, the log key and the trusted_root.json in `dir`. */
export async function makeTrustRoot(dir: string): Promise<TestTrustRoot> {
  const caKeyPath = join(dir, 'ca.key');
  const caCertPath = join(dir, 'ca.pem');
  await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', caKeyPath]);
  await openssl([
    ...['req', '-x509', '-new', '-key', caKeyPath, '-out', caCertPath, '-days', '3650'],
    ...['-subj', '/O=safe-imagetools test bed/CN=testbed-fulcio', '-sha256'],
    ...['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
  ]);
  const { privateKey: logKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const logDer = publicKey.export({ type: 'spki', format: 'der' });
  const logId = createHash('sha256').update(logDer).digest();
  const start = new Date(Date.now() - 3_600_000).toISOString();
  const trustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [
      {
        baseUrl: LOG_URL,
        hashAlgorithm: 'SHA2_256',
        publicKey: { rawBytes: b64(logDer), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
        logId: { keyId: b64(logId) },
      },
    ],
    certificateAuthorities: [
      {
        subject: { organization: 'safe-imagetools test bed', commonName: 'testbed-fulcio' },
        uri: 'https://fulcio.testbed.invalid',
        certChain: { certificates: [{ rawBytes: b64(derOf(await readFile(caCertPath, 'utf8'))) }] },
        validFor: { start },
      },
    ],
    ctlogs: [],
    timestampAuthorities: [],
  };
  const trustedRootPath = join(dir, 'trusted_root.json');
  await writeFile(trustedRootPath, JSON.stringify(trustedRoot, null, 2));
  return { dir, trustedRootPath, caKeyPath, caCertPath, logKey, logId };
}

/** A short-lived leaf certificate for `subject` and `issuer`, by the CA (or self-signed); its key and DER. */
async function leafCertificate(
  root: TestTrustRoot,
  name: string,
  opts: Pick<SignOptions, 'subject' | 'issuer' | 'selfSigned'>,
): Promise<{ key: KeyObject; der: Buffer; pem: string }> {
  const keyPath = join(root.dir, `${name}.key`);
  const certPath = join(root.dir, `${name}.pem`);
  const extPath = join(root.dir, `${name}.ext`);
  const issuer = opts.issuer ?? BUILDX_SIGNER.issuer;
  const ext = [
    `subjectAltName=critical,URI:${opts.subject ?? BUILDX_SIGNER.subject}`,
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=codeSigning',
    'subjectKeyIdentifier=hash',
    ...(opts.selfSigned ? [] : ['authorityKeyIdentifier=keyid']),
    `1.3.6.1.4.1.57264.1.1=DER:${Buffer.from(issuer).toString('hex')}`,
    `1.3.6.1.4.1.57264.1.8=ASN1:UTF8String:${issuer}`,
  ].join('\n');
  await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyPath]);
  if (opts.selfSigned) {
    // req -x509 takes its extensions from a config section
    await writeFile(extPath, `[req]\ndistinguished_name=dn\nprompt=no\n[dn]\nO=sigstore.dev\n[v3]\n${ext}\n`);
    await openssl([
      ...['req', '-x509', '-new', '-key', keyPath, '-out', certPath, '-days', '1', '-sha256'],
      ...['-config', extPath, '-extensions', 'v3'],
    ]);
  } else {
    await writeFile(extPath, `${ext}\n`);
    const csrPath = join(root.dir, `${name}.csr`);
    await openssl(['req', '-new', '-key', keyPath, '-out', csrPath, '-subj', '/O=sigstore.dev']);
    await openssl([
      ...['x509', '-req', '-in', csrPath, '-CA', root.caCertPath, '-CAkey', root.caKeyPath],
      ...['-set_serial', `0x${createHash('sha1').update(name).digest('hex').slice(0, 16)}`],
      ...['-days', '1', '-sha256', '-extfile', extPath, '-out', certPath],
    ]);
  }
  const pem = await readFile(certPath, 'utf8');
  return { key: createPrivateKey(await readFile(keyPath)), der: derOf(pem), pem };
}

/** Canonical JSON (RFC 8785 for the values used here: sorted keys, no whitespace). */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The log's entry for a hashedrekord body: a signed entry timestamp and a one-leaf inclusion proof. */
function tlogEntry(root: TestTrustRoot, body: Buffer, integratedTime: number, logIndex: number): object {
  const set = sign(
    'sha256',
    Buffer.from(canonical({ body: b64(body), integratedTime, logIndex, logID: root.logId.toString('hex') })),
    root.logKey,
  );
  const rootHash = createHash('sha256')
    .update(Buffer.concat([Buffer.from([0]), body]))
    .digest();
  const note = `${LOG_NAME} - 1\n1\n${b64(rootHash)}\n`;
  const noteSig = sign('sha256', Buffer.from(note), root.logKey);
  const envelope = `${note}\n\u2014 ${LOG_NAME} ${b64(Buffer.concat([root.logId.subarray(0, 4), noteSig]))}\n`;
  return {
    logIndex: String(logIndex),
    logId: { keyId: b64(root.logId) },
    kindVersion: { kind: 'hashedrekord', version: '0.0.1' },
    integratedTime: String(integratedTime),
    inclusionPromise: { signedEntryTimestamp: b64(set) },
    inclusionProof: {
      logIndex: String(logIndex),
      rootHash: b64(rootHash),
      treeSize: '1',
      hashes: [],
      checkpoint: { envelope },
    },
    canonicalizedBody: b64(body),
  };
}

let signed = 0;

/** Writes a Sigstore bundle (v0.3, a message signature) for `file`; returns its path. */
export async function signFile(root: TestTrustRoot, file: string, opts: SignOptions = {}): Promise<string> {
  const name = `leaf-${++signed}`;
  const cert = await leafCertificate(root, name, opts);
  let bytes = await readFile(file);
  if (opts.tamper || opts.otherFile) bytes = Buffer.concat([bytes, Buffer.from('\nnot the file\n')]);
  const digest = createHash('sha256').update(bytes).digest();
  const signature = sign('sha256', bytes, cert.key);
  const body = Buffer.from(
    canonical({
      apiVersion: '0.0.1',
      kind: 'hashedrekord',
      spec: {
        data: { hash: { algorithm: 'sha256', value: digest.toString('hex') } },
        signature: { content: b64(signature), publicKey: { content: b64(cert.pem) } },
      },
    }),
  );
  const integratedTime = Math.ceil(Date.now() / 1000);
  const bundle = {
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: {
      certificate: { rawBytes: b64(cert.der) },
      tlogEntries: opts.noTlog ? [] : [tlogEntry(root, body, integratedTime, opts.logIndex ?? 0)],
      timestampVerificationData: { rfc3161Timestamps: [] },
    },
    messageSignature: {
      messageDigest: { algorithm: 'SHA2_256', digest: b64(digest) },
      signature: b64(signature),
    },
  };
  const out = opts.out ?? `${file}.sigstore.json`;
  await writeFile(out, JSON.stringify(bundle));
  return out;
}
