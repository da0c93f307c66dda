// The action's entry point: inputs and policy, buildx, the engine, then outputs, the summary and
// annotations. Every check that can stop the step runs before the first push.

import { tmpdir } from 'node:os';

import * as core from '@actions/core';

import { Annotator } from './report/annotate.js';
import { makeExec } from './exec/buildx.js';
import { CancelledError } from './exec/buildx.js';
import { type MergeResult, mergeOptions, runMerge } from './merge/engine.js';
import { killAllGroups } from './exec/process.js';
import { installLastResort, Progress, type Stage, unexpectedFailure } from './report/guard.js';
import { type Inputs, readInputs } from './inputs/inputs.js';
import { type Installed, installBuildx, InstallError } from './install/install.js';
import { installPlugin } from './install/plugin.js';
import { currentPlatform } from './buildx/release.js';
import { InputError } from './util/parse.js';
import { advisoryForFailure, describeKnownFailure } from './policy/advisories.js';
import { allowedRelease, blocking, checkActual, checkSpec, type Finding } from './policy/evaluate.js';
import { type Policy, PolicyError } from './inputs/policy-file.js';
import { RegistryClient } from './registry/client.js';
import {
  type BuildxInfo,
  failureAnnotation,
  type PolicyInfo,
  recoveryAnnotation,
  stepOutputs,
  summaryMarkdown,
} from './report/report.js';
import { sleep } from './util/retry.js';
import { findStep } from './report/locate.js';

const KILL_GRACE_MS = 5_000;

