// Turns a `buildx-version` spec into a verified buildx binary on disk, cached in the tool cache.
//
//   runner   the runner's `docker buildx`                      (no install)
//   path     that binary                                        (no install)
//   release  exact tag, range or latest -> download + checksums.txt + `version` check + cache
//   url      download (+ buildx-checksum) + `version` check + cache by content hash
//   git      resolve the ref to a commit -> cache by commit, else build (Go, or Docker) + cache

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

import type { Buildx } from '../buildx/spec.js';
import { locateBuildx, parseVersionOutput } from './locate.js';
import { runProcess } from '../exec/process.js';
import knownReleases from './known-releases.json' with { type: 'json' };
import { cacheBinary, cachedSha256, evict, findCached, gitKey, urlKey } from './cache.js';
import { buildAtCommit, resolveCommit } from './git.js';
import { downloadFile, fetchText, HttpError, safeUrl } from './http.js';
import {
  assetName,
  type Platform,
  parseChecksums,
  pickRelease,
  type Release,
  versionOf,
} from '../buildx/release.js';
import { type BuildxSource, type BuildxSpec, sourceOf } from '../buildx/spec.js';

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

/** The release list: the GitHub API, or the list shipped in the action when that cannot be had. */
export async function listReleases(
  opts: InstallOptions,
): Promise<{ releases: Release[]; from: 'api' | 'known' }> {
  const headers: Record<string, string> = {
    Accept: 'application/vnd.github+json',
    'X-GitHub-Api-Version': '2022-11-28',
  };
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  const releases: Release[] = [];
  let url: string | undefined = `${opts.apiUrl.replace(/\/$/, '')}/repos/docker/buildx/releases?per_page=100`;
  try {
    for (let page = 0; url && page < 20; page++) {
      const { text, headers: h } = await fetchText(url, {
        headers,
        timeoutMs: 30_000,
        stallMs: 15_000,
        attempts: opts.download?.attempts ?? 3,
        retryDelayMs: opts.download?.retryDelayMs,
        signal: opts.signal,
        onRetry: (m) => opts.info(m),
      });
      const items = JSON.parse(text) as { tag_name?: string; draft?: boolean; prerelease?: boolean }[];
      for (const r of items)
        if (r.tag_name) releases.push({ tag: r.tag_name, draft: !!r.draft, prerelease: !!r.prerelease });
      url = h.get('link')?.match(/<([^>]+)>;\s*rel="next"/)?.[1];
    }
    return { releases, from: 'api' };
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    const known = knownReleases as { generated: string; releases: { tag: string; prerelease: boolean }[] };
    opts.warning(
      `Could not list buildx releases from ${safeUrl(opts.apiUrl)} (${(err as Error).message}); ` +
        `using the list of known releases shipped in this action (generated ${known.generated})`,
    );
    return { releases: known.releases.map((r) => ({ tag: r.tag, prerelease: r.prerelease })), from: 'known' };
  }
}

async function checkRuns(file: string, opts: InstallOptions): Promise<string> {
  const version = await reportedVersion(file, [], opts.signal);
  if (!version) throw new InstallError(`the binary at ${file} does not run "version"`);
  return version;
}

/** A cache hit that still runs, or undefined (an entry that no longer runs is evicted). */
async function fromCache(
  key: string,
  opts: InstallOptions,
): Promise<{ file: string; version: string } | undefined> {
  const file = findCached(key, opts.platform.arch, opts.platform.os);
  if (!file) return undefined;
  const version = await reportedVersion(file, [], opts.signal);
  if (version) return { file, version };
  opts.warning(`The cached buildx at ${file} no longer runs; removing it and installing again`);
  await evict(file);
  return undefined;
}

