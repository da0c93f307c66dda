// `install-plugin`: makes this buildx the docker CLI's `docker buildx` for later steps, by
// placing it as $DOCKER_CONFIG/cli-plugins/docker-buildx. Never silent: the previous plugin is
// logged.

import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';

import { pluginDirs } from './find-binary.js';
import { dockerConfigDir } from '../docker/config-dir.js';
import { reportedVersion } from './version-check.js';

export interface PluginResult {
  path: string;
  /** the plugin `docker buildx` ran before, and the version it reported */
  previous?: string;
  previousVersion?: string;
}

export async function installPlugin(
  binary: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<PluginResult> {
  const dir = join(dockerConfigDir(env), 'cli-plugins');
  const dest = join(dir, 'docker-buildx');
  const previous = pluginDirs(env)
    .map((d) => join(d, 'docker-buildx'))
    .find((p) => existsSync(p));
  const previousVersion = previous ? ((await reportedVersion(previous)) ?? 'version unknown') : undefined;
  await mkdir(dir, { recursive: true });
  // Copy beside it, then rename over it: a running `docker buildx` never sees half a file.
  const tmp = `${dest}.safe-imagetools-${process.pid}`;
  await copyFile(binary, tmp);
  await chmod(tmp, 0o755);
  await rename(tmp, dest);
  return { path: dest, previous, previousVersion };
}
