// One run, for the action (index.ts) and the command line (cli.ts): preflight (inputs, the policy,
// buildx) -> merge (the engine) -> publish (outputs, the summary, the final annotation), and the one
// error a failed run gets. What differs between the two is the Host: where inputs come from, where
// outputs and the summary go, whether the log may carry workflow commands, how an input is named.
// Every check that can stop the step runs before the first push: in preflight, or, for the
// `version` check of a buildx on disk that no policy rule can stop on its answer, alongside the
// --dry-run (the engine's pushes wait for it, and what it reports waits for the log to be free).

import * as core from '@actions/core';

import type { Buildx } from './buildx/spec.js';
import { CancelledError, makeExec } from './exec/buildx.js';
import { SerialLog } from './exec/log.js';
import { killAllGroups } from './exec/process.js';
import { type Inputs, readAnnotate, readInputs } from './inputs/inputs.js';
import { PolicyError } from './inputs/policy-file.js';
import { type Installed, InstallError } from './install/types.js';
import { pluginStep, startInstall } from './install/stage.js';
import { type MergeResult, mergeOptions, runMerge } from './merge/engine.js';
import { checkSpec } from './policy/evaluate.js';
import { RegistryClient } from './registry/client.js';
import { acceptAlongside, acceptBuildx } from './report/accept.js';
import { Annotator } from './report/annotate.js';
import {
  installLastResort,
  installSignalHandlers,
  Progress,
  Reported,
  type Stage,
  unexpectedFailure,
} from './report/guard.js';
import { findStep } from './report/workflow-step.js';
import { PolicyGate } from './report/policy.js';
import { buildxInfo, publish, RUNNER_OUTPUTS, type StepOutputs } from './report/publish.js';
import type { PolicyInfo } from './report/report.js';
import { sleep } from './retry/retrying.js';
import { InputError } from './util/parse.js';

const KILL_GRACE_MS = 5_000;

/** The input whose line an unexpected failure of this stage belongs on. */
const STAGE_INPUT: Partial<Record<Stage, string>> = { install: 'buildx-version', policy: 'policy' };

/** The step's one error: a second failure (say, while reporting the first) goes to the log. */
type FailStep = (title: string | undefined, message: string, input?: string) => void;

/** Where a run reads its inputs and writes what it found. */
export interface Host {
  workspace: string;
  /** an input's value ('' when not given) */
  input(name: string): string;
  /** false outside GitHub Actions: no log groups, no annotations, no workflow command at all */
  workflowCommands: boolean;
  outputs: StepOutputs;
  /** an input or policy error (`Input "x": ...`) worded for where the value came from */
  wordInputError(message: string): string;
  /** the exit code of bad input: 1 for a step, 2 (bad usage) for a command */
  badInputExitCode: number;
}

/** The runner's host: inputs from INPUT_*, outputs to its files, workflow commands on. */
export function runnerHost(): Host {
  return {
    workspace: process.env.GITHUB_WORKSPACE || process.cwd(),
    input: (name) => core.getInput(name),
    workflowCommands: true,
    outputs: RUNNER_OUTPUTS,
    wordInputError: (message) => message,
    badInputExitCode: 1,
  };
}

interface Ready {
  inputs: Inputs;
  /** the binary the merge runs */
  buildx: Buildx;
  /** the install, checked: pushes wait for it */
  checked: Promise<Installed>;
  /** the same, once reported (outputs, log line, the policy on its version) */
  accepted: Promise<Installed>;
  policy: PolicyInfo;
}

export async function run(host: Host = runnerHost()): Promise<void> {
  const controller = new AbortController();
  installSignalHandlers(controller, KILL_GRACE_MS);
  const { workspace } = host;
  // Read on its own and leniently: a bad value is refused by readInputs, annotated as usual.
  const annotate = host.workflowCommands && readAnnotate(host.input, true);
  const annotator = new Annotator(() => findStep(workspace, process.env), annotate);
  const progress = new Progress();
  const failStep: FailStep = (title, message, input) => {
    process.exitCode = process.exitCode || 1;
    if (annotator.said('error') > 0) core.info(`${title ? `${title}: ` : ''}${message}`);
    else annotator.error(message, { title, input });
  };
  installLastResort({
    progress,
    fail: (title, message) => failStep(title, message, STAGE_INPUT[progress.stage]),
    ...(host.workflowCommands ? {} : { debug: () => undefined }),
  });
  // One log for the action and every buildx it runs (see exec/log.ts).
  const log = new SerialLog(process.stdout, { plain: !host.workflowCommands });
  try {
    const ready = await preflight(host, controller.signal, { annotator, progress, log });
    progress.stage = 'merge';
    const result = await merge(ready, controller.signal, log);
    const buildx = buildxInfo(await ready.accepted);
    progress.stage = 'report';
    const published = {
      buildx,
      dryRun: ready.inputs.dryRun,
      policy: ready.policy,
      tellingLinesInLog: !host.workflowCommands,
    };
    await publish(result, published, annotator, host.outputs);
  } catch (err) {
    fail(err, { cancelled: controller.signal.aborted, stage: progress.stage, host }, failStep);
  } finally {
    killAllGroups('SIGKILL');
  }
}

