// Foundation figures, side by side in one run against the test bed (registry 2.8, Debian's
// buildx 0.13.1), each the median of RUNS runs:
//   1. one tag from two platforms: the action vs one raw `imagetools create`
//   2. twenty tags from six platforms into a fresh repository: the action (defaults) vs a raw
//      loop of one create per tag, and the success rate of raw all-tags-in-one-call
//   3. start-up: from the action's process start to its first buildx spawn
// Writes bench/RESULTS.md. Run: `npm run bench` (after `npm run testbed`).
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { pushPlatformImages } from '../__tests__/testbed/images.ts';
import { buildxPath, node24Path } from '../__tests__/testbed/paths.ts';
import { readDigest, startRegistry } from '../__tests__/testbed/registry.ts';
import { runAction } from '../__tests__/testbed/runner.ts';
import { machine, median, writeSection } from './results.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const ms = (x: number) => `${Math.round(x)} ms`;

const reg = await startRegistry();
const dockerConfig = mkdtempSync(join(tmpdir(), 'bench-dc-'));
const rawEnv = { ...process.env, DOCKER_CONFIG: dockerConfig };
let n = 0;
const fresh = (name: string) => `${name}${++n}/app`;

function raw(args: string[]): { ms: number; ok: boolean } {
  const t0 = performance.now();
  const p = spawnSync(buildxPath(), ['imagetools', 'create', '--progress=plain', ...args], {
    env: rawEnv,
    stdio: 'ignore',
  });
  return { ms: performance.now() - t0, ok: p.status === 0 };
}

async function action(sources: string[], tags: string[], extra: Record<string, string> = {}) {
  const run = await runAction({
    inputs: { sources: sources.join('\n'), tags: tags.join('\n'), 'buildx-version': buildxPath(), ...extra },
  });
  if (run.code !== 0) throw new Error(`the action failed:\n${run.stdout.slice(-3000)}`);
  return run;
}

try {
  const src2 = await pushPlatformImages(reg, 'bench-src2/app', ['linux/amd64', 'linux/arm64']);
  const src6 = await pushPlatformImages(reg, 'bench-src6/app', [
    'linux/amd64',
    'linux/arm64',
    'linux/arm/v7',
    'linux/s390x',
    'linux/ppc64le',
    'linux/386',
  ]);
  // warm up both sides once
  raw(['--tag', `${reg.host}/${fresh('warm')}:t`, ...src2]);
  await action(src2, [`${reg.host}/${fresh('warm')}:t`]);

  // 1. one tag, two platforms
  const one = { action: [] as number[], raw: [] as number[] };
  for (let i = 0; i < RUNS; i++) {
    one.raw.push(raw(['--tag', `${reg.host}/${fresh('one-raw')}:t`, ...src2]).ms);
    one.action.push((await action(src2, [`${reg.host}/${fresh('one')}:t`])).durationMs);
  }

  // 2. twenty tags, six platforms, fresh repository each time
  const twenty = {
    action: [] as number[],
    loop: [] as number[],
    allInOne: [] as number[],
    allInOneOk: 0,
    actionOk: 0,
  };
  const tags = (r: string) => Array.from({ length: 20 }, (_, i) => `${reg.host}/${r}:t${i + 1}`);
  for (let i = 0; i < RUNS; i++) {
    const r = fresh('twenty');
    const run = await action(src6, tags(r));
    twenty.action.push(run.durationMs);
    let verified = 0;
    for (const t of tags(r))
      if ((await readDigest(reg, r, t.split(':').at(-1) as string)) === run.outputs.digest) verified++;
    if (verified === 20) twenty.actionOk++;

    const loopRepo = fresh('loop');
    const t0 = performance.now();
    for (const t of tags(loopRepo)) if (!raw(['--tag', t, ...src6]).ok) throw new Error('raw loop failed');
    twenty.loop.push(performance.now() - t0);

    const all = raw([...tags(fresh('all')).flatMap((t) => ['--tag', t]), ...src6]);
    twenty.allInOne.push(all.ms);
    if (all.ok) twenty.allInOneOk++;
  }

  // 3. start-up: a stand-in buildx stamps the time of its first start, then hands over
  const stampDir = mkdtempSync(join(tmpdir(), 'bench-stamp-'));
  const stub = join(stampDir, 'buildx');
  const stamp = join(stampDir, 'stamp');
  writeFileSync(stub, `#!/bin/sh\ndate +%s%N >> '${stamp}'\nexec '${buildxPath()}' "$@"\n`);
  chmodSync(stub, 0o755);
  const startup: number[] = [];
  for (let i = 0; i < Math.max(RUNS, 10); i++) {
    writeFileSync(stamp, '');
    const wall0 = BigInt(Date.now()) * 1_000_000n;
    await runAction({
      inputs: { sources: src2.join('\n'), tags: `${reg.host}/${fresh('start')}:t`, 'buildx-version': stub },
    });
    const first = BigInt(readFileSync(stamp, 'utf8').split('\n')[0] as string);
    startup.push(Number(first - wall0) / 1e6);
  }

  const nodeVersion = spawnSync(node24Path(), ['--version'], { encoding: 'utf8' }).stdout.trim();
  const bx = spawnSync(buildxPath(), ['version'], { encoding: 'utf8' }).stdout.trim();
  const lines = [
    '## The merge (bench/foundation.ts)',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}, ` +
      `Node ${nodeVersion}, \`${bx}\`, Debian's registry 2.8 on 127.0.0.1. Medians of ${RUNS} runs, ` +
      'each paired with its baseline in the same run. Command: `npm run bench`.',
    '',
    '| scenario | the action | baseline | ratio |',
    '| --- | --- | --- | --- |',
    `| 1 tag, 2 platforms | ${ms(median(one.action))} | one raw create: ${ms(median(one.raw))} | ${(median(one.action) / median(one.raw)).toFixed(2)}x |`,
    `| 20 tags, 6 platforms, fresh repository | ${ms(median(twenty.action))} (${twenty.actionOk}/${RUNS} succeeded, all tags verified) | raw loop of one create per tag: ${ms(median(twenty.loop))} | ${(median(twenty.action) / median(twenty.loop)).toFixed(2)}x |`,
    `| 20 tags, raw all-in-one call | | ${ms(median(twenty.allInOne))}, succeeded ${twenty.allInOneOk}/${RUNS} | |`,
    `| start-up: process start to first buildx spawn | ${ms(median(startup))} (min ${ms(Math.min(...startup))}, max ${ms(Math.max(...startup))}) | | |`,
    '',
    "The action's times are whole runs of `dist/index.js` on Node 24 as the runner starts it: Node start-up, " +
      '`buildx version`, the `--dry-run` oracle, the pushes and the read-back of every tag.',
    '',
  ];
  writeSection('foundation', lines.join('\n'));
  process.stdout.write(lines.join('\n'));
} finally {
  await reg.stop();
}
