// Downloading a binary and verifying it: the bounds of a download, the sha256 a release publishes
// in its checksums.txt, and a temp file checked against the expected sha256 before it is used.

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { parseChecksums } from '../buildx/release-assets.js';
import { downloadFile, fetchText, type FetchOptions, HttpError, safeUrl } from './http.js';
import { InstallError, type InstallOptions } from './types.js';

export function downloadOpts(opts: InstallOptions): FetchOptions {
  return {
    timeoutMs: opts.download?.timeoutMs ?? 10 * 60_000,
    stallMs: opts.download?.stallMs ?? 30_000,
    attempts: opts.download?.attempts ?? 3,
    retryDelayMs: opts.download?.retryDelayMs,
    signal: opts.signal,
    onRetry: (m: string) => opts.info(m),
  };
}

/**
 * The sha256 `checksums.txt` of a release publishes for `asset`; undefined (with a warning) when the
 * release has no checksums.txt and the policy does not require one.
 */
export async function publishedChecksum(
  tag: string,
  base: string,
  asset: string,
  opts: InstallOptions,
): Promise<string | undefined> {
  try {
    const { text } = await fetchText(`${base}/checksums.txt`, { ...downloadOpts(opts), timeoutMs: 60_000 });
    const expected = parseChecksums(text).get(asset);
    if (!expected)
      throw new InstallError(
        `${safeUrl(`${base}/checksums.txt`)} has no line for ${asset}: refusing to install an unverified binary`,
      );
    return expected;
  } catch (err) {
    if (!(err instanceof HttpError && err.status === 404)) throw err;
    if (opts.requireChecksum) {
      throw new InstallError(
        `buildx ${tag} publishes no checksums.txt at ${safeUrl(base)}, and the policy requires checksum verification (checksum: required)`,
      );
    }
    opts.warning(
      `buildx ${tag} publishes no checksums.txt at ${safeUrl(base)}: installing it without checksum verification`,
    );
    return undefined;
  }
}

export async function fileSha(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Downloads to a temp file and checks its sha256; on a mismatch nothing is left behind. */
export async function downloadVerified(
  url: string,
  expected: string | undefined,
  opts: InstallOptions,
): Promise<{ path: string; sha256: string }> {
  await mkdir(opts.tempDir, { recursive: true });
  const path = join(opts.tempDir, `buildx-download-${randomBytes(6).toString('hex')}`);
  const { sha256 } = await downloadFile(url, path, downloadOpts(opts));
  if (expected && sha256 !== expected) {
    await rm(path, { force: true });
    throw new InstallError(
      `sha256 of ${safeUrl(url)} is ${sha256}, expected ${expected}: refusing to install it`,
    );
  }
  await chmod(path, 0o755);
  return { path, sha256 };
}
