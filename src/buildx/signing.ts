// What a buildx release's Sigstore signature must prove, as pure facts: which releases have a
// bundle (v0.31.0 on, Linux and the BSDs), the identity that signs them (Docker's build workflow,
// by GitHub's OIDC issuer), what a verified signature records, and what each refusal of the
// verifier means in words.

import semver from 'semver';

/** The first release whose binaries have a `.sigstore.json` beside them. */
export const FIRST_SIGNED = '0.31.0';

/** The OIDC issuer of GitHub Actions' tokens: the issuer Docker's build workflow signs with. */
export const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';

/** Docker's build workflow, at any ref: the subject alternative name buildx releases are signed with. */
export const BUILDX_WORKFLOW =
  /^https:\/\/github\.com\/docker\/(github-builder|github-builder-experimental)\/\.github\/workflows\/bake\.yml@(refs\/[^\s]+)$/;

export type SignatureMode = 'required' | 'optional' | 'off';

/** Who signed a binary and where the signature is logged. */
export interface SignatureInfo {
  /** the certificate's subject alternative name: `https://github.com/<owner>/<repo>/.github/workflows/<file>@<ref>` */
  subject: string;
  /** the workflow, `docker/github-builder/.github/workflows/bake.yml` */
  workflow: string;
  /** the ref it ran at, `refs/tags/v1.17.0` */
  ref: string;
  issuer: string;
  /** the transparency-log entry's index */
  logIndex: string;
  /** where to look the entry up (search.sigstore.dev for the public-good log) */
  logUrl?: string;
  /** the trust root it was verified against: `public-good` or the file given */
  trustRoot: string;
}

/** Whether a release of this version has Sigstore bundles for `os` (darwin never; Windows not from 0.36.0). */
export function hasBundle(version: string, os: string): boolean {
  const v = semver.coerce(version, { includePrerelease: true });
  if (!v || semver.lt(v, FIRST_SIGNED)) return false;
  if (os === 'darwin') return false;
  if (os === 'windows') return semver.lt(v, '0.36.0');
  return true;
}

/** Why a release of this version has no bundle for `os`, in words (see hasBundle). Pure. */
export function unsignedRelease(version: string, os: string): string {
  const v = semver.coerce(version, { includePrerelease: true });
  if (!v || semver.lt(v, FIRST_SIGNED)) return `releases are signed from v${FIRST_SIGNED} on`;
  if (os === 'darwin') return 'darwin binaries of buildx releases have no Sigstore bundle';
  if (os === 'windows') return 'windows binaries of buildx releases have no Sigstore bundle from v0.36.0 on';
  return 'no Sigstore bundle is published for this binary';
}

/** The workflow and ref a subject alternative name names (`owner/repo/.github/workflows/f.yml`, `refs/...`). */
export function workflowOf(subject: string): { workflow: string; ref: string } {
  const m = /^https:\/\/github\.com\/(.+?)@(.+)$/.exec(subject);
  return m ? { workflow: m[1]!, ref: m[2]! } : { workflow: subject, ref: '' };
}

/** A link to the public-good transparency log's entry. */
export function logSearchUrl(logIndex: string): string {
  return `https://search.sigstore.dev/?logIndex=${encodeURIComponent(logIndex)}`;
}

/** What a verifier's refusal (its error code and message) means, for the refusal's one line. */
export function refusalOf(code: string | undefined, message: string): string {
  if (code === 'SIGNATURE_ERROR' || /digest mismatch|signature mismatch/.test(message))
    return 'the signature is not of this file (the binary changed after signing, or the bundle is of another file)';
  if (code === 'UNTRUSTED_SIGNER_ERROR' && /issuer/.test(message))
    return `the certificate was not issued for ${GITHUB_ISSUER}'s tokens (${message})`;
  if (code === 'UNTRUSTED_SIGNER_ERROR')
    return `not signed by Docker's build workflow (docker/github-builder's bake.yml): ${message}`;
  if (code === 'CERTIFICATE_ERROR') return `the certificate is not from the trust root's CA (${message})`;
  if (code?.startsWith('TLOG') || code === 'TIMESTAMP_ERROR')
    return `no valid transparency-log entry (${message})`;
  return `the bundle does not verify (${code ? `${code}: ` : ''}${message})`;
}

/** What a bundle lacks before any cryptography: a transparency-log entry, a certificate. Pure. */
export function bundleShapeProblem(bundle: unknown): string | undefined {
  const b = bundle as {
    verificationMaterial?: { tlogEntries?: unknown[]; certificate?: unknown; x509CertificateChain?: unknown };
  };
  const vm = b?.verificationMaterial;
  if (!vm) return 'the bundle has no verification material';
  if (!vm.certificate && !vm.x509CertificateChain)
    return 'the bundle has no certificate (a keyless signature has one)';
  if (!vm.tlogEntries || vm.tlogEntries.length === 0)
    return 'no transparency-log entry: the signature was never logged';
  return undefined;
}

/**
 * Whether an in-toto statement (a DSSE bundle's payload) names a file of these digests as its
 * subject: the signature then covers the file. Pure.
 */
export function statementCovers(payload: string, digests: { sha256: string; sha512: string }): boolean {
  let st: { subject?: { digest?: Record<string, string> }[] };
  try {
    st = JSON.parse(payload) as typeof st;
  } catch {
    return false;
  }
  return (st.subject ?? []).some(
    (s) => s.digest?.sha256 === digests.sha256 || s.digest?.sha512 === digests.sha512,
  );
}
