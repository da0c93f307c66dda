// The action's entry point: inputs, buildx, the engine, then outputs and the summary.

import * as core from '@actions/core';

import { locateBuildx, parseVersionOutput } from './buildx/buildx.js';
import { makeExec } from './buildx/run.js';
import { CancelledError, runMerge } from './engine.js';
import { killAllGroups, runProcess } from './exec/process.js';
import { readInputs } from './inputs.js';
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

async function buildxVersion(file: string, prefix: string[], signal: AbortSignal): Promise<string> {
  const r = await runProcess({
    file,
    args: [...prefix, 'version'],
    timeoutMs: 30_000,
    captureStdoutBytes: 64 * 1024,
    signal,
  });
  const parsed = parseVersionOutput(r.stdout);
  if (r.exitCode !== 0 || !parsed) {
    const why = r.tail.slice(-3).join(' / ') || `exit ${r.exitCode ?? r.signal}`;
    throw new Error(`"${[file, ...prefix].join(' ')} version" did not report a buildx version: ${why}`);
  }
  return parsed.version;
}

export async function run(): Promise<void> {
  const controller = new AbortController();
  installSignalHandlers(controller);
  const workspace = process.env.GITHUB_WORKSPACE || process.cwd();
  try {
    const inputs = readInputs((name) => core.getInput(name), workspace);
    const located = locateBuildx(inputs.buildxVersion, workspace);
    const version = await buildxVersion(located.file, located.prefix, controller.signal);
    const buildx: BuildxInfo = { version, path: located.path, source: located.source };
    core.setOutput('buildx-version', version);
    core.setOutput('buildx-path', located.path);
    core.info(`buildx ${version} (${located.source}: ${located.path})`);

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
      if (name !== 'buildx-version' && name !== 'buildx-path') core.setOutput(name, value);
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
    } else if (err instanceof InputError) {
      core.setFailed(err.message);
    } else {
      core.setFailed(err instanceof Error ? err.message : String(err));
    }
  } finally {
    killAllGroups('SIGKILL');
  }
}
