// The runner's tool cache (RUNNER_TOOL_CACHE), through @actions/tool-cache: one folder per
// version and architecture holding `buildx`. Keys: the release's semver, `0.0.0-git.<commit>`,
// `0.0.0-sha256.<hash>` for URL installs.

import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
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

/** Puts a verified binary in the cache, with its sha256 beside it, and returns its cached path. */
export async function cacheBinary(
  file: string,
  key: string,
  arch: string,
  os: string,
  sha256: string,
): Promise<string> {
  if (!process.env.RUNNER_TOOL_CACHE) return file;
  const dir = await tc.cacheFile(file, binaryName(os), TOOL, key, arch);
  await writeFile(join(dir, `${binaryName(os)}.sha256`), `${sha256}\n`);
  return join(dir, binaryName(os));
}

/** The sha256 recorded when a binary was cached, if any. */
export async function cachedSha256(cachedFile: string): Promise<string | undefined> {
  const text = await readFile(
    join(dirname(cachedFile), `${cachedFile.split(/[\\/]/).pop()}.sha256`),
    'utf8',
  ).catch(() => '');
  return /^[0-9a-f]{64}$/.test(text.trim()) ? text.trim() : undefined;
}

/** Removes a cache entry (a cached binary that no longer runs). */
export async function evict(cachedFile: string): Promise<void> {
  const dir = join(cachedFile, '..');
  await rm(`${dir}.complete`, { force: true });
  await rm(dir, { recursive: true, force: true });
}
