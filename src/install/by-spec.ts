// Turns a `buildx-version` spec into a verified buildx binary on disk, cached in the tool cache.
//
//   runner   the runner's `docker buildx`                      (no install)
//   path     that binary                                        (no install)
//   release  exact tag, range or latest -> download + checksums.txt + `version` check + cache
//   url      download (+ buildx-checksum) + `version` check + cache by content hash
//   git      resolve the ref to a commit -> cache by commit, else build (Go, or Docker) + cache
//
// One module per way: ./local.ts, ./from-release.ts (also ranges and latest), ./from-url.ts,
// ./from-git.ts; shared: ./types.ts (options, result, error), ./version-check.ts (`version` runs,
// tool-cache hits), ./download.ts (download and verify).

import type { Buildx, BuildxSpec } from '../buildx/spec.js';
import { installGit } from './from-git.js';
import { installRelease, resolveRelease } from './from-release.js';
import { installUrl } from './from-url.js';
import { installLocal, locateLocal } from './local.js';
import type { Installed, InstallOptions } from './types.js';

/** Installs the buildx that `buildx-version` names, and says how long it took. */
export async function installBuildx(opts: InstallOptions): Promise<Installed> {
  const started = Date.now();
  const installed = await installBySpecKind(opts.spec, opts);
  return { ...installed, durationMs: Date.now() - started };
}

/** A buildx being installed: the binary, and its install (with its checks) to wait for. */
export interface Started {
  /** the binary that runs, known before its check when it is on disk */
  buildx: Buildx;
  installed: Promise<Installed>;
}

/**
 * Starts the install. A buildx on disk (the runner's, a path) is found at once (a bad path fails
 * here) and its `version` check is left running; any other is installed before this returns.
 */
export async function startBuildx(opts: InstallOptions): Promise<Started> {
  const spec = opts.spec;
  if (spec.kind !== 'runner' && spec.kind !== 'path') {
    const installed = await installBuildx(opts);
    return { buildx: installed, installed: Promise.resolve(installed) };
  }
  const started = Date.now();
  const buildx = locateLocal(spec, opts.workspace);
  const installed = installLocal(spec, opts, buildx).then((i) => ({
    ...i,
    durationMs: Date.now() - started,
  }));
  installed.catch(() => undefined); // awaited by the caller; never an unhandled rejection meanwhile
  return { buildx, installed };
}

/** Dispatches on the kind of the spec. */
async function installBySpecKind(spec: BuildxSpec, opts: InstallOptions): Promise<Installed> {
  switch (spec.kind) {
    case 'runner':
    case 'path':
      return installLocal(spec, opts);
    case 'release':
      return installRelease(spec.tag, opts);
    case 'range':
    case 'latest':
      return installRelease(await resolveRelease(spec, opts), opts);
    case 'url':
      return installUrl(spec.url, opts);
    case 'git':
      return installGit(spec, opts);
  }
}
