// Three real runs whose job summaries the render test measures and `npm run screenshots` shows:
// a plain run, a run that recovered from a crash, and a failed one. Each runs dist/index.js as the
// runner does against its own registry 2.8, with six single-platform sources pushed by digest and
// five tags in a repository path as long as a ghcr.io one. The plain run's sources are in the
// tags' repository (Docker's multi-runner pattern: no buildx push, every tag by manifest PUT); the
// other two take theirs from a builds repository, so that buildx moves the content, and crashes. buildx is given as `./bin/buildx` in a
// workspace of its own (a link to the real buildx or to the fault shim), so that the summary shows
// a workspace path, not where this checkout lives.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { pushPlatformImagesDetailed } from './images.ts';
import { buildxPath } from './paths.ts';
import { startRegistry } from './registry.ts';
import { type ActionRun, runAction } from './runner.ts';
import { makeShim, type ShimScript } from './shim.ts';

export type SummaryScenario = 'plain' | 'recovered' | 'failed';

export const SUMMARY_SCENARIOS: readonly SummaryScenario[] = ['plain', 'recovered', 'failed'];

/** `ghcr.io/my-org/my-service-name/app`, with the test bed's registry in place of ghcr.io. */
export const SUMMARY_REPO = 'my-org/my-service-name/app';
export const SUMMARY_TAGS = ['1.2.3', '1.2', '1', 'latest', 'sha-abc1234'];
const PLATFORMS = ['linux/amd64', 'linux/arm64', 'linux/arm/v7', 'linux/s390x', 'linux/ppc64le', 'linux/386'];

/** The crash the fixture was captured from (v0.30.0's concurrent map writes), so the buildx says v0.30.0. */
const CRASHING_BUILDX = 'github.com/docker/buildx v0.30.0 1a2b3c4';
const CRASH = { mode: 'crash', fixture: 'v0.30.0-fatal-concurrent-map-writes.log' } as const;

/** Where each run's sources are pushed by digest. */
const SOURCES_REPO: Record<SummaryScenario, string> = {
  plain: SUMMARY_REPO,
  recovered: 'my-org/builds/app',
  failed: 'my-org/builds/app',
};

/** How each run goes: real buildx 0.13.1 throughout, or the fault shim in front of it. */
const SCRIPTS: Record<SummaryScenario, ShimScript | undefined> = {
  plain: undefined,
  recovered: { version: CRASHING_BUILDX, steps: [CRASH, 'pass'] },
  failed: { version: CRASHING_BUILDX, steps: [CRASH] },
};

export interface SummaryRun {
  scenario: SummaryScenario;
  run: ActionRun;
  /** The full references of the five tags. */
  tags: string[];
}

/** A workspace holding `bin/buildx`, a link to `target`. */
function workspaceWithBuildx(target: string): string {
  const ws = mkdtempSync(path.join(os.tmpdir(), 'sit-summary-'));
  mkdirSync(path.join(ws, 'bin'));
  symlinkSync(target, path.join(ws, 'bin', 'buildx'));
  return ws;
}

/** One run on a registry of its own (the same repository path in all three). */
export async function runSummaryScenario(scenario: SummaryScenario): Promise<SummaryRun> {
  const script = SCRIPTS[scenario];
  const shim = script ? makeShim(script) : undefined;
  const ws = workspaceWithBuildx(shim ? shim.path : buildxPath());
  const reg = await startRegistry();
  try {
    const images = await pushPlatformImagesDetailed(reg, SOURCES_REPO[scenario], PLATFORMS, {
      tagPrefix: 'build-',
    });
    const tags = SUMMARY_TAGS.map((t) => `${reg.host}/${SUMMARY_REPO}:${t}`);
    const run = await runAction({
      inputs: {
        sources: images.map((i) => i.digestRef).join('\n'),
        tags: tags.join('\n'),
        'buildx-version': './bin/buildx',
        'retry-delay': '200ms',
        'retry-max-delay': '1s',
      },
      env: { ...shim?.env, GITHUB_WORKSPACE: ws },
      cwd: ws,
    });
    return { scenario, run, tags };
  } finally {
    shim?.remove();
    rmSync(ws, { recursive: true, force: true });
    await reg.stop();
  }
}

/** The three runs, one after the other. */
export async function runSummaryScenarios(): Promise<SummaryRun[]> {
  const runs: SummaryRun[] = [];
  for (const scenario of SUMMARY_SCENARIOS) runs.push(await runSummaryScenario(scenario));
  return runs;
}

/** What is wrong with a run for its scenario (it did not go the way it is named), or undefined. */
export function scenarioProblem({ scenario, run }: SummaryRun): string | undefined {
  const failedAttempts = (
    JSON.parse(run.outputs.result ?? '{"attempts":[]}') as { attempts: { ok: boolean }[] }
  ).attempts.filter((a) => !a.ok).length;
  const want = {
    plain: run.code === 0 && failedAttempts === 0,
    recovered: run.code === 0 && run.outputs.recovered === 'true' && failedAttempts === 1,
    failed: run.code === 1 && failedAttempts > 1,
  }[scenario];
  if (want && run.summary.trim() !== '') return undefined;
  return (
    `the ${scenario} run exited ${run.code} with ${failedAttempts} failed attempts` +
    `${run.summary.trim() === '' ? ' and no summary' : ''}; its log ends:\n${run.stdout.slice(-2000)}`
  );
}
