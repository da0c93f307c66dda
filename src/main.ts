// The action's entry point: inputs, buildx, the engine, then outputs and the summary.

import * as core from '@actions/core';

import { tmpdir } from 'node:os';

import { makeExec } from './buildx/run.js';
import { CancelledError, runMerge } from './engine.js';
import { killAllGroups } from './exec/process.js';
import { readInputs } from './inputs.js';
import { installBuildx, InstallError } from './install/install.js';
import { installPlugin } from './install/plugin.js';
import { currentPlatform } from './install/release.js';
import { InputError } from './parse.js';
import { RegistryClient } from './registry/client.js';
import { type BuildxInfo, stepOutputs, summaryMarkdown } from './report.js';
import { sleep } from './retry.js';

const KILL_GRACE_MS = 5_000;

/** Cancels the run on SIGINT/SIGTERM (a cancelled job) and takes every child along on exit. */
function installSignalHandlers(controller: AbortController): void {
  const onSignal = (sig: NodeJS.Signals): void => {
    if (controller.signal.aborted) return;
    core.warning(`Received ${sig}: stopping buildx and exiting`);
    controller.abort(new CancelledError());
    // If something does not let go, leave anyway, taking the children along.
    setTimeout(() => {
      killAllGroups('SIGKILL');
      process.exit(sig === 'SIGINT' ? 130 : 143);
    }, KILL_GRACE_MS + 3_000).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', () => killAllGroups('SIGKILL'));
}

export async function run(): Promise<void> {
  const controller = new AbortController();
  installSignalHandlers(controller);
  const workspace = process.env.GITHUB_WORKSPACE || process.cwd();
  try {
    const inputs = readInputs((name) => core.getInput(name), workspace);
    const githubServer = process.env.GITHUB_SERVER_URL || 'https://github.com';
    const located = await installBuildx({
      spec: inputs.buildx,
      checksum: inputs.buildxChecksum,
      mirror: inputs.buildxMirror,
      apiUrl: process.env.GITHUB_API_URL || 'https://api.github.com',
      token: inputs.githubToken || undefined,
      githubHost: new URL(githubServer).host,
      workspace,
      tempDir: process.env.RUNNER_TEMP || tmpdir(),
      platform: currentPlatform(),
      signal: controller.signal,
      info: core.info,
      warning: core.warning,
    });
    const buildx: BuildxInfo = {
      version: located.version,
      path: located.path,
      source: located.source,
      ...(located.resolved ? { resolved: located.resolved } : {}),
      ...(located.checksum ? { checksum: located.checksum } : {}),
      installMs: located.durationMs ?? 0,
    };
    core.setOutput('buildx-version', located.version);
    core.setOutput('buildx-path', located.path);
    core.setOutput('buildx-source', located.source);
    core.info(
      `buildx ${located.version} (${located.source}: ${located.how}) at ${located.path}, in ${located.durationMs} ms`,
    );
    if (inputs.installPlugin) {
      if (located.source === 'runner') {
        core.info("install-plugin: this is already the runner's docker buildx; nothing to do");
      } else {
        const plugin = await installPlugin(located.file);
        core.info(
          `install-plugin: "docker buildx" is now buildx ${located.version} at ${plugin.path}; ` +
            (plugin.previous
              ? `before, it was ${plugin.previous} (${plugin.previousVersion})`
              : 'there was no buildx plugin before'),
        );
      }
    }

    const registry = new RegistryClient();
    const result = await runMerge(inputs, {
      exec: makeExec(located, {
        attemptTimeoutMs: inputs.attemptTimeoutMs,
        idleTimeoutMs: inputs.idleTimeoutMs,
        signal: controller.signal,
        killGraceMs: KILL_GRACE_MS,
      }),
      readDigest: (ref) => registry.digestOf(ref),
      sleep: (ms) => sleep(ms, controller.signal),
      info: core.info,
      warning: core.warning,
    });

    const outputs = stepOutputs(result, buildx, inputs.dryRun);
    for (const [name, value] of Object.entries(outputs)) {
      if (!name.startsWith('buildx-')) core.setOutput(name, value);
    }
    await core.summary.addRaw(summaryMarkdown(result, buildx, inputs.dryRun)).write();

    if (result.ok) {
      if (result.recovered) {
        const absorbed = [
          ...new Set(result.attempts.filter((a) => !a.ok).map((a) => `${a.class}: ${a.signature}`)),
        ];
        core.warning(`Succeeded after ${outputs.attempts} attempts, absorbing ${absorbed.join('; ')}`);
      }
      core.info(`Done: ${result.tags.length} tag(s) hold ${result.digest}`);
    } else {
      const f = result.failure;
      core.setFailed(`${f?.message ?? 'failed'}${f?.line ? `\n${f.line}` : ''}`);
    }
  } catch (err) {
    if (err instanceof CancelledError || controller.signal.aborted) {
      core.setFailed('Cancelled: buildx was stopped and nothing it started is left running');
    } else if (err instanceof InputError || err instanceof InstallError) {
      core.setFailed(err.message);
    } else {
      core.setFailed(err instanceof Error ? err.message : String(err));
    }
  } finally {
    killAllGroups('SIGKILL');
  }
}
