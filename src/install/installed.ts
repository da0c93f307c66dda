// What every way of installing shares: the options, the result (one builder for it), the error,
// and the checks of a binary (`version` runs) and of a tool-cache hit.

import type { Buildx, BuildxSource, BuildxSpec } from '../buildx/spec.js';
import type { Platform } from '../buildx/release.js';
import { runProcess } from '../exec/process.js';
import { evict, findCached, recordedVersion, recordVersion } from './cache.js';
import { parseVersionOutput } from './locate.js';

export interface InstallOptions {
  spec: BuildxSpec;
  /** lower-case hex sha256 the binary must have */
  checksum?: string;
  mirror: string;
  apiUrl: string;
  token?: string;
  /** the GitHub host a token belongs to (git URLs of this host get it) */
  githubHost: string;
  workspace: string;
  tempDir: string;
  platform: Platform;
  signal?: AbortSignal;
  /** stall and attempt bounds of downloads, for tests */
  download?: { stallMs?: number; timeoutMs?: number; attempts?: number; retryDelayMs?: number };
  /** which releases a range or latest may pick (the policy's versions, deny and advisories) */
  allowed?: (tag: string) => boolean;
  /** when `allowed` leaves none: this looser filter, with a warning (advisories: warn) */
  allowedFallback?: (tag: string) => boolean;
  /** a release without checksums.txt, or a URL without buildx-checksum, is refused */
  requireChecksum?: boolean;
  info(message: string): void;
  warning(message: string): void;
}

export interface Installed extends Buildx {
  source: BuildxSource;
  /** the version the binary reports */
  version: string;
  /** the release tag or git commit that was asked for, when one was resolved */
  resolved?: string;
  /** sha256 of the binary, when it was downloaded or checked */
  checksum?: string;
  /** true when it came from the tool cache */
  cached: boolean;
  /** how it was obtained, for the log and the summary */
  how: string;
  /** how long the install took */
  durationMs?: number;
}

export class InstallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InstallError';
  }
}

/** The Installed record of a binary: at a Buildx the locator found, or at a file (run standalone). */
export function installedAt(
  at: Buildx | string,
  source: BuildxSource,
  version: string,
  how: string,
  more: { resolved?: string; checksum?: string; cached?: boolean } = {},
): Installed {
  const b: Buildx = typeof at === 'string' ? { file: at, prefix: [], source: 'path', path: at } : at;
  return { ...b, source, version, ...more, cached: more.cached ?? false, how };
}

/** Runs `<binary> version` and returns what it reports, or undefined when it does not run. */
export async function reportedVersion(
  file: string,
  prefix: string[] = [],
  signal?: AbortSignal,
): Promise<string | undefined> {
  const r = await runProcess({
    file,
    args: [...prefix, 'version'],
    timeoutMs: 30_000,
    captureStdoutBytes: 64 * 1024,
    signal,
  }).catch(() => undefined);
  if (!r || r.exitCode !== 0) return undefined;
  return parseVersionOutput(r.stdout)?.version;
}

/** The version a freshly obtained binary reports; an InstallError when it does not run. */
export async function checkRuns(file: string, opts: InstallOptions): Promise<string> {
  const version = await reportedVersion(file, [], opts.signal);
  if (!version) throw new InstallError(`the binary at ${file} does not run "version"`);
  return version;
}

/**
 * A cache hit that runs, or undefined (an entry that no longer runs is evicted). The version the
 * cache recorded for this very file is taken as is; else `version` runs, and its answer is recorded.
 */
export async function fromCache(
  key: string,
  opts: InstallOptions,
): Promise<{ file: string; version: string } | undefined> {
  const file = findCached(key, opts.platform.arch, opts.platform.os);
  if (!file) return undefined;
  const recorded = await recordedVersion(file);
  if (recorded) return { file, version: recorded };
  const version = await reportedVersion(file, [], opts.signal);
  if (version) {
    await recordVersion(file, version);
    return { file, version };
  }
  opts.warning(`The cached buildx at ${file} no longer runs; removing it and installing again`);
  await evict(file);
  return undefined;
}