/** Cancels the run on SIGINT/SIGTERM (a cancelled job) and takes every child along on exit. */
function installSignalHandlers(controller: AbortController): void {
  const onSignal = (sig: NodeJS.Signals): void => {
    if (controller.signal.aborted) return;
    core.info(`Received ${sig}: stopping buildx and exiting`);
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

/** A failure already reported by its own annotations: the step fails without another one. */
class Reported extends Error {}

function reportFindings(annotator: Annotator, findings: readonly Finding[], policyInfo: PolicyInfo): void {
  for (const f of findings) {
    policyInfo.findings.push({ rule: f.rule, severity: f.severity, message: f.message });
    const title =
      f.rule === 'advisory' ? `known-bad buildx: ${f.advisory?.issue ?? ''}` : `buildx policy: ${f.rule}`;
    annotator.annotate(f.severity, f.message, { input: f.input, title });
  }
}

async function install(
  inputs: Inputs,
  policy: Policy,
  workspace: string,
  signal: AbortSignal,
  annotator: Annotator,
): Promise<Installed> {
  const githubServer = process.env.GITHUB_SERVER_URL || 'https://github.com';
  return installBuildx({
    spec: inputs.buildx,
    checksum: inputs.buildxChecksum,
    mirror: inputs.buildxMirror,
    apiUrl: process.env.GITHUB_API_URL || 'https://api.github.com',
    token: inputs.githubToken || undefined,
    githubHost: new URL(githubServer).host,
    workspace,
    tempDir: process.env.RUNNER_TEMP || tmpdir(),
    platform: currentPlatform(),
    signal,
    allowed: allowedRelease(policy),
    allowedFallback:
      policy.advisories === 'warn' ? allowedRelease({ ...policy, advisories: 'off' }) : undefined,
    requireChecksum: policy.checksum === 'required',
    info: core.info,
    warning: (message) => annotator.warning(message, { input: 'buildx-version', title: 'buildx install' }),
  });
}

/** What the advisory database says about the way this run failed or was recovered, if anything. */
function knownFailure(result: MergeResult, version: string): string | undefined {
  for (const a of result.attempts) {
    if (a.ok || !a.signature) continue;
    const adv = advisoryForFailure(version, a.signature);
    if (adv) return describeKnownFailure(version, adv);
  }
  return undefined;
}

/** The input whose line an unexpected failure of this stage belongs on. */
const STAGE_INPUT: Partial<Record<Stage, string>> = { install: 'buildx-version', policy: 'policy' };

export async function run(): Promise<void> {
  const controller = new AbortController();
  installSignalHandlers(controller);
  const workspace = process.env.GITHUB_WORKSPACE || process.cwd();
  // Read first and leniently: a bad value is refused by readInputs, annotated as usual.
  const annotate = !/^(false|no|off|0)$/i.test(core.getInput('annotate').trim());
  const annotator = new Annotator(() => findStep(workspace, process.env), annotate);
  const progress = new Progress();
  // The step's one error: a second failure (say, while reporting the first) goes to the log.
  const failStep = (title: string | undefined, message: string, input?: string): void => {
    process.exitCode = 1;
    if (annotator.said('error') > 0) core.info(`${title ? `${title}: ` : ''}${message}`);
    else annotator.error(message, { title, input });
  };
  installLastResort({
    progress,
    fail: (title, message) => failStep(title, message, STAGE_INPUT[progress.stage]),
  });
  try {
    const inputs = readInputs((name) => core.getInput(name), workspace);
    if (inputs.annotationsNotice)
      annotator.annotate('notice', inputs.annotationsNotice, { input: 'annotations', title: 'annotations' });
    progress.stage = 'policy';
    const policy = inputs.policy;
    const policyInfo: PolicyInfo = {
      origin: policy.origin,
      mode: policy.mode,
      advisories: policy.advisories,
      findings: [],
    };

    // 1. The policy on the spec, before anything is downloaded or built.
    const specFindings = checkSpec(policy, inputs.buildx, inputs.buildxChecksum !== undefined);
    reportFindings(annotator, specFindings, policyInfo);
    if (blocking(specFindings))
      throw new Reported(
        `buildx-version violates the policy (${policy.origin}); nothing was downloaded or pushed`,
      );

    // 2. Install (a range resolves to the highest release the policy allows and no advisory names).
    progress.stage = 'install';
    const located = await install(inputs, policy, workspace, controller.signal, annotator);
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

    // 3. The policy on what actually runs (what the spec check found is not reported again).
    progress.stage = 'policy';
    const actualFindings = checkActual(policy, located.version, located.source, undefined, specFindings);
    reportFindings(annotator, actualFindings, policyInfo);
    if (blocking(actualFindings))
      throw new Reported(
        `buildx ${located.version} violates the policy (${policy.origin}); nothing was pushed`,
      );

    progress.stage = 'install';
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

    progress.stage = 'merge';
    const registry = new RegistryClient();
    const result = await runMerge(mergeOptions(inputs), {
      exec: makeExec(located, {
        attemptTimeoutMs: inputs.attemptTimeoutMs,
        idleTimeoutMs: inputs.idleTimeoutMs,
        signal: controller.signal,
        killGraceMs: KILL_GRACE_MS,
      }),
      readDigest: (ref) => registry.digestOf(ref),
      credentialsFor: (host) => registry.credentialsKnown(host),
      sleep: (ms) => sleep(ms, controller.signal),
      info: core.info,
    });

    progress.stage = 'report';
    const known = knownFailure(result, located.version);
    const outputs = stepOutputs(result, buildx, inputs.dryRun, policyInfo);
    for (const [name, value] of Object.entries(outputs)) {
      if (!name.startsWith('buildx-')) core.setOutput(name, value);
    }
    await core.summary.addRaw(summaryMarkdown(result, buildx, inputs.dryRun, policyInfo, known)).write();

    if (result.ok) {
      if (result.recovered) {
        const a = recoveryAnnotation(result, known);
        annotator.warning(a.message, { title: a.title });
      }
      core.info(`Done: ${result.tags.length} tag(s) hold ${result.digest}`);
    } else {
      const a = failureAnnotation(result, inputs.dryRun, known);
      annotator.error(a.message, { title: a.title });
      throw new Reported(a.title);
    }
  } catch (err) {
    process.exitCode = 1;
    if (err instanceof CancelledError || controller.signal.aborted) {
      failStep(undefined, 'Cancelled: buildx was stopped and nothing it started is left running');
    } else if (err instanceof Reported) {
      core.info(err.message);
    } else if (err instanceof PolicyError) {
      failStep('buildx policy file', err.message, 'policy');
    } else if (err instanceof InputError) {
      failStep(undefined, err.message, err.input);
    } else if (progress.stage === 'install' || err instanceof InstallError) {
      // every installer failure (download, build, checksum) on the buildx-version line
      failStep('buildx install', (err as Error).message ?? String(err), 'buildx-version');
    } else {
      const f = unexpectedFailure(progress.stage, err);
      failStep(f.title, f.message, STAGE_INPUT[progress.stage]);
    }
  } finally {
    killAllGroups('SIGKILL');
  }
}
