// Rate limits end to end: the bundled action with real buildx (0.13.1 and 0.29.1) pushing through
// the fault proxy to a real registry 2.8, and the action's own registry client reading through it.
// - 429 with the wait in the text (GHCR: `retry-after: 2s, allowed: 2000/minute`): retried once,
//   after at least that wait when buildx prints it (0.29.1; 0.13.1 prints no body), nothing lost;
// - 429 with a Retry-After header: buildx prints no header, so the push is retried on the backoff;
//   the action's own reads honour it (RegistryClient below);
// - GHCR's 403 secondary rate limit: retried and succeeds where buildx prints the registry's words
//   (0.29.1); 0.13.1 prints a bare `403 Forbidden`, which stays permanent like any plain 403;
// - a plain 403: not retried.

import { describe, expect, it } from 'vitest';

import { RegistryClient } from '../../src/registry/client.js';
import { parseReference } from '../../src/registry/reference.js';
import { useProxiedRegistry } from '../testbed/hooks.js';
import { type FaultRule } from '../testbed/fault-proxy.js';
import { platformTag } from '../testbed/images.js';
import { realBuildxes } from '../testbed/paths.js';
import { readDigest } from '../testbed/registry.js';
import { runAction } from '../testbed/runner.js';

const PLATFORMS = ['linux/amd64', 'linux/arm64'];

interface Attempt {
  invocation: number | 'oracle';
  ok: boolean;
  class?: string;
  signature?: string;
  waitMs: number;
  askedWaitMs?: number;
}

const bed = useProxiedRegistry(PLATFORMS, 'rate-limits-');
let n = 0;

/** The action merging the two sources into two tags, all through the proxy following `rules`. */
async function merge(buildx: string, rules: FaultRule[]) {
  const repo = `rl${++n}/app`;
  bed.proxy.setRules(rules);
  const started = Date.now();
  const r = await runAction({
    inputs: {
      sources: PLATFORMS.map((p) => `${bed.proxy.host}/src/app:${platformTag(p)}`).join('\n'),
      tags: `${bed.proxy.host}/${repo}:v1\n${bed.proxy.host}/${repo}:latest`,
      'buildx-version': buildx,
      'retry-delay': '100ms',
    },
    env: { DOCKER_CONFIG: bed.dockerConfig },
  });
  const elapsedMs = Date.now() - started;
  const result = r.outputs.result ? (JSON.parse(r.outputs.result) as { attempts: Attempt[] }) : undefined;
  const pushes = (result?.attempts ?? []).filter((a) => a.invocation !== 'oracle');
  const held = [await readDigest(bed.reg, repo, 'v1'), await readDigest(bed.reg, repo, 'latest')];
  return { r, pushes, held, elapsedMs };
}

// The first 16 manifest PUTs. buildx (containerd) itself sends a PUT answered 429 again at once, up to
// 5 times, whatever wait was asked: a registry must refuse a run of PUTs before buildx fails.
const first16 = (action: FaultRule['action']): FaultRule[] => [{ match: 'manifest-put', action, times: 16 }];

describe.each(realBuildxes())('buildx $version', ({ version, path }) => {
  it("429 with GHCR's wait in the text: retried and nothing lost; the wait asked for is taken when buildx prints it", async () => {
    const { r, pushes, held, elapsedMs } = await merge(path, first16({ status: 429, waitInText: '2s' }));
    expect(r.code, r.stdout.slice(-3000)).toBe(0);
    expect(held).toEqual([r.outputs.digest, r.outputs.digest]);
    const failed = pushes.filter((a) => !a.ok);
    expect(failed.length).toBeGreaterThanOrEqual(1);
    for (const a of failed) {
      expect(a).toMatchObject({ class: 'transient', signature: '429 Too Many Requests' });
      if (version === '0.13.1') {
        // 0.13.1 prints `429 Too Many Requests` without the body: no wait to honour
        expect(a.askedWaitMs).toBeUndefined();
      } else {
        expect(a.askedWaitMs).toBe(2000);
        expect(a.waitMs).toBeGreaterThanOrEqual(2000);
      }
    }
    if (version !== '0.13.1') {
      expect(elapsedMs).toBeGreaterThanOrEqual(2000 * failed.length);
      expect(r.stdout).toMatch(
        /Retrying in 2\.0s \(the registry asked for 2\.0s\): transient \(429 Too Many Requests\)/,
      );
      // the summary counts the asked waits in the sentence above the attempts, and shows each beside its wait
      expect(r.summary).toMatch(
        new RegExp(
          `\\nRan 1 --dry-run and ${pushes.length} push attempts: .*\\(${failed.length} asked for by the registry\\)\\.\\n`,
        ),
      );
      expect(r.summary.match(/ \(registry asked 2s\) \|$/gm)).toHaveLength(failed.length);
    }
  });

  it('429 with a Retry-After header: buildx prints no header; retried on the backoff, nothing lost', async () => {
    const { r, pushes, held } = await merge(path, first16({ status: 429, retryAfter: 2 }));
    expect(r.code, r.stdout.slice(-3000)).toBe(0);
    expect(held).toEqual([r.outputs.digest, r.outputs.digest]);
    const failed = pushes.filter((a) => !a.ok);
    expect(failed.length).toBeGreaterThanOrEqual(1);
    for (const a of failed)
      expect(a).toMatchObject({ class: 'transient', signature: '429 Too Many Requests' });
  });

  it("GHCR's 403 secondary rate limit", async () => {
    // a 403 buildx does not send again: three refused PUTs are one or two failed attempts
    const rules: FaultRule[] = [{ match: 'manifest-put', action: 'secondary-rate-limit', times: 3 }];
    const { r, pushes, held } = await merge(path, rules);
    if (version === '0.13.1') {
      // buildx 0.13.1 prints a bare `403 Forbidden`: nothing tells it from a refused permission
      expect(r.code).toBe(1);
      expect(pushes).toMatchObject([{ ok: false, class: 'permanent', signature: '403 Forbidden' }]);
      return;
    }
    expect(r.code, r.stdout.slice(-3000)).toBe(0);
    expect(held).toEqual([r.outputs.digest, r.outputs.digest]);
    const failed = pushes.filter((a) => !a.ok);
    expect(failed.length).toBeGreaterThanOrEqual(1);
    for (const a of failed)
      expect(a).toMatchObject({ class: 'transient', signature: 'secondary rate limit' });
  });

  it('a plain 403: not retried', async () => {
    const { r, pushes } = await merge(path, [{ match: 'manifest-put', action: { status: 403 } }]);
    expect(r.code).toBe(1);
    expect(pushes).toHaveLength(1);
    expect(pushes[0]).toMatchObject({ ok: false, class: 'permanent' });
    expect(r.stdout).toMatch(/permanent errors are not retried/);
  });
});

describe("the action's own reads honour Retry-After", () => {
  it('a 429 with Retry-After: 2 on the read-back: one wait of at least 2 s, then the digest', async () => {
    bed.proxy.setRules([{ match: 'manifest-head', action: { status: 429, retryAfter: 2 }, times: 1 }]);
    const client = new RegistryClient({ dockerConfigDir: bed.dockerConfig });
    const before = bed.proxy.log.length;
    const started = Date.now();
    const digest = await client.digestOf(parseReference(`${bed.proxy.host}/src/app:amd64`));
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    expect(digest).toBe(await readDigest(bed.reg, 'src/app', 'amd64'));
    expect(
      bed.proxy.log
        .slice(before)
        .filter((e) => e.method === 'HEAD')
        .map((e) => e.action),
    ).toEqual(['429 retry-after 2s', 'pass']);
  });
});