function downloadOpts(opts: InstallOptions) {
  return {
    timeoutMs: opts.download?.timeoutMs ?? 10 * 60_000,
    stallMs: opts.download?.stallMs ?? 30_000,
    attempts: opts.download?.attempts ?? 3,
    retryDelayMs: opts.download?.retryDelayMs,
    signal: opts.signal,
    onRetry: (m: string) => opts.info(m),
  };
}

async function installRelease(tag: string, opts: InstallOptions): Promise<Installed> {
  const version = versionOf(tag);
  if (!version) throw new InstallError(`"${tag}" is not a release version`);
  const hit = await fromCache(version, opts);
  const hitSha = hit ? ((await cachedSha256(hit.file)) ?? (await fileSha(hit.file))) : undefined;
  if (hit && (!opts.checksum || hitSha === opts.checksum)) {
    return {
      ...located(hit.file),
      source: 'release',
      version: hit.version,
      resolved: tag,
      cached: true,
      how: `tool cache (${tag})`,
      checksum: hitSha,
    };
  }
  const asset = assetName(tag, opts.platform);
  const base = `${opts.mirror.replace(/\/$/, '')}/${tag}`;
  let expected: string | undefined;
  try {
    const { text } = await fetchText(`${base}/checksums.txt`, { ...downloadOpts(opts), timeoutMs: 60_000 });
    expected = parseChecksums(text).get(asset);
    if (!expected)
      throw new InstallError(
        `${safeUrl(`${base}/checksums.txt`)} has no line for ${asset}: refusing to install an unverified binary`,
      );
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
  }
  if (opts.checksum && expected && opts.checksum !== expected) {
    throw new InstallError(
      `buildx-checksum ${opts.checksum} is not the published sha256 of ${asset} (${expected})`,
    );
  }
  const file = await downloadVerified(`${base}/${asset}`, opts.checksum ?? expected, opts);
  try {
    const reported = await checkRuns(file.path, opts);
    if (versionOf(reported) !== version) {
      throw new InstallError(
        `the binary served as ${asset} reports version ${reported}, not ${tag}: the mirror ${safeUrl(opts.mirror)} serves the wrong file`,
      );
    }
    const cachedPath = await cacheBinary(
      file.path,
      version,
      opts.platform.arch,
      opts.platform.os,
      file.sha256,
    );
    return {
      ...located(cachedPath),
      source: 'release',
      version: reported,
      resolved: tag,
      checksum: file.sha256,
      cached: false,
      how: `downloaded ${asset} from ${safeUrl(base)}${expected ? ', sha256 verified' : ''}`,
    };
  } finally {
    await rm(file.path, { force: true });
  }
}

