// The Sigstore verification itself, through the Sigstore libraries (@sigstore/bundle,
// @sigstore/verify, @sigstore/tuf). This module is loaded with import() only when a signature is
// checked: a cache hit, the runner's buildx or a path loads none of it.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { assertBundle, bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { DEFAULT_MIRROR_URL, getTrustedRoot } from '@sigstore/tuf';
import seeds from '@sigstore/tuf/seeds.json' with { type: 'json' };
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';

import { BUILDX_WORKFLOW, GITHUB_ISSUER, refusalOf, statementCovers } from '../buildx/signing.js';

/** How long the public-good trusted root may take through TUF before the shipped one is used. */
const TUF_DEADLINE_MS = 10_000;

export interface Verified {
  subject: string;
  issuer: string;
  logIndex: string;
}

/** Where the trusted root comes from: a file (a private deployment), public-good through TUF, or the shipped one. */
export type RootSource = { file: string } | 'public-good' | 'shipped';

/** The TrustedRoot: the file given, else public-good through TUF, else the one @sigstore/tuf ships. */
async function trustedRoot(
  source: RootSource,
  cacheDir: string,
  info: (m: string) => void,
): Promise<TrustedRoot> {
  if (typeof source === 'object') return rootFromFile(source.file);
  const cachePath = join(cacheDir, 'sigstore-tuf');
  const shipped = () => {
    const root = shippedRoot();
    info(`Sigstore: using the trusted root @sigstore/tuf ships (its newest key ${newestKey(root)})`);
    return root;
  };
  if (source === 'shipped') return shipped();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${TUF_DEADLINE_MS / 1000}s`)), TUF_DEADLINE_MS);
  });
  try {
    return await Promise.race([getTrustedRoot({ cachePath }), late]);
  } catch (err) {
    info(`Sigstore's trusted root could not be updated through TUF (${(err as Error).message})`);
    return shipped();
  } finally {
    clearTimeout(timer);
  }
}

/** The public-good trusted_root.json that @sigstore/tuf ships as its seed (no network). */
function shippedRoot(): TrustedRoot {
  const seed = (seeds as Record<string, { targets: Record<string, string> }>)[DEFAULT_MIRROR_URL];
  const text = seed?.targets['trusted_root.json'];
  if (!text) throw new Error(`@sigstore/tuf ships no trusted_root.json for ${DEFAULT_MIRROR_URL}`);
  return TrustedRoot.fromJSON(JSON.parse(Buffer.from(text, 'base64').toString('utf8')));
}

/** A trusted_root.json given as sigstore-trusted-root; an error that names the input. */
async function rootFromFile(file: string): Promise<TrustedRoot> {
  try {
    const root = TrustedRoot.fromJSON(JSON.parse(await readFile(file, 'utf8')));
    if (root.certificateAuthorities.length === 0 || root.tlogs.length === 0)
      throw new Error('it names no certificate authority or no transparency log');
    return root;
  } catch (err) {
    throw new Error(
      `Input "sigstore-trusted-root": not a Sigstore trusted_root.json (${(err as Error).message})`,
      {
        cause: err,
      },
    );
  }
}

/** When the newest key of a trusted root became valid, `2025-04-16` (how old a shipped root is). */
function newestKey(root: TrustedRoot): string {
  const starts = [
    ...root.certificateAuthorities,
    ...root.tlogs.map((t) => t.publicKey),
    ...root.ctlogs.map((t) => t.publicKey),
  ]
    .map((k) => k?.validFor?.start)
    .filter((d): d is Date => d instanceof Date);
  if (starts.length === 0) return 'undated';
  return `from ${new Date(Math.max(...starts.map((d) => d.getTime()))).toISOString().slice(0, 10)}`;
}

/**
 * Verifies `bundleText` for the bytes of `file`: the trust root's CA issued the certificate, the
 * transparency log holds the entry, the signature is of these bytes, and the certificate names
 * GitHub's OIDC issuer and Docker's build workflow. Throws an Error whose message says what did
 * not match.
 */
export async function verifyBundle(
  file: string,
  bundleText: string,
  opts: {
    root: RootSource;
    cacheDir: string;
    info: (m: string) => void;
    /** who must have signed (default: Docker's build workflow, by GitHub's OIDC issuer) */
    identity?: { subject: RegExp; issuer: string };
  },
): Promise<Verified> {
  const identity = opts.identity ?? { subject: BUILDX_WORKFLOW, issuer: GITHUB_ISSUER };
  const root = await trustedRoot(opts.root, opts.cacheDir, opts.info);
  let bundle;
  try {
    bundle = bundleFromJSON(JSON.parse(bundleText));
    assertBundle(bundle);
  } catch (err) {
    throw new Error(`the bundle is not a Sigstore bundle (${(err as Error).message})`, { cause: err });
  }
  // A trust root without a CT log (a private deployment) asks for no SCT.
  const verifier = new Verifier(toTrustMaterial(root), { ctlogThreshold: root.ctlogs.length > 0 ? 1 : 0 });
  const bytes = await readFile(file);
  if (bundle.content.$case === 'dsseEnvelope' && !covers(bundle.content.dsseEnvelope.payload, bytes))
    throw new Error(refusalOf('SIGNATURE_ERROR', 'the statement names another subject'));
  try {
    const signer = verifier.verify(toSignedEntity(bundle, bytes), {
      subjectAlternativeName: identity.subject,
      extensions: { issuer: identity.issuer },
    });
    const entry = bundle.verificationMaterial.tlogEntries[0]!;
    return {
      subject: signer.identity?.subjectAlternativeName ?? '',
      issuer: signer.identity?.extensions?.issuer ?? '',
      logIndex: String(entry.logIndex),
    };
  } catch (err) {
    const e = err as { code?: string; message: string; cause?: { message?: string } };
    const detail = e.cause?.message ? `${e.message}: ${e.cause.message}` : e.message;
    throw new Error(refusalOf(e.code, detail), { cause: err });
  }
}

/** Whether a DSSE envelope's in-toto statement has these bytes as its subject. */
function covers(payload: Buffer, bytes: Buffer): boolean {
  const digest = (alg: string): string => createHash(alg).update(bytes).digest('hex');
  return statementCovers(payload.toString('utf8'), { sha256: digest('sha256'), sha512: digest('sha512') });
}
