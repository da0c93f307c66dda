// A buildx that needs no install: the runner's `docker buildx` or a binary on disk, found at once
// (a bad path fails there), then checked to run `version`, and hashed only when buildx-checksum
// asks for it. The check may run alongside the --dry-run (see ./stage.ts).

import type { Buildx, BuildxSpec } from '../buildx/spec.js';
import { sourceOf } from '../buildx/spec.js';
import { fileSha } from './download.js';
import { locateBuildx } from './find-binary.js';
import { type Installed, installedAt, InstallError, type InstallOptions } from './types.js';
import { reportedVersion } from './version-check.js';

export type LocalSpec = Extract<BuildxSpec, { kind: 'runner' | 'path' }>;

/** The binary a local spec names; an InputError for a path that is not an executable file. */
export function locateLocal(spec: LocalSpec, workspace: string): Buildx {
  return locateBuildx(spec.kind === 'runner' ? '' : spec.path, workspace);
}

/** The check of a located buildx: it reports a version, and has the sha256 buildx-checksum names. */
export async function installLocal(
  spec: LocalSpec,
  opts: InstallOptions,
  b: Buildx = locateLocal(spec, opts.workspace),
): Promise<Installed> {
  const version = await reportedVersion(b.file, b.prefix, opts.signal);
  if (!version)
    throw new InstallError(`"${[b.file, ...b.prefix].join(' ')} version" did not report a buildx version`);
  // Hashing a 60+ MB binary costs ~100 ms: only when buildx-checksum asks for it.
  const checksum = spec.kind === 'path' && opts.checksum ? await fileSha(b.file) : undefined;
  if (opts.checksum && checksum !== opts.checksum) {
    throw new InstallError(`sha256 of ${b.file} is ${checksum}, expected buildx-checksum ${opts.checksum}`);
  }
  const how = spec.kind === 'runner' ? "the runner's docker buildx" : 'a binary on disk';
  return installedAt(b, sourceOf(spec), version, how, { checksum });
}
