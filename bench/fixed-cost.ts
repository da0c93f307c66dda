// The action's fixed cost on 1 tag (the action minus one raw `imagetools create`, buildx given as
// a path, registry 2.8 on loopback, Node 24), and where it goes: node start, bundle load, buildx
// version, the --dry-run, the create; then the action's own timeline, from runs through a thin
// wrapper that logs when each buildx call starts and ends. Runs interleaved; each figure is the
// median of BENCH_RUNS (default 15).                                      target: fixed cost <= 60 ms
// BENCH_BASE_ENTRY=<other dist/index.js> adds that bundle's runs, interleaved, for a before/after
// (BENCH_BASE_LABEL names it in the results).
// Writes the "fixed-cost" section of bench/RESULTS.md ($BENCH_RESULTS_DIR/RESULTS.md when set).
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
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
const tmp = mkdtempSync(join(tmpdir(), 'bench-fc-trace-'));
const ms = (x: number) => `${Math.round(x)} ms`;

/** How long a run takes; it must exit 0 unless `fails`. */
function timed(file: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}, fails = false): number {
  const t0 = performance.now();
  const r = spawnSync(file, args, { env: { ...env, ...extraEnv }, stdio: ['ignore', 'ignore', 'pipe'] });
  const took = performance.now() - t0;
  if ((r.status === 0) === fails) throw new Error(`${file} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return took;
}

// The tracer: buildx behind `sh`, logging `start|end <ns since the epoch> <command> --dry-run?`.
const traceLog = join(tmp, 'trace.log');
const tracer = join(tmp, 'buildx');
writeFileSync(
  tracer,
  [
    '#!/bin/sh',
    'case " $* " in *" --dry-run "*) what="$1-dry-run";; *) what="$1";; esac',
    `echo "start $(date +%s%N) $what" >> '${traceLog}'`,
    `'${buildxPath()}' "$@"`,
    'rc=$?',
    `echo "end $(date +%s%N) $what" >> '${traceLog}'`,
    'exit $rc',
    '',
  ].join('\n'),
);
chmodSync(tracer, 0o755);

const MOMENTS = {
  'the first buildx starts (node start, bundle load, inputs, policy)': 'start',
  '`buildx version` ends': 'end version',
  'the --dry-run ends': 'end imagetools-dry-run',
  'the push starts': 'start imagetools',
  'the push ends': 'end imagetools',
} as const;

/** One traced run: ms from the action's spawn to each moment, and to its exit. */
async function timeline(entry: string, tag: string, src: string[]): Promise<Record<string, number>> {
  writeFileSync(traceLog, '');
  let spawned = 0;
  let exited = 0;
  const run = await runAction({
    entry,
    inputs: { sources: src.join('\n'), tags: tag, 'buildx-version': tracer },
    onSpawn: (child) => {
      spawned = performance.timeOrigin + performance.now();
      child.once('exit', () => (exited = performance.timeOrigin + performance.now()));
    },
  });
  if (run.code !== 0) throw new Error(run.stdout.slice(-2000));
  const events = readFileSync(traceLog, 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(' '))
    .map(([e, ns, what]) => ({ key: `${e} ${what}`, at: Number(BigInt(ns!) / 1000n) / 1000 - spawned }));
  const at = (key: string) =>
    key === 'start' ? Math.min(...events.map((e) => e.at)) : (events.find((e) => e.key === key)?.at ?? NaN);
  return {
    ...Object.fromEntries(Object.entries(MOMENTS).map(([name, key]) => [name, at(key)])),
    'the action exits': exited - spawned,
  };
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
const BASE_LABEL = process.env.BENCH_BASE_LABEL || 'the bundle at BENCH_BASE_ENTRY';
const base: number[] = [];
const lines: Record<string, { now: number[]; base: number[] }> = {};
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
      timed(node24Path(), [actionEntry], { GITHUB_ACTIONS: 'true' }, true),
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
    const traced = await timeline(actionEntry, tag('traced'), src);
    const tracedBase = BASE ? await timeline(BASE, tag('traced-base'), src) : undefined;
    if (!keep) continue;
    if (baseRun) base.push(baseRun.durationMs);
    [nodeStart, load, version, dryRun, create].forEach((a, j) => a?.push(t[j] as number));
    action?.push(run.durationMs);
    for (const [k, v] of Object.entries(traced)) {
      const line = (lines[k] ??= { now: [], base: [] });
      line.now.push(v);
      if (tracedBase) line.base.push(tracedBase[k] as number);
    }
  }
} finally {
  await reg.stop();
}

const fixed = median(action as number[]) - median(create as number[]);
const out = [
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
  out.push(`| ${BASE_LABEL}, 1 tag (fixed cost ${ms(f)}) | ${ms(median(base))} |`);
}
out.push(
  '',
  "Where the action's time goes: ms from its spawn, through a wrapper (`sh`) that logs when each buildx call starts and ends (a few ms more per call).",
  '',
  BASE ? `| moment | this bundle | ${BASE_LABEL} |` : '| moment | median |',
  BASE ? '| --- | --- | --- |' : '| --- | --- |',
  ...Object.entries(lines).map(
    ([k, v]) => `| ${k} | ${ms(median(v.now))} |${BASE ? ` ${ms(median(v.base))} |` : ''}`,
  ),
);
const at = (k: keyof typeof MOMENTS | 'the action exits') => median(lines[k]?.now ?? []);
const first = at('the first buildx starts (node start, bundle load, inputs, policy)');
const pushStart = at('the push starts');
const pushEnd = at('the push ends');
out.push(
  '',
  `In short, this bundle: ${ms(first)} before its first buildx (Node's start alone: ${ms(median(nodeStart!))}; the rest is loading the bundle, then the inputs and the policy), ` +
    `${ms(pushStart - first)} more until the push starts (\`buildx version\`, and the reads before it), ` +
    `the push ${ms(pushEnd - pushStart)} (one raw create: ${ms(median(create!))}), ` +
    `then ${ms(at('the action exits') - pushEnd)} (the read-back, outputs and summary, exit).`,
);
console.log(out.join('\n'));
writeSection('fixed-cost', out.join('\n'));
