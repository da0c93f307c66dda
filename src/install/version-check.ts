// The checks of a binary: what `buildx version` prints, parsed; whether a binary runs it; and a
// tool-cache hit that still runs (its recorded version taken as is, or asked and recorded).

import { runProcess } from '../exec/process.js';
import { cachedSha256, evict, findCached, recordedVersion, recordVersion } from './cache.js';
import { fileSha } from './download.js';
import { InstallError, type InstallOptions } from './types.js';

export interface BuildxVersion {
  /** the version as the binary reports it, e.g. `v0.13.1` or `0.13.1+ds1` */
  version: string;
  /** the whole first line of `buildx version` */
  raw: string;
}

/** Parses `github.com/docker/buildx v0.13.1 abcdef` (and Debian's `... 0.13.1+ds1 0.13.1+ds1-3`). */
export function parseVersionOutput(text: string): BuildxVersion | undefined {
  const line = text
    .split(/\r?\n/)
    .find((l) => l.trim() !== '')
    ?.trim();
  if (!line) return undefined;
  // A release reports its semver; a build from a branch reports the ref it was built from.
  const m = line.match(/^\S*buildx\S*\s+(\S+)/);
  if (!m) return undefined;
  return { version: m[1] as string, raw: line };
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
 * A cache hit that runs, or undefined (an entry that no longer runs, or whose content changed since
 * it was cached, is evicted). The version the cache recorded for this very file is taken as is;
 * else the file's sha256 must still be the one recorded when it was cached (a cache restored by
 * another tool has new stats and the same bytes), `version` runs, and its answer is recorded.
 */
export async function fromCache(
  key: string,
  opts: InstallOptions,
): Promise<{ file: string; version: string } | undefined> {
  const file = findCached(key, opts.platform.arch, opts.platform.os);
  if (!file) return undefined;
  const recorded = await recordedVersion(file);
  if (recorded) return { file, version: recorded };
  const sha256 = await cachedSha256(file);
  if (sha256 && (await fileSha(file)) !== sha256) {
    opts.warning(
      `The cached buildx at ${file} changed since it was cached (its sha256 is not the one recorded); removing it and installing again`,
    );
    await evict(file);
    return undefined;
  }
  const version = await reportedVersion(file, [], opts.signal);
  if (version) {
    await recordVersion(file, version);
    return { file, version };
  }
  opts.warning(`The cached buildx at ${file} no longer runs; removing it and installing again`);
  await evict(file);
  return undefined;
}
