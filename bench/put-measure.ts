// Measurement behind the puts-at-once default (not part of `npm run bench`): 40 tags x 6
// platforms, the action before (the base bundle, BASE_ENTRY) and after (tag-method buildx, and put
// with puts-at-once 1, 4, 8, 16), and the create-then-retag loop, with each real buildx.
// Median of BENCH_RUNS. BENCH_DELAY_MS puts the test bed's delay proxy (every request and every
// response held that long) between everything and the registry: a registry far away.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startDelayProxy } from '../__tests__/testbed/delay-proxy.ts';
import { pushPlatformImages } from '../__tests__/testbed/images.ts';
import { realBuildxes } from '../__tests__/testbed/paths.ts';
import { runProcess } from '../__tests__/testbed/proc.ts';
import { readDigest, startRegistry } from '../__tests__/testbed/registry.ts';
import { runAction } from '../__tests__/testbed/runner.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const K = Number(process.env.BENCH_TAGS ?? 40);
const BASE = process.env.BASE_ENTRY;
const DELAY_MS = Number(process.env.BENCH_DELAY_MS ?? 0);
const AFTER = process.env.AFTER_ENTRY;
const SIX = ['linux/amd64', 'linux/arm64', 'linux/arm/v7', 'linux/s390x', 'linux/ppc64le', 'linux/386'];
const env = { ...process.env, DOCKER_CONFIG: mkdtempSync(join(tmpdir(), 'pm-dc-')) };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const reg = await startRegistry();
const proxy = DELAY_MS > 0 ? await startDelayProxy({ target: reg.url, delayMs: DELAY_MS }) : undefined;
const host = proxy?.host ?? reg.host;
let n = 0;
const tagsOf = (repo: string) => Array.from({ length: K }, (_, i) => `${host}/${repo}:t${i + 1}`);
try {
  const src = (await pushPlatformImages(reg, 'pm-src/app', SIX)).map((r) => r.replace(reg.host, host));
  for (const bx of realBuildxes()) {
    // async: the delay proxy runs in this process, so a synchronous spawn would stall it
    const retag = async (): Promise<number> => {
      const tags = tagsOf(`pm${++n}/app`);
      const t0 = performance.now();
      await runProcess(bx.path, ['imagetools', 'create', '--tag', tags[0]!, ...src], { env });
      for (const t of tags.slice(1)) {
        await runProcess(bx.path, ['imagetools', 'create', '--tag', t, tags[0]!], { env });
      }
      return performance.now() - t0;
    };
    const act = async (inputs: Record<string, string>, entry?: string): Promise<number> => {
      const repo = `pm${++n}/app`;
      const run = await runAction({
        timeoutMs: 600_000,
        inputs: {
          sources: src.join('\n'),
          tags: tagsOf(repo).join('\n'),
          'buildx-version': bx.path,
          ...inputs,
        },
        ...((entry ?? AFTER) ? { entry: entry ?? AFTER } : {}),
      });
      if (run.code !== 0) throw new Error(run.stdout.slice(-2000));
      const digest = run.outputs.digest!;
      for (let i = 1; i <= K; i++)
        if ((await readDigest(reg, repo, `t${i}`)) !== digest) throw new Error('lost');
      return run.durationMs;
    };
    const cases: [string, () => Promise<number>][] = [
      ['create-then-retag loop', retag],
      ...(BASE
        ? [['action before (base bundle)', () => act({}, BASE)] as [string, () => Promise<number>]]
        : []),
      ['action tag-method buildx', () => act({ 'tag-method': 'buildx' })],
      ['action put, puts-at-once 1', () => act({ 'puts-at-once': '1' })],
      ['action put, puts-at-once 4', () => act({ 'puts-at-once': '4' })],
      ['action put, puts-at-once 8', () => act({ 'puts-at-once': '8' })],
      ['action put, puts-at-once 16', () => act({ 'puts-at-once': '16' })],
    ];
    await act({}); // warm
    const times = new Map<string, number[]>(cases.map(([name]) => [name, []]));
    for (let r = 0; r < RUNS; r++) for (const [name, f] of cases) times.get(name)!.push(await f());
    const loop = median(times.get('create-then-retag loop')!);
    for (const [name, xs] of times) {
      const m = median(xs);
      console.log(
        `${DELAY_MS} ms away | buildx ${bx.version} | ${K} tags | ${name} | ${(m / 1000).toFixed(2)} s | ${(m / loop).toFixed(2)}x loop | runs ${xs.map((x) => Math.round(x)).join(', ')} ms`,
      );
    }
  }
} finally {
  await proxy?.stop();
  await reg.stop();
}