/** Inputs, the policy on the spec, the install, the policy on what runs, the plugin: all before any push. */
async function preflight(
  host: Host,
  signal: AbortSignal,
  { annotator, progress, log }: { annotator: Annotator; progress: Progress; log: SerialLog },
): Promise<Ready> {
  const { workspace, outputs: out } = host;
  const inputs = readInputs(host.input, workspace);
  if (inputs.annotationsNotice)
    annotator.annotate('notice', inputs.annotationsNotice, { input: 'annotations', title: 'annotations' });
  progress.stage = 'policy';
  const policy = inputs.policy;
  const gate = new PolicyGate(policy, annotator);
  const specFindings = checkSpec(policy, inputs.buildx, inputs.buildxChecksum !== undefined);
  gate.pass(
    specFindings,
    `buildx-version violates the policy (${policy.origin}); nothing was downloaded or pushed`,
  );

  progress.stage = 'install';
  const started = await startInstall(inputs, policy, {
    workspace,
    signal,
    env: process.env,
    info: core.info,
    warning: (message) => annotator.warning(message, { input: 'buildx-version', title: 'buildx install' }),
  });
  const ready = { inputs, buildx: started.buildx, checked: started.installed, policy: gate.info };
  if (started.alongside) {
    const accepted = acceptAlongside(started.installed, gate, specFindings, { annotator, log, out });
    accepted.catch(() => undefined); // awaited after the merge
    return { ...ready, accepted };
  }
  const located = await started.installed;
  progress.stage = 'policy';
  acceptBuildx(located, gate, specFindings, out);
  progress.stage = 'install';
  await pluginStep(inputs.installPlugin, located, core.info);
  return { ...ready, accepted: started.installed };
}

/** The engine. A buildx check failing alongside stops it (the --dry-run too), and is its error. */
async function merge(ready: Ready, cancelled: AbortSignal, log: SerialLog): Promise<MergeResult> {
  const { inputs } = ready;
  const stop = new AbortController();
  ready.checked.catch(() => stop.abort());
  const signal = AbortSignal.any([cancelled, stop.signal]);
  const registry = new RegistryClient({ maxDelayMs: inputs.retryMaxDelayMs });
  const exec = makeExec(ready.buildx, {
    attemptTimeoutMs: inputs.attemptTimeoutMs,
    idleTimeoutMs: inputs.idleTimeoutMs,
    signal,
    killGraceMs: KILL_GRACE_MS,
    log,
  });
  try {
    return await runMerge(mergeOptions(inputs), {
      exec,
      readDigest: (ref) => registry.digestOf(ref),
      putManifest: (ref, body, mediaType) => registry.putManifest(ref, body, mediaType),
      credentialsFor: (host) => registry.credentialsKnown(host),
      sleep: (ms) => sleep(ms, signal),
      info: core.info,
      pushesAllowed: ready.checked,
    });
  } catch (err) {
    await ready.checked; // its error, when it failed, is the one that stopped the run
    throw err;
  }
}

/** The step's error for what stopped the run, on the line of the input it is about. */
function fail(
  err: unknown,
  { cancelled, stage, host }: { cancelled: boolean; stage: Stage; host: Host },
  failStep: FailStep,
): void {
  process.exitCode = 1;
  if (err instanceof CancelledError || cancelled) {
    failStep(undefined, 'Cancelled: buildx was stopped and nothing it started is left running');
  } else if (err instanceof Reported) {
    core.info(err.message);
  } else if (err instanceof PolicyError) {
    process.exitCode = host.badInputExitCode;
    failStep('buildx policy file', host.wordInputError(err.message), 'policy');
  } else if (err instanceof InputError) {
    process.exitCode = host.badInputExitCode;
    failStep(undefined, host.wordInputError(err.message), err.input);
  } else if (stage === 'install' || err instanceof InstallError) {
    // every installer failure (download, build, checksum) on the buildx-version line
    failStep('buildx install', (err as Error).message ?? String(err), 'buildx-version');
  } else {
    const f = unexpectedFailure(stage, err);
    failStep(f.title, f.message, STAGE_INPUT[stage]);
  }
}
