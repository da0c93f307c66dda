// The action's own timeline on the multi-runner pattern: six platform images pushed by digest
// into the repository the tags go to, registry 2.8 behind the delay proxy (25 ms each way), buildx
// 0.29.1 given as a path. Each run prints its duration and the proxy's request count; with
// BENCH_TIMELINE_SHOW=1 every log line of the action too, with the ms since the start at which it
// arrived. BENCH_TIMELINE_ENTRY runs another bundle (e.g. an older main's, for before/after),
// BENCH_TIMELINE_TAGS (10) and BENCH_TIMELINE_RUNS (3) the shape; BENCH_TIMELINE_PUTS sets
// puts-at-once. Prints only: the figures it gives are quoted in bench/README.md.
import { startDelayProxy } from '../__tests__/testbed/delay-proxy.ts';
import { pushPlatformImagesDetailed } from '../__tests__/testbed/images.ts';
import { buildx029Path } from '../__tests__/testbed/paths.ts';
import { startRegistry } from '../__tests__/testbed/registry.ts';
import { runAction } from '../__tests__/testbed/runner.ts';

const SIX = ['linux/amd64', 'linux/arm64', 'linux/arm/v7', 'linux/s390x', 'linux/ppc64le', 'linux/386'];
const K = Number(process.env.BENCH_TIMELINE_TAGS ?? 10);
const RUNS = Number(process.env.BENCH_TIMELINE_RUNS ?? 3);
const puts = process.env.BENCH_TIMELINE_PUTS;

const reg = await startRegistry();
const proxy = await startDelayProxy({ target: reg.url, delayMs: 25 });
try {
  for (let run = 0; run < RUNS; run++) {
    const repo = `timeline-${run}/app`;
    const images = await pushPlatformImagesDetailed(reg, repo, SIX);
    const sources = images.map((i) => `${proxy.host}/${repo}@${i.digest}`);
    const tags = Array.from({ length: K }, (_, i) => `${proxy.host}/${repo}:t${i + 1}`);
    const before = proxy.requests();
    const t0 = performance.now();
    const lines: string[] = [];
    let rest = '';
    const a = await runAction({
      inputs: {
        sources: sources.join('\n'),
        tags: tags.join('\n'),
        'buildx-version': buildx029Path(),
        ...(puts ? { 'puts-at-once': puts } : {}),
      },
      entry: process.env.BENCH_TIMELINE_ENTRY || undefined,
      timeoutMs: 120_000,
      onSpawn: (child) =>
        child.stdout?.on('data', (d: Buffer) => {
          const parts = (rest + d.toString()).split('\n');
          rest = parts.pop() ?? '';
          const at = Math.round(performance.now() - t0);
          for (const l of parts) lines.push(`${String(at).padStart(5)} ${l.slice(0, 160)}`);
        }),
    });
    const requests = proxy.requests() - before;
    console.log(`run ${run + 1}: exit ${a.code}, ${Math.round(a.durationMs)} ms, ${requests} requests`);
    if (process.env.BENCH_TIMELINE_SHOW) console.log(lines.join('\n'));
  }
} finally {
  await proxy.stop();
  await reg.stop();
}
