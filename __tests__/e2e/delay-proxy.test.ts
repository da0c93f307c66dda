// The delay proxy (testbed/delay-proxy.ts) in front of a real registry 2.8: the delay is there
// (every round trip through it costs at least 2 x delayMs more than direct), and what goes through
// it lands in the registry unchanged (real buildx creates an index through it; curl reads it back).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type DelayProxy, startDelayProxy } from '../testbed/delay-proxy.js';
import { pushPlatformImages } from '../testbed/images.js';
import { realBuildxes } from '../testbed/paths.js';
import { runProcess } from '../testbed/proc.js';
import { readDigest, readManifest, type Registry, startRegistry } from '../testbed/registry.js';

let reg: Registry;
const proxies: DelayProxy[] = [];

beforeAll(async () => {
  reg = await startRegistry();
});
afterAll(async () => {
  for (const p of proxies) await p.stop();
  await reg.stop();
});

/** The fastest and the median wall time of `n` GETs of `/v2/` (one request, one response each), in ms. */
async function roundTrip(url: string, n = 7): Promise<{ min: number; median: number }> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(5_000) });
    await res.arrayBuffer();
    expect(res.status).toBe(200);
    xs.push(performance.now() - t0);
  }
  xs.sort((a, b) => a - b);
  return { min: xs[0] as number, median: xs[Math.floor(n / 2)] as number };
}

describe('delay proxy', () => {
  it.each([
    { delayMs: 25, atLeast: 50, below: 200 },
    { delayMs: 0, atLeast: 0, below: 50 },
  ])(
    'delayMs $delayMs: every round trip through it takes >= $atLeast ms, < $below ms more than direct',
    async ({ delayMs, atLeast, below }) => {
      const proxy = await startDelayProxy({ target: reg.url, delayMs });
      proxies.push(proxy);
      const direct = await roundTrip(reg.url);
      const through = await roundTrip(proxy.url);
      // every round trip through it is held twice: even the fastest costs 2 x delayMs (a
      // difference of two medians would also carry the machine's noise on the direct side)
      expect(through.min).toBeGreaterThanOrEqual(atLeast);
      expect(through.median - direct.median).toBeLessThan(below);
    },
  );

  it.each(realBuildxes())(
    'buildx $version creates an index through it; it lands unchanged',
    async ({ path }) => {
      const proxy = await startDelayProxy({ target: reg.url });
      proxies.push(proxy);
      const sources = await pushPlatformImages(proxy, `delay-src-${path.length}/app`, [
        'linux/amd64',
        'linux/arm64',
      ]);
      const repo = `delay-dst-${path.length}/app`;
      const before = proxy.requests();
      const run = await runProcess(path, [
        'imagetools',
        'create',
        '--tag',
        `${proxy.host}/${repo}:t`,
        ...sources,
      ]);
      expect(run.code, run.stderr).toBe(0);
      expect(proxy.requests()).toBeGreaterThan(before);
      const direct = await readManifest(reg, repo, 't');
      expect(direct?.mediaType).toMatch(/index|manifest\.list/);
      // curl, through the proxy: the same digest as direct
      const curl = await runProcess('curl', [
        '-sS',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '-H',
        `Accept: ${direct?.mediaType}`,
        '-X',
        'GET',
        `${proxy.url}/v2/${repo}/manifests/t`,
      ]);
      expect(curl.stdout).toBe('200');
      expect(await readDigest(proxy, repo, 't')).toBe(direct?.digest);
    },
  );
});
