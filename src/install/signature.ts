// The Sigstore signature of a release binary, checked after its checksum and before it runs or
// is cached: `<binary URL>.sigstore.json` fetched and verified (./sigstore.ts, loaded only then).
// A missing bundle is a warning (optional) or a refusal (required); a bundle that does not verify
// is always a refusal.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

import { HttpError, safeUrl } from './http.js';
import { fetchText } from './http.js';
import { downloadOpts } from './download.js';
import {
  hasBundle,
  logSearchUrl,
  type SignatureInfo,
  type SignatureMode,
  workflowOf,
  bundleShapeProblem,
  unsignedRelease,
} from '../buildx/signing.js';
import { InstallError, type InstallOptions } from './types.js';

/** How signatures are checked: the policy's `buildx.signature`, the trust root given. */
export interface SignatureOptions {
  mode: SignatureMode;
  /** a trusted_root.json (sigstore-trusted-root): a private Sigstore deployment */
  trustedRoot?: string;
  /** the policy's `mode: warn`: what `required` refuses for lack of a bundle is a warning */
  warnOnly?: boolean;
}

/** Which trust root signatures are verified against: `public-good`, or the sha256 of the file given. */
export async function trustRootId(opts: InstallOptions): Promise<string> {
  const file = opts.signature?.trustedRoot;
  if (!file) return 'public-good';
  return `sha256:${createHash('sha256')
    .update(await readFile(file))
    .digest('hex')}`;
}

/**
 * Checks the signature of the downloaded binary `file` of release `tag`: what was proven, or
 * undefined when nothing is to check (mode off, a release or platform without bundles, a missing
 * bundle under optional: warned). Throws InstallError when the binary is refused.
 */
export async function checkSignature(
  file: string,
  binaryUrl: string,
  tag: string,
  opts: InstallOptions,
): Promise<SignatureInfo | undefined> {
  const sig = opts.signature ?? { mode: 'optional' };
  if (sig.mode === 'off') return undefined;
  if (!hasBundle(tag, opts.platform.os)) return noBundleExpected(tag, opts, sig);
  const bundleUrl = `${binaryUrl}.sigstore.json`;
  let text: string;
  try {
    ({ text } = await fetchText(bundleUrl, { ...downloadOpts(opts), timeoutMs: 60_000 }));
  } catch (err) {
    if (!(err instanceof HttpError && err.status === 404)) throw err;
    const missing = `${tag} has no Sigstore bundle at ${safeUrl(bundleUrl)}`;
    if (sig.mode === 'required') return unproven(missing, sig, opts);
    opts.warning(`${missing}: its signature is not checked (the sha256 is)`);
    return undefined;
  }
  return verifyText(file, text, tag, sig, opts);
}

/** A release or platform that is never signed: refused under required, else said once. */
function noBundleExpected(tag: string, opts: InstallOptions, sig: SignatureOptions): undefined {
  const why = `buildx ${tag}: ${unsignedRelease(tag, opts.platform.os)}`;
  if (sig.mode === 'required') return unproven(why, sig, opts);
  opts.info(`${why}; its sha256 is checked`);
  return undefined;
}

/** What `required` cannot have: refused; a warning under the policy's `mode: warn`. */
function unproven(what: string, sig: SignatureOptions, opts: InstallOptions): undefined {
  if (!sig.warnOnly) throw new InstallError(`${what}: refused (signature: required in the policy)`);
  opts.warning(`${what}: its signature is not checked (signature: required in the policy, mode: warn)`);
  return undefined;
}

async function verifyText(
  file: string,
  text: string,
  tag: string,
  sig: SignatureOptions,
  opts: InstallOptions,
): Promise<SignatureInfo> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new InstallError(`buildx ${tag} refused: its .sigstore.json is not JSON`);
  }
  const shape = bundleShapeProblem(parsed);
  if (shape) throw new InstallError(`buildx ${tag} refused: ${shape}`);
  const { verifyBundle } = await import('./sigstore.js');
  let v;
  try {
    v = await verifyBundle(file, text, {
      root: sig.trustedRoot ? { file: sig.trustedRoot } : 'public-good',
      cacheDir: opts.tempDir,
      info: opts.info,
    });
  } catch (err) {
    throw new InstallError(
      `buildx ${tag} refused, its Sigstore signature does not verify: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const { workflow, ref } = workflowOf(v.subject);
  const trustRoot = sig.trustedRoot ? 'sigstore-trusted-root' : 'public-good';
  opts.info(
    `buildx ${tag}: Sigstore signature verified (${workflow}@${ref}, log index ${v.logIndex}, ${trustRoot} trust root)`,
  );
  return {
    ...v,
    workflow,
    ref,
    trustRoot,
    ...(sig.trustedRoot ? {} : { logUrl: logSearchUrl(v.logIndex) }),
  };
}
