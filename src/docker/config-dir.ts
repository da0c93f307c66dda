// The Docker config folder, as the Docker CLI (and so buildx and docker/login-action) finds it:
// $DOCKER_CONFIG when set and not empty, else ~/.docker. An empty DOCKER_CONFIG means unset.

import { homedir } from 'node:os';
import { join } from 'node:path';

/** `$DOCKER_CONFIG`, or `$HOME/.docker` when it is unset or empty (a relative value is taken as given). */
export function dockerConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DOCKER_CONFIG) return env.DOCKER_CONFIG;
  return join(env.HOME || homedir(), '.docker');
}
