// A buildx from a git ref (a fix branch): the ref resolved to a commit, the tool cache by commit,
// else a build at that commit (./git.ts), a `version` check, and the cache.

import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';

import type { BuildxSpec } from '../buildx/spec.js';
import { cacheBinary, cachedSha256, gitKey } from './cache.js';
import { fileSha } from './download.js';
import { buildAtCommit, resolveCommit } from './git.js';
import { type Installed, installedAt, type InstallOptions } from './types.js';
import { checkRuns, fromCache } from './version-check.js';

export async function installGit(
  spec: Extract<BuildxSpec, { kind: 'git' }>,
  opts: InstallOptions,
): Promise<Installed> {
  const gitOpts = { token: opts.token, tokenHost: opts.githubHost, signal: opts.signal, log: opts.info };
  const work = join(opts.tempDir, `buildx-git-${randomBytes(6).toString('hex')}`);
  try {
    const commit = await resolveCommit(spec.url, spec.ref, join(work, 'resolve'), gitOpts);
    opts.info(`${spec.url}#${spec.ref} is commit ${commit}`);
    const short = commit.slice(0, 12);
    const hit = await fromCache(gitKey(commit), opts);
    if (hit)
      return installedAt(hit.file, 'git', hit.version, `tool cache (commit ${short})`, {
        resolved: commit,
        checksum: await cachedSha256(hit.file),
        cached: true,
      });
    const out = join(work, 'buildx');
    const built = await buildAtCommit(spec.url, spec.ref, commit, work, out, gitOpts);
    const version = await checkRuns(out, opts);
    const sha256 = await fileSha(out);
    const cachedPath = await cacheBinary(out, gitKey(commit), opts.platform, { sha256, version });
    const how = `built ${spec.ref} (${short}) with ${built === 'go' ? 'go build' : 'docker buildx build'}`;
    return installedAt(cachedPath, 'git', version, how, { resolved: commit, checksum: sha256 });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
