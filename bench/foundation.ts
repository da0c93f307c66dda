// The action against raw buildx, side by side in one run, on the test bed (Debian's registry 2.8
// on 127.0.0.1, Debian's buildx 0.13.1, Node 24). Each figure is the median of BENCH_RUNS runs
// (default 5), each paired with its baseline in the same run, and reported as a ratio.
//   1. 1 tag, 2 platforms: the action vs one raw `imagetools create`            target <= 1.5x
//   2. 10/20/40 tags, 6 platforms, fresh repository: the action (defaults) vs raw all-tags-in-one
//      (success rate), vs a raw loop of one create per tag, vs raw create-once-then-retag
//                                       targets: 100% success; <= 1.0x retag; <= 0.5x per-tag loop
//   3. recovery: one crash on the first attempt, retry-delay 1s: extra wall time over the happy run
//                                       target: <= the backoff actually waited + one attempt
//   4. start-up: process start to the first buildx spawn                        target <= 120 ms
//   5. classifier throughput on a 25,000-line crash dump and on 200 MB of progress (MB/s), and the
//      action's peak RSS while buildx prints 200 MB      targets: >= 50 MB/s; <= 150 MB RSS
// Writes the "foundation" section of bench/RESULTS.md ($BENCH_RESULTS_DIR/RESULTS.md when set).
// BENCH_TAGS (default "10,20,40") and BENCH_RUNS shorten it (CI runs a short version).
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { pushPlatformImages } from '../__tests__/testbed/images.ts';
import { buildxPath, fixturesDir, node24Path, repoRoot, testbedDir } from '../__tests__/testbed/paths.ts';
import { readDigest, startRegistry } from '../__tests__/testbed/registry.ts';
import { runAction } from '../__tests__/testbed/runner.ts';
import { makeShim } from '../__tests__/testbed/shim.ts';
import { machine, median, writeSection } from './results.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const TAG_COUNTS = (process.env.BENCH_TAGS ?? '10,20,40').split(',').map(Number);
const SIX = ['linux/amd64', 'linux/arm64', 'linux/arm/v7', 'linux/s390x', 'linux/ppc64le', 'linux/386'];
const ms = (x: number) => `${Math.round(x)} ms`;
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
const verdict = (ok: boolean) => (ok ? 'met' : '**missed**');

const reg = await startRegistry();
const rawEnv = { ...process.env, DOCKER_CONFIG: mkdtempSync(join(tmpdir(), 'bench-dc-')) };
let n = 0;
const fresh = (name: string) => `${name}${++n}/app`;
const tagsOf = (repo: string, count: number) =>
  Array.from({ length: count }, (_, i) => `${reg.host}/${repo}:t${i + 1}`);

function raw(args: string[]): { ms: number; ok: boolean } {
  const t0 = performance.now();
  const p = spawnSync(buildxPath(), ['imagetools', 'create', '--progress=plain', ...args], {
    env: rawEnv,
    stdio: 'ignore',
  });
  return { ms: performance.now() - t0, ok: p.status === 0 };
}

async function action(
  sources: string[],
  tags: string[],
  inputs: Record<string, string> = {},
  env: Record<string, string> = {},
) {
  const run = await runAction({
    inputs: { sources: sources.join('\n'), tags: tags.join('\n'), 'buildx-version': buildxPath(), ...inputs },
    env,
  });
  return { run, ms: run.durationMs, ok: run.code === 0 };
}

async function allHold(repo: string, count: number, digest: string): Promise<boolean> {
  for (let i = 1; i <= count; i++) if ((await readDigest(reg, repo, `t${i}`)) !== digest) return false;
  return true;
}

