// Publishes a finished run: the step outputs, the job summary, and the final annotation (a
// warning when a retry recovered, the error when the run failed). The buildx-* outputs are set as
// soon as buildx is installed, so that a run the policy stops still has them.

import * as core from '@actions/core';

import type { Installed } from '../install/types.js';
import type { MergeResult } from '../merge/engine.js';
import { advisoryForFailure } from '../policy/advisories.js';
import type { Annotator } from './annotate.js';
import { Reported } from './guard.js';
import { type BuildxInfo, type PolicyInfo, stepOutputs } from './report.js';
import { failureAnnotation, recoveryAnnotation, summaryMarkdown, tellingLines } from './summary.js';
import { headline, type KnownFailure } from './summary-head.js';
import { tagLogLines } from './summary-tags.js';

/** What the summary and the `result` output say about the installed buildx. */
export function buildxInfo(located: Installed): BuildxInfo {
  return {
    version: located.version,
    path: located.path,
    source: located.source,
    ...(located.resolved ? { resolved: located.resolved } : {}),
    ...(located.checksum ? { checksum: located.checksum } : {}),
    installMs: located.durationMs ?? 0,
    ...(located.signature ? { signature: located.signature } : {}),
  };
}

/** Where the step's outputs and its summary go: the runner's files, or the command line's. */
export interface StepOutputs {
  setOutput(name: string, value: string): void;
  writeSummary(markdown: string): Promise<void>;
}

/** The runner's: GITHUB_OUTPUT and GITHUB_STEP_SUMMARY. */
export const RUNNER_OUTPUTS: StepOutputs = {
  setOutput: (name, value) => core.setOutput(name, value),
  writeSummary: async (markdown) => {
    await core.summary.addRaw(markdown).write();
  },
};

/** The buildx-* outputs, and the log line that says which buildx runs and how it was found. */
export function publishBuildx(located: Installed, out: StepOutputs): void {
  out.setOutput('buildx-version', located.version);
  out.setOutput('buildx-path', located.path);
  out.setOutput('buildx-source', located.source);
  core.info(
    `buildx ${located.version} (${located.source}: ${located.how}) at ${located.path}, in ${located.durationMs} ms`,
  );
}

/** The advisory of the running buildx whose signature a failed attempt printed, if any. */
export function knownFailure(result: MergeResult, version: string): KnownFailure | undefined {
  for (const a of result.attempts) {
    if (a.ok || !a.signature) continue;
    const adv = advisoryForFailure(version, a.signature);
    if (adv) {
      const { issue, url, fixed } = adv;
      return { version, crash: adv.class === 'panic', issue, url, fixed };
    }
  }
  return undefined;
}

export interface Published {
  buildx: BuildxInfo;
  dryRun: boolean;
  policy: PolicyInfo;
  /** a log with no summary beside it (the command line): a failure's telling lines go to it */
  tellingLinesInLog?: boolean;
}

/** Writes the other outputs, the summary and the final annotation; throws Reported when the run failed. */
export async function publish(
  result: MergeResult,
  run: Published,
  annotator: Annotator,
  out: StepOutputs,
): Promise<void> {
  const known = knownFailure(result, run.buildx.version);
  const outputs = stepOutputs(result, run.buildx, run.dryRun, run.policy);
  for (const [name, value] of Object.entries(outputs)) {
    if (!name.startsWith('buildx-')) out.setOutput(name, value);
  }
  await out.writeSummary(summaryMarkdown(result, run.buildx, run.dryRun, run.policy, known));
  // The same answer at the end of the log: what happened, then one line per tag.
  core.info(`safe-imagetools: ${headline(result, run.dryRun)}`);
  for (const line of tagLogLines(result)) core.info(line);
  if (!result.ok && run.tellingLinesInLog) for (const line of tellingLines(result)) core.info(line);

  if (result.ok) {
    // One warning at most: the recovery, with the fall-back from manifest PUTs in it when both.
    if (result.recovered) {
      const a = recoveryAnnotation(result, known);
      const message = result.warning ? `${a.message}\n${result.warning}` : a.message;
      annotator.warning(message, { title: a.title });
    } else if (result.warning) {
      annotator.warning(result.warning, { title: 'manifest PUT refused: tags copied by buildx' });
    }
  } else {
    const a = failureAnnotation(result, run.dryRun, known);
    annotator.error(a.message, { title: a.title });
    throw new Reported(a.title);
  }
}
