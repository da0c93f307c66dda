// The User-Agent the action sends on every request of its own (`safe-imagetools/<version>`, from
// package.json, which the bundle carries): what tells the action's requests from buildx's, which
// always send buildx's own.
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { repoRoot } from './paths.ts';

const { version } = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
  version: string;
};

export const ACTION_USER_AGENT = `safe-imagetools/${version}`;

/** Whether a request with this User-Agent is the action's own (its registry client, its downloads). */
export const byTheAction = (userAgent: string | undefined): boolean => userAgent === ACTION_USER_AGENT;
