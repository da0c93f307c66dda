// A buildx that needs no install: the runner's `docker buildx` or a binary on disk, checked to run
// `version`, and hashed only when buildx-checksum asks for it.

import { type BuildxSpec, sourceOf } from '../buildx/spec.js';
import { fileSha } from './download.js';
import {
  type Installed,
  installedAt,
  InstallError,
  type InstallOptions,
  reportedVersion,
} from './installed.js';
import { locateBuildx } from './locate.js';

export async function installLocal(
  spec: Extract<BuildxSpec, { kind: 'runner' | 'path' }>,
  opts: InstallOptions,
): Promise<Installed> {
  const b = locateBuildx(spec.kind === 'runner' ? '' : spec.path, opts.workspace);
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
