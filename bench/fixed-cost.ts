// The action's fixed cost on 1 tag (the action minus one raw `imagetools create`, buildx given as
// a path, registry 2.8 on loopback, Node 24), and where it goes: node start, bundle load, buildx
// version, the --dry-run, the create. Runs interleaved; each figure is the median of BENCH_RUNS
// (default 15).                                                           target: fixed cost <= 60 ms
// BENCH_BASE_ENTRY=<other dist/index.js> adds that bundle's runs, interleaved, for a before/after.
// Writes the "fixed-cost" section of bench/RESULTS.md ($BENCH_RESULTS_DIR/RESULTS.md when set).
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { pushPlatformImages } from '../__tests__/testbed/images.ts';
import { actionEntry, buildxPath, node24Path } from '../__tests__/testbed/paths.ts';
import { startRegistry } from '../__tests__/testbed/registry.ts';
import { runAction } from '../__tests__/testbed/runner.ts';
import { machine, median, writeSection } from './results.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const TARGET_MS = 60;
const env = { ...process.env, DOCKER_CONFIG: mkdtempSync(join(tmpdir(), 'bench-fc-')) };
const ms = (x: number) => `${Math.round(x)} ms`;

function timed(file: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): number {
  const t0 = performance.now();
  spawnSync(file, args, { env: { ...env, ...extraEnv }, stdio: 'ignore' });
  return performance.now() - t0;
}

const reg = await startRegistry();
const steps: Record<string, number[]> = {
  'node start (`node -e 0`)': [],
  'node start + bundle load (the bundle stopped at its first input)': [],
  '`buildx version`': [],
  '`imagetools create --dry-run`': [],
  'one raw `imagetools create`': [],
  'the action, 1 tag': [],
};
const BASE = process.env.BENCH_BASE_ENTRY;
const base: number[] = [];
const [nodeStart, load, version, dryRun, create, action] = Object.values(steps) as number[][];
try {
  const src = await pushPlatformImages(reg, 'fc-src/app', ['linux/amd64', 'linux/arm64']);
  let n = 0;
  for (let i = 0; i < RUNS + 1; i++) {
    const keep = i > 0; // the first round warms both sides
    const tag = (k: string) => `${reg.host}/fc-${k}${++n}/app:t`;
    const t = [
      timed(node24Path(), ['-e', '0']),
      // no INPUT_SOURCES: the run stops at the first input it reads, after loading everything
      timed(node24Path(), [actionEntry], { GITHUB_ACTIONS: 'true' }),
      timed(buildxPath(), ['version']),
      timed(buildxPath(), ['imagetools', 'create', '--dry-run', '--tag', tag('dry'), ...src]),
      timed(buildxPath(), ['imagetools', 'create', '--progress=plain', '--tag', tag('raw'), ...src]),
    ];
    const run = await runAction({
      inputs: { sources: src.join('\n'), tags: tag('action'), 'buildx-version': buildxPath() },
    });
    if (run.code !== 0) throw new Error(run.stdout.slice(-2000));
    const baseRun = BASE
      ? await runAction({
          entry: BASE,
          inputs: { sources: src.join('\n'), tags: tag('base'), 'buildx-version': buildxPath() },
        })
      : undefined;
    if (baseRun && baseRun.code !== 0) throw new Error(baseRun.stdout.slice(-2000));
    if (!keep) continue;
    if (baseRun) base.push(baseRun.durationMs);
    [nodeStart, load, version, dryRun, create].forEach((a, j) => a?.push(t[j] as number));
    action?.push(run.durationMs);
  }
} finally {
  await reg.stop();
}

const fixed = median(action as number[]) - median(create as number[]);
const lines = [
  '## Fixed cost (1 tag)',
  '',
  `Node 24, buildx 0.13.1 given as a path, registry 2.8 on loopback, 2 platforms; medians of ${RUNS} interleaved runs; ${machine()}.`,
  '',
  '| step | median |',
  '| --- | --- |',
  ...Object.entries(steps).map(([k, v]) => `| ${k} | ${ms(median(v))} |`),
  `| **fixed cost** (the action minus one raw create; target <= ${TARGET_MS} ms) | **${ms(fixed)}** (${fixed <= TARGET_MS ? 'met' : '**missed**'}) |`,
];
if (BASE) {
  const f = median(base) - median(create as number[]);
  lines.push(`| the bundle at BENCH_BASE_ENTRY, 1 tag (fixed cost ${ms(f)}) | ${ms(median(base))} |`);
}
console.log(lines.join('\n'));
writeSection('fixed-cost', lines.join('\n'));