const lines: string[] = [];
try {
  const src2 = await pushPlatformImages(reg, 'bench-src2/app', SIX.slice(0, 2));
  const src6 = await pushPlatformImages(reg, 'bench-src6/app', SIX);
  raw(['--tag', `${reg.host}/${fresh('warm')}:t`, ...src2]); // warm both sides once
  await action(src2, [`${reg.host}/${fresh('warm')}:t`]);

  // 1. one tag, two platforms
  const one = { action: [] as number[], raw: [] as number[] };
  for (let i = 0; i < RUNS; i++) {
    one.raw.push(raw(['--tag', `${reg.host}/${fresh('one-raw')}:t`, ...src2]).ms);
    const a = await action(src2, [`${reg.host}/${fresh('one')}:t`]);
    if (!a.ok) throw new Error(a.run.stdout.slice(-2000));
    one.action.push(a.ms);
  }
  const r1 = median(one.action) / median(one.raw);

  // 2. many tags, six platforms
  const many: string[] = [];
  for (const count of TAG_COUNTS) {
    const f = {
      action: [] as number[],
      actionOk: 0,
      par: [] as number[],
      parOk: 0,
      all: [] as number[],
      allOk: 0,
      loop: [] as number[],
      retag: [] as number[],
    };
    for (let i = 0; i < RUNS; i++) {
      const repo = fresh(`tags${count}-`);
      const a = await action(src6, tagsOf(repo, count));
      f.action.push(a.ms);
      if (a.ok && (await allHold(repo, count, a.run.outputs.digest as string))) f.actionOk++;

      const parRepo = fresh(`par${count}-`);
      const p = await action(src6, tagsOf(parRepo, count), { 'buildx-at-once': '4' });
      f.par.push(p.ms);
      if (p.ok && (await allHold(parRepo, count, p.run.outputs.digest as string))) f.parOk++;

      const all = raw([...tagsOf(fresh(`all${count}-`), count).flatMap((t) => ['--tag', t]), ...src6]);
      f.all.push(all.ms);
      if (all.ok) f.allOk++;

      const loopRepo = fresh(`loop${count}-`);
      let t0 = performance.now();
      for (const t of tagsOf(loopRepo, count))
        if (!raw(['--tag', t, ...src6]).ok) throw new Error('raw per-tag loop failed');
      f.loop.push(performance.now() - t0);

      const retagRepo = fresh(`retag${count}-`);
      const [first, ...rest] = tagsOf(retagRepo, count);
      t0 = performance.now();
      if (!raw(['--tag', first as string, ...src6]).ok) throw new Error('raw create failed');
      const digest = await readDigest(reg, retagRepo, 't1');
      for (const t of rest)
        if (!raw(['--tag', t, `${reg.host}/${retagRepo}@${digest}`]).ok) throw new Error('raw retag failed');
      f.retag.push(performance.now() - t0);
    }
    const [a, l, r, p] = [median(f.action), median(f.loop), median(f.retag), median(f.par)];
    many.push(
      `| ${count} tags | ${ms(a)}, ${f.actionOk}/${RUNS} succeeded, every tag verified | ${ms(median(f.all))}, succeeded ${f.allOk}/${RUNS} | ${ms(l)}: ${ratio(a, l)} (${verdict(a / l <= 0.5)}) | ${ms(r)}: ${ratio(a, r)} (${verdict(a / r <= 1.0)}) | ${ms(p)}, ${f.parOk}/${RUNS} succeeded; ${ratio(p, r)} of the retag loop |`,
    );
  }

  // 3. recovery: one crash on the first attempt
  const rec = { happy: [] as number[], crash: [] as number[], budget: [] as number[] };
  for (let i = 0; i < RUNS; i++) {
    const happy = makeShim({ steps: ['pass'] });
    const h = await action(
      src2,
      [`${reg.host}/${fresh('happy')}:t`],
      { 'buildx-version': happy.path, 'retry-delay': '1s' },
      happy.env,
    );
    happy.remove();
    const crash = makeShim({ steps: ['crash', 'pass'] });
    const c = await action(
      src2,
      [`${reg.host}/${fresh('crash')}:t`],
      { 'buildx-version': crash.path, 'retry-delay': '1s' },
      crash.env,
    );
    crash.remove();
    if (!h.ok || !c.ok) throw new Error('recovery run failed');
    const attempts = JSON.parse(c.run.outputs.result as string).attempts as {
      ok: boolean;
      waitMs: number;
      durationMs: number;
    }[];
    const failed = attempts.find((x) => !x.ok);
    const okPush = attempts.filter((x) => x.ok).at(-1);
    rec.happy.push(h.ms);
    rec.crash.push(c.ms);
    rec.budget.push((failed?.waitMs ?? 0) + (okPush?.durationMs ?? 0));
  }
  const extra = rec.crash.map((c, i) => c - (rec.happy[i] as number));
  const recoveryOk = extra.filter((e, i) => e <= (rec.budget[i] as number)).length;

  // 4. start-up: a stand-in buildx stamps the time of its first start, then hands over
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
    startup.push(Number(BigInt(readFileSync(stamp, 'utf8').split('\n')[0] as string) - wall0) / 1e6);
  }

  // 5. classifier throughput (the shipped classifier, bundled) and the action's RSS under a flood
  const out = join(testbedDir, 'bench-classify');
  const built = spawnSync(
    join(repoRoot, 'node_modules', '.bin', 'ncc'),
    ['build', join(repoRoot, 'bench', 'classify-entry.ts'), '-o', out, '--quiet'],
    { stdio: 'inherit' },
  );
  if (built.status !== 0) throw new Error('ncc build of the classifier failed');
  const { classifyChunks } = (await import(join(out, 'index.js'))) as {
    classifyChunks: (b: Buffer) => string;
  };
  const crashText = readFileSync(join(fixturesDir, 'v0.30.0-fatal-concurrent-map-writes.log'), 'utf8');
  const dumpLines = crashText.split('\n');
  const dump: string[] = [];
  while (dump.length < 25_000) dump.push(...dumpLines);
  const dumpBuf = Buffer.from(dump.slice(0, 25_000).join('\n'));
  const progressLine = (i: number) =>
    `#${i % 40} ${(i % 997) / 1000} copying sha256:${i.toString(16).padStart(64, '0')} from ${reg.host}/src/app:amd64 to ${reg.host}/dst/app:t${i % 40}\n`;
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < 200e6; i++) {
    const l = progressLine(i);
    parts.push(l);
    size += l.length;
  }
  const progressBuf = Buffer.from(parts.join(''));
  const mbps = (buf: Buffer, expect: string) => {
    const xs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      const v = classifyChunks(buf);
      xs.push(buf.length / 1e6 / ((performance.now() - t0) / 1000));
      if (!v.startsWith(expect)) throw new Error(`classifier said ${v}`);
    }
    return median(xs);
  };
  const dumpMbps = mbps(dumpBuf, 'panic: concurrent map writes');
  const progressMbps = mbps(progressBuf, 'unknown');
  const rss: number[] = [];
  for (let i = 0; i < Math.min(RUNS, 3); i++) {
    const shim = makeShim({ steps: [{ mode: 'flood', mb: 200 }] });
    const run = await runAction({
      inputs: {
        sources: src2.join('\n'),
        tags: `${reg.host}/${fresh('flood')}:t`,
        'buildx-version': shim.path,
      },
      env: shim.env,
      measureRss: true,
      timeoutMs: 170_000,
    });
    shim.remove();
    if (run.code !== 0) throw new Error('flood run failed');
    rss.push((run.peakRssKb ?? 0) / 1024);
  }

  const nodeVersion = spawnSync(node24Path(), ['--version'], { encoding: 'utf8' }).stdout.trim();
  const bx = spawnSync(buildxPath(), ['version'], { encoding: 'utf8' }).stdout.trim();
  lines.push(
    '## The merge (bench/foundation.ts)',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}, Node ${nodeVersion}, \`${bx}\`, ` +
      `Debian's registry 2.8 on 127.0.0.1. Medians of ${RUNS} runs, each paired with its baselines in the same run. ` +
      "The action's times are whole runs of `dist/index.js` as the runner starts it (Node start-up, `buildx version`, " +
      'the `--dry-run` alongside the first push, the pushes, one read-back per tag).',
    '',
    '| 1 tag, 2 platforms | the action | one raw create | ratio (target <= 1.5x) |',
    '| --- | --- | --- | --- |',
    `| | ${ms(median(one.action))} | ${ms(median(one.raw))} | ${r1.toFixed(2)}x (${verdict(r1 <= 1.5)}) |`,
    '',
    '| 6 platforms, fresh repository | the action, defaults (target: 100%) | raw, all tags in one call | raw loop, one create per tag (target <= 0.5x) | raw create once, then retag by digest (target <= 1.0x) | the action, buildx-at-once 4 |',
    '| --- | --- | --- | --- | --- | --- |',
    ...many,
    '',
    '| recovery (one crash, retry-delay 1s) | happy run | with the crash | extra | backoff waited + one attempt | within (target: all) |',
    '| --- | --- | --- | --- | --- | --- |',
    `| | ${ms(median(rec.happy))} | ${ms(median(rec.crash))} | ${ms(median(extra))} | ${ms(median(rec.budget))} | ${recoveryOk}/${RUNS} (${verdict(recoveryOk === RUNS)}) |`,
    '',
    '| measure | figure | target |',
    '| --- | --- | --- |',
    `| start-up: process start to first buildx spawn | ${ms(median(startup))} (min ${ms(Math.min(...startup))}, max ${ms(Math.max(...startup))}) | <= 120 ms (${verdict(median(startup) <= 120)}) |`,
    `| classifier, 25,000-line crash dump (${(dumpBuf.length / 1e6).toFixed(1)} MB) | ${dumpMbps.toFixed(0)} MB/s | >= 50 MB/s (${verdict(dumpMbps >= 50)}) |`,
    `| classifier, 200 MB of progress output | ${progressMbps.toFixed(0)} MB/s | >= 50 MB/s (${verdict(progressMbps >= 50)}) |`,
    `| the action's peak RSS while buildx prints 200 MB | ${median(rss).toFixed(0)} MiB (max ${Math.max(...rss).toFixed(0)}) | <= 150 MB (${verdict(Math.max(...rss) <= 143)}) |`,
    '',
  );
  writeSection('foundation', lines.join('\n'));
  process.stdout.write(lines.join('\n'));
} finally {
  await reg.stop();
}