async function fileSha(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Downloads to a temp file and checks its sha256; on a mismatch nothing is left behind. */
async function downloadVerified(
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

function located(file: string): Buildx {
  return { file, prefix: [], source: 'path', path: file };
}

async function installUrl(url: string, opts: InstallOptions): Promise<Installed> {
  if (opts.checksum) {
    const hit = await fromCache(urlKey(opts.checksum), opts);
    if (hit)
      return {
        ...located(hit.file),
        source: 'url',
        version: hit.version,
        checksum: opts.checksum,
        cached: true,
        how: 'tool cache (by checksum)',
      };
  } else {
    opts.warning(
      `buildx-version is a URL without buildx-checksum: ${safeUrl(url)} is installed unverified; set buildx-checksum to pin it`,
    );
  }
  const file = await downloadVerified(url, opts.checksum, opts);
  try {
    const version = await checkRuns(file.path, opts);
    const cachedPath = await cacheBinary(
      file.path,
      urlKey(file.sha256),
      opts.platform.arch,
      opts.platform.os,
      file.sha256,
    );
    return {
      ...located(cachedPath),
      source: 'url',
      version,
      checksum: file.sha256,
      cached: false,
      how: `downloaded ${safeUrl(url)}${opts.checksum ? ', sha256 verified' : ''}`,
    };
  } finally {
    await rm(file.path, { force: true });
  }
}

async function installGit(
  spec: Extract<BuildxSpec, { kind: 'git' }>,
  opts: InstallOptions,
): Promise<Installed> {
  const gitOpts = { token: opts.token, tokenHost: opts.githubHost, signal: opts.signal, log: opts.info };
  const work = join(opts.tempDir, `buildx-git-${randomBytes(6).toString('hex')}`);
  try {
    const commit = await resolveCommit(spec.url, spec.ref, join(work, 'resolve'), gitOpts);
    opts.info(`${spec.url}#${spec.ref} is commit ${commit}`);
    const hit = await fromCache(gitKey(commit), opts);
    if (hit)
      return {
        ...located(hit.file),
        source: 'git',
        version: hit.version,
        resolved: commit,
        checksum: await cachedSha256(hit.file),
        cached: true,
        how: `tool cache (commit ${commit.slice(0, 12)})`,
      };
    const out = join(work, 'buildx');
    const how = await buildAtCommit(spec.url, spec.ref, commit, work, out, gitOpts);
    const version = await checkRuns(out, opts);
    const sha256 = await fileSha(out);
    const cachedPath = await cacheBinary(out, gitKey(commit), opts.platform.arch, opts.platform.os, sha256);
    return {
      ...located(cachedPath),
      source: 'git',
      version,
      resolved: commit,
      checksum: sha256,
      cached: false,
      how: `built ${spec.ref} (${commit.slice(0, 12)}) with ${how === 'go' ? 'go build' : 'docker buildx build'}`,
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export async function installBuildx(opts: InstallOptions): Promise<Installed> {
  const started = Date.now();
  const installed = await install(opts);
  return { ...installed, durationMs: Date.now() - started };
}

async function install(opts: InstallOptions): Promise<Installed> {
  const spec = opts.spec;
  switch (spec.kind) {
    case 'runner':
    case 'path': {
      const b = locateBuildx(spec.kind === 'runner' ? '' : spec.path, opts.workspace);
      const version = await reportedVersion(b.file, b.prefix, opts.signal);
      if (!version)
        throw new InstallError(
          `"${[b.file, ...b.prefix].join(' ')} version" did not report a buildx version`,
        );
      // Hashing a 60+ MB binary costs ~100 ms: only when buildx-checksum asks for it.
      const checksum = spec.kind === 'path' && opts.checksum ? await fileSha(b.file) : undefined;
      if (opts.checksum && checksum !== opts.checksum) {
        throw new InstallError(
          `sha256 of ${b.file} is ${checksum}, expected buildx-checksum ${opts.checksum}`,
        );
      }
      return {
        ...b,
        source: sourceOf(spec),
        version,
        checksum,
        cached: false,
        how: spec.kind === 'runner' ? "the runner's docker buildx" : 'a binary on disk',
      };
    }
    case 'release':
      return installRelease(spec.tag, opts);
    case 'range':
    case 'latest': {
      const { releases, from } = await listReleases(opts);
      let tag = pickRelease(releases, spec, opts.allowed);
      if (!tag && opts.allowedFallback) {
        tag = pickRelease(releases, spec, opts.allowedFallback);
        if (tag)
          opts.warning(
            `Every release that buildx-version allows is known to be bad; using ${tag} (see the advisory below)`,
          );
      }
      if (!tag) {
        const newest = pickRelease(releases, { kind: 'latest' });
        throw new InstallError(
          `no buildx release satisfies ${spec.kind === 'range' ? `"${spec.range}"` : 'latest'} (${releases.length} releases listed from ${from === 'api' ? 'the GitHub API' : 'the known list'}; newest ${newest ?? 'none'})`,
        );
      }
      opts.info(`buildx-version ${spec.kind === 'range' ? `"${spec.range}"` : 'latest'} resolves to ${tag}`);
      return installRelease(tag, opts);
    }
    case 'url':
      return installUrl(spec.url, opts);
    case 'git':
      return installGit(spec, opts);
  }
}
