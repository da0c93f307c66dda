// The runner's tool cache (RUNNER_TOOL_CACHE), through @actions/tool-cache: one folder per
// version and architecture holding `buildx`. Keys: the release's semver, `0.0.0-git.<commit>`,
// `0.0.0-sha256.<hash>` for URL installs. Beside the binary: its sha256 (`buildx.sha256`), and the
// version it reported with the file's stat when it did (`buildx.version.json`), so that a hit of
// that very file need not run `version` again, and the Sigstore signature it was verified with
// (`buildx.signature.json`, with the file's sha256, stat and trust root).

import { existsSync, type Stats } from 'node:fs';
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import * as tc from '@actions/tool-cache';

export const TOOL = 'buildx';

export function binaryName(os: string): string {
  return os === 'windows' ? 'buildx.exe' : 'buildx';
}

export function gitKey(commit: string): string {
  return `0.0.0-git.${commit}`;
}

export function urlKey(sha256: string): string {
  return `0.0.0-sha256.${sha256.slice(0, 32)}`;
}

/** The cached binary for a key, or undefined. Makes no network request. */
export function findCached(key: string, arch: string, os: string): string | undefined {
  if (!process.env.RUNNER_TOOL_CACHE) return undefined;
  const dir = tc.find(TOOL, key, arch);
  if (!dir) return undefined;
  const file = join(dir, binaryName(os));
  return existsSync(file) ? file : undefined;
}

/**
 * Puts a verified binary in the cache, with its sha256 and the version it reported beside it, and
 * returns its cached path.
 */
export async function cacheBinary(
  file: string,
  key: string,
  platform: { arch: string; os: string },
  checked: { sha256: string; version: string },
): Promise<string> {
  if (!process.env.RUNNER_TOOL_CACHE) return file;
  const name = binaryName(platform.os);
  const dir = await tc.cacheFile(file, name, TOOL, key, platform.arch);
  await writeFile(join(dir, `${name}.sha256`), `${checked.sha256}\n`);
  await recordVersion(join(dir, name), checked.version);
  return join(dir, name);
}

/** The sha256 recorded when a binary was cached, if any. */
export async function cachedSha256(cachedFile: string): Promise<string | undefined> {
  const text = await readFile(
    join(dirname(cachedFile), `${cachedFile.split(/[\\/]/).pop()}.sha256`),
    'utf8',
  ).catch(() => '');
  return /^[0-9a-f]{64}$/.test(text.trim()) ? text.trim() : undefined;
}

/**
 * What identifies a file as the one that ran: size, inode, mode, modification and change times.
 * Rewriting it, or putting its old mtime back afterwards, changes the ctime at least. Pure.
 */
export function statKey(st: Pick<Stats, 'size' | 'ino' | 'mode' | 'mtimeMs' | 'ctimeMs'>): string {
  return [st.size, st.ino, st.mode, st.mtimeMs, st.ctimeMs].join(':');
}

const versionRecord = (cachedFile: string) => `${cachedFile}.version.json`;

/** Records the version a cached binary reported, against the file as it is now. Best effort. */
export async function recordVersion(cachedFile: string, version: string): Promise<void> {
  const record = versionRecord(cachedFile);
  const tmp = `${record}.${process.pid}`;
  try {
    const key = statKey(await stat(cachedFile));
    await writeFile(tmp, `${JSON.stringify({ version, stat: key })}\n`);
    await rename(tmp, record);
  } catch {
    await rm(tmp, { force: true }); // a read-only cache: `version` runs again next time
  }
}

/** The version recorded for a cached binary, if the file is still the one that reported it. */
export async function recordedVersion(cachedFile: string): Promise<string | undefined> {
  try {
    const [text, st] = await Promise.all([readFile(versionRecord(cachedFile), 'utf8'), stat(cachedFile)]);
    const r = JSON.parse(text) as { version?: unknown; stat?: unknown };
    return typeof r.version === 'string' && r.version !== '' && r.stat === statKey(st)
      ? r.version
      : undefined;
  } catch {
    return undefined;
  }
}

/** Removes a cache entry (a cached binary that no longer runs). */
export async function evict(cachedFile: string): Promise<void> {
  const dir = join(cachedFile, '..');
  await rm(`${dir}.complete`, { force: true });
  await rm(dir, { recursive: true, force: true });
}

const signatureRecord = (cachedFile: string) => `${cachedFile}.signature.json`;

/**
 * Records the verified signature of a cached binary: for its sha256, its stat (as the version is
 * recorded) and the trust root it was verified against. Best effort.
 */
export async function recordSignature(
  cachedFile: string,
  sha256: string,
  root: string,
  signature: unknown,
): Promise<void> {
  try {
    const st = statKey(await stat(cachedFile));
    await writeFile(
      signatureRecord(cachedFile),
      `${JSON.stringify({ sha256, stat: st, root, signature })}\n`,
    );
  } catch {
    // without a record the next hit verifies again
  }
}

/**
 * The signature recorded for a cached binary, if the file is still the one verified (the same
 * sha256 and stat) and the trust root is the same; else undefined, and it is verified again.
 */
export async function recordedSignature<T>(
  cachedFile: string,
  sha256: string,
  root: string,
): Promise<T | undefined> {
  try {
    const [text, st] = await Promise.all([readFile(signatureRecord(cachedFile), 'utf8'), stat(cachedFile)]);
    const r = JSON.parse(text) as { sha256?: unknown; stat?: unknown; root?: unknown; signature?: T };
    return r.sha256 === sha256 && r.stat === statKey(st) && r.root === root ? r.signature : undefined;
  } catch {
    return undefined;
  }
}
