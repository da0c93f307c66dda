// The run's install stage: the `buildx-version` spec installed under the policy's limits (for a
// buildx on disk, its `version` check alongside the --dry-run when nothing depends on its answer
// before the first push), and the `install-plugin` step for the buildx that passed the policy.

import { tmpdir } from 'node:os';

import { currentPlatform } from '../buildx/release-assets.js';
import type { Inputs } from '../inputs/inputs.js';
import type { Policy } from '../inputs/policy-file.js';
import { allowedRelease, versionCanStop } from '../policy/evaluate.js';
import { type Started, startBuildx } from './by-spec.js';
import { installPlugin } from './plugin.js';
import type { Installed, InstallOptions } from './types.js';

export interface SetupContext {
  workspace: string;
  signal: AbortSignal;
  /** the runner's environment (GITHUB_API_URL, GITHUB_SERVER_URL, RUNNER_TEMP) */
  env: NodeJS.ProcessEnv;
  info(message: string): void;
  /** an installer warning, for the `buildx-version` input */
  warning(message: string): void;
}

export interface StartedRun extends Started {
  /**
   * The check of a buildx on disk may go on alongside the --dry-run (pushes wait for it): no
   * policy rule can stop the push on the version it reports, and no plugin is to be installed.
   */
  alongside: boolean;
}

/**
 * Starts installing buildx for this run: a range resolves to the highest release the policy allows
 * and no advisory names.
 */
export async function startInstall(inputs: Inputs, policy: Policy, ctx: SetupContext): Promise<StartedRun> {
  const local = inputs.buildx.kind === 'runner' || inputs.buildx.kind === 'path';
  const started = await startBuildx(installOptions(inputs, policy, ctx));
  return { ...started, alongside: local && !versionCanStop(policy) && !inputs.installPlugin };
}

function installOptions(inputs: Inputs, policy: Policy, ctx: SetupContext): InstallOptions {
  const githubServer = ctx.env.GITHUB_SERVER_URL || 'https://github.com';
  return {
    spec: inputs.buildx,
    checksum: inputs.buildxChecksum,
    mirror: inputs.buildxMirror,
    apiUrl: ctx.env.GITHUB_API_URL || 'https://api.github.com',
    token: inputs.githubToken || undefined,
    githubHost: new URL(githubServer).host,
    workspace: ctx.workspace,
    tempDir: ctx.env.RUNNER_TEMP || tmpdir(),
    platform: currentPlatform(),
    signal: ctx.signal,
    allowed: allowedRelease(policy),
    allowedFallback:
      policy.advisories === 'warn' ? allowedRelease({ ...policy, advisories: 'off' }) : undefined,
    requireChecksum: policy.checksum === 'required',
    signature: {
      mode: policy.signature,
      warnOnly: policy.mode === 'warn',
      ...(inputs.sigstoreTrustedRoot ? { trustedRoot: inputs.sigstoreTrustedRoot } : {}),
    },
    info: ctx.info,
    warning: ctx.warning,
  };
}

/** `install-plugin`: makes this buildx the docker CLI's `docker buildx`, and says what it replaced. */
export async function pluginStep(
  wanted: boolean,
  located: Installed,
  info: (message: string) => void,
): Promise<void> {
  if (!wanted) return;
  if (located.source === 'runner') {
    info("install-plugin: this is already the runner's docker buildx; nothing to do");
    return;
  }
  const plugin = await installPlugin(located.file);
  info(
    `install-plugin: "docker buildx" is now buildx ${located.version} at ${plugin.path}; ` +
      (plugin.previous
        ? `before, it was ${plugin.previous} (${plugin.previousVersion})`
        : 'there was no buildx plugin before'),
  );
}
