// Installer figures against a local release server serving Debian's buildx 0.13.1 (a 66 MB
// binary) as v0.13.1: a download + sha256 verify + version check + cache into an empty tool
// cache, and a cache hit. Each the median of RUNS runs of the bundled action (dry-run, so buildx
// does the least); the install time is the action's own measurement (result.buildx.installMs).
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { pushPlatformImages } from '../__tests__/testbed/images.ts';
import { buildxPath } from '../__tests__/testbed/paths.ts';
import { startRegistry } from '../__tests__/testbed/registry.ts';
import { startReleaseServer } from '../__tests__/testbed/release-server.ts';
import { runAction } from '../__tests__/testbed/runner.ts';
import { machine, median, writeSection } from './results.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const reg = await startRegistry();
const server = await startReleaseServer({ binary: buildxPath(), releases: [{ tag: 'v0.13.1' }] });
try {
  const sources = await pushPlatformImages(reg, 'bench-install/app', ['linux/amd64', 'linux/arm64']);
  const installMs = async (toolCache: string) => {
    const run = await runAction({
      inputs: {
        sources: sources.join('\n'),
        'dry-run': 'true',
        'buildx-version': 'v0.13.1',
        'buildx-mirror': server.mirror,
      },
      env: { RUNNER_TOOL_CACHE: toolCache, GITHUB_API_URL: server.apiUrl },
    });
    if (run.code !== 0) throw new Error(run.stdout.slice(-2000));
    return JSON.parse(run.outputs.result as string).buildx.installMs as number;
  };
  const cold: number[] = [];
  const warm: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const cache = mkdtempSync(join(tmpdir(), 'bench-toolcache-'));
    cold.push(await installMs(cache));
    warm.push(await installMs(cache));
  }
  const mb = statSync(buildxPath()).size / 1e6;
  const lines = [
    '## The installer (bench/install.ts)',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}; a local HTTP server on 127.0.0.1 serving Debian's ` +
      `buildx 0.13.1 (${mb.toFixed(1)} MB) as v0.13.1 with its checksums.txt. Medians of ${RUNS} runs of the bundled action.`,
    '',
    '| install | time |',
    '| --- | --- |',
    `| download + sha256 verify + \`version\` check + tool cache, empty cache | ${Math.round(median(cold))} ms (min ${Math.min(...cold)}, max ${Math.max(...cold)}) |`,
    `| cache hit (\`version\` check of the cached binary, no network) | ${Math.round(median(warm))} ms (min ${Math.min(...warm)}, max ${Math.max(...warm)}) |`,
    '',
  ];
  writeSection('install', lines.join('\n'));
  process.stdout.write(lines.join('\n'));
} finally {
  await server.stop();
  await reg.stop();
}
