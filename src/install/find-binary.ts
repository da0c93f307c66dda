// Finding binaries already on this machine, without installing anything: a command on PATH, the
// docker CLI's plugin folders, and the buildx a `buildx-version` names when it needs no install
// (the runner's `docker buildx`, or a binary at a path, run standalone). The other ways (releases,
// ranges, git fix branches, URLs) are dispatched by ./by-spec.ts.

import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

import { dockerConfigDir } from '../docker/config-dir.js';
import type { Buildx, BuildxSource } from '../buildx/spec.js';
import { InputError } from '../util/parse.js';

export type { BuildxSource };

export function findOnPath(name: string, pathEnv = process.env.PATH ?? ''): string | undefined {
  for (const dir of pathEnv.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Where the docker CLI looks for its buildx plugin, in its order. */
export function pluginDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  return [
    join(dockerConfigDir(env), 'cli-plugins'),
    '/usr/local/lib/docker/cli-plugins',
    '/usr/local/libexec/docker/cli-plugins',
    '/usr/lib/docker/cli-plugins',
    '/usr/libexec/docker/cli-plugins',
  ];
}

/** Resolves the `buildx-version` input to a buildx to run (this release: empty or a path). */
export function locateBuildx(spec: string, workspace: string, env: NodeJS.ProcessEnv = process.env): Buildx {
  if (spec === '') {
    const docker = findOnPath('docker', env.PATH);
    if (!docker) {
      throw new InputError(
        'buildx-version',
        'empty means the runner\'s "docker buildx", but there is no docker CLI on PATH; give a path to a buildx binary',
      );
    }
    const plugin = pluginDirs(env)
      .map((d) => join(d, 'docker-buildx'))
      .find((p) => existsSync(p));
    return { file: docker, prefix: ['buildx'], source: 'runner', path: plugin ?? `${docker} buildx` };
  }
  if (isAbsolute(spec) || spec.startsWith('./') || spec.startsWith('../')) {
    const path = isAbsolute(spec) ? spec : resolve(workspace, spec);
    try {
      if (!statSync(path).isFile()) throw new Error('not a file');
      accessSync(path, constants.X_OK);
    } catch (err) {
      throw new InputError(
        'buildx-version',
        `"${spec}" is not an executable file (${(err as Error).message})`,
      );
    }
    return { file: path, prefix: [], source: 'path', path };
  }
  throw new InputError(
    'buildx-version',
    `"${spec}" is not a form this version accepts: leave it empty for the runner's docker buildx, ` +
      'or give a path to a buildx binary (/abs/path or ./relative/to/workspace)',
  );
}
