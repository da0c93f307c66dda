// Tags by manifest PUT: after one buildx create (or one buildx copy into each further repository),
// the other tags get the index bytes by PUT through the action's registry client. The bundle run
// as the runner runs it, each real buildx of the test bed, a real registry 2.8 (behind the fault
// proxy, whose rules here hit the action's requests only) and a token-flow registry 2.8.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parseReference } from '../../src/registry/reference.js';
import { type FaultProxy, type FaultRule, startFaultProxy } from '../testbed/fault-proxy.js';
import { pushPlatformImages } from '../testbed/images.js';
import { realBuildxes } from '../testbed/paths.js';
import { useTokenRegistry } from '../testbed/hooks.js';
import { readDigest, type Registry, startRegistry } from '../testbed/registry.js';
import { type ActionRun, runAction } from '../testbed/runner.js';
import { basic, bearer, dockerConfig, removeTemps } from '../testbed/token-registry.js';
import { byTheAction } from '../testbed/user-agent.js';

interface ResultJson {
  digest: string;
  tags: { tag: string; verified: boolean; state?: string }[];
  attempts: { invocation: number | 'oracle' }[];
  puts?: {
    atOnce: number;
    retries: { tag: string; class: string; answer: string; waitMs: number; askedWaitMs?: number }[];
  };
}

const result = (run: ActionRun): ResultJson => JSON.parse(run.outputs.result as string) as ResultJson;
/** buildx invocations that pushed (the --dry-run is not one) */
const invocations = (r: ResultJson) =>
  new Set(r.attempts.filter((a) => a.invocation !== 'oracle').map((a) => a.invocation)).size;
const byPut = (r: ResultJson) => r.tags.filter((t) => t.state === 'put').length;
/** the run's warnings, but the policy's about a known-bad buildx (0.13.1) */
const warnings = (run: ActionRun) =>
  run.commands.filter((c) => c.command === 'warning' && !c.props.title?.startsWith('known-bad buildx'));

let reg: Registry;
let sources: string[];
let n = 0;
const proxies: FaultProxy[] = [];

beforeAll(async () => {
  reg = await startRegistry();
  sources = await pushPlatformImages(reg, 'put-src/app', ['linux/amd64', 'linux/arm64']);
});
afterAll(async () => {
  for (const p of proxies) await p.stop();
  await reg?.stop();
  removeTemps();
});

async function proxy(rules: FaultRule[] = []): Promise<FaultProxy> {
  const p = await startFaultProxy({ target: reg.url, rules });
  proxies.push(p);
  return p;
}

/** Runs the action on `tags` (names in `repos` of the proxy), then reads every tag from the registry. */
async function merge(bx: string, p: FaultProxy, tags: string[], inputs: Record<string, string> = {}) {
  const run = await runAction({
    inputs: {
      sources: sources.join('\n'),
      tags: tags.map((t) => `${p.host}/${t}`).join('\n'),
      'buildx-version': bx,
      ...inputs,
    },
  });
  expect(run.code, run.stdout.slice(-4000)).toBe(0);
  const r = result(run);
  expect(r.tags.every((t) => t.verified)).toBe(true);
  for (const t of tags) {
    const ref = parseReference(`${reg.host}/${t}`);
    expect(await readDigest(reg, ref.path, ref.tag!)).toBe(run.outputs.digest);
  }
  return { run, r };
}

const tagsIn = (repo: string, k: number) => Array.from({ length: k }, (_, i) => `${repo}:t${i + 1}`);

describe.each(realBuildxes())('tags by manifest PUT, buildx $version', ({ path }) => {
  it('10 tags in one repository: 1 buildx push invocation, 9 PUTs, all verified', async () => {
    const { run, r } = await merge(path, await proxy(), tagsIn(`put${++n}/app`, 10));
    expect(invocations(r)).toBe(1);
    expect(byPut(r)).toBe(9);
    expect(run.outputs.attempts).toBe('1'); // the one push: PUTs are not attempts
    // the PUTs summed up in one sentence, each tag's state in the tag table
    expect(run.summary).toMatch(/\n9 tags written by manifest PUT, at most [1-4] at once, no retry\.\n/);
    expect(run.summary.match(/^\| `[^`]+` \| written by PUT \| verified \|$/gm)).toHaveLength(9);
    expect(warnings(run)).toEqual([]);
  });

  it('tags in two repositories: 2 buildx invocations (a create, a copy), the rest by PUT', async () => {
    const repo = `put${++n}`;
    const { r } = await merge(path, await proxy(), [
      ...tagsIn(`${repo}/one`, 4),
      ...tagsIn(`${repo}/two`, 4),
    ]);
    expect(invocations(r)).toBe(2);
    expect(byPut(r)).toBe(6);
  });

  it('a registry answering the PUT with 415: one warning quoting it, buildx copies the rest', async () => {
    const p = await proxy([{ match: 'manifest-put', from: 'action', action: { status: 415 } }]);
    const { run, r } = await merge(path, p, tagsIn(`put${++n}/app`, 4), { 'puts-at-once': '2' });
    expect(byPut(r)).toBe(0);
    expect(invocations(r)).toBe(4);
    const w = warnings(run);
    expect(w, JSON.stringify(w)).toHaveLength(1);
    expect(w[0]!.message).toContain('415');
    expect(w[0]!.message).toContain('unsupported media type');
  });

  it('tag-method buildx: no PUT at all', async () => {
    const p = await proxy([{ match: 'manifest-put', from: 'action', action: { status: 500 } }]);
    const { r } = await merge(path, p, tagsIn(`put${++n}/app`, 3), { 'tag-method': 'buildx' });
    expect(byPut(r)).toBe(0);
    expect(invocations(r)).toBe(3);
    expect(p.stats().faulted).toBe(0);
  });

  it('a 503 on a PUT, then the PUT passes: retried, every tag by PUT', async () => {
    const p = await proxy([{ match: 'manifest-put', from: 'action', action: { status: 503 }, times: 1 }]);
    const { run, r } = await merge(path, p, tagsIn(`put${++n}/app`, 4), { 'retry-delay': '100ms' });
    expect(p.stats().faulted).toBe(1);
    expect(byPut(r)).toBe(3);
    expect(invocations(r)).toBe(1);
    expect(run.stdout).toMatch(/Retrying the manifest PUT of \S+ in \d+\.\d+s: PUT \S+: 503/);
    // the retry is in the record, and the run counts as recovered: one warning says so
    expect(r.puts).toMatchObject({ atOnce: 3 });
    expect(r.puts?.retries).toHaveLength(1);
    expect(r.puts?.retries[0]).toMatchObject({ class: 'transient', answer: expect.stringContaining('503') });
    expect(run.outputs.recovered).toBe('true');
    expect(warnings(run).map((w) => w.props.title)).toEqual([
      expect.stringMatching(/^recovered from manifest PUT transient: manifest PUT 503 Service Unavailable/),
    ]);
  });

  it('every PUT reset after the registry took it: the attempts spent, the tag read once, and it holds the index', async () => {
    const p = await proxy([{ match: 'manifest-put', from: 'action', action: 'reset' }]);
    const { run, r } = await merge(path, p, tagsIn(`put${++n}/app`, 3), {
      'retry-delay': '10ms',
      'max-attempts': '2',
    });
    expect(byPut(r)).toBe(2);
    expect(run.stdout).toMatch(/Retrying the manifest PUT of \S+ in \d+\.\d+s: PUT \S+: ECONNRESET/);
  });

  it('a 429 with Retry-After on a PUT: the wait the registry asked for is waited', async () => {
    const p = await proxy([
      { match: 'manifest-put', from: 'action', action: { status: 429, retryAfter: 2 }, times: 1 },
    ]);
    const started = Date.now();
    const { run, r } = await merge(path, p, tagsIn(`put${++n}/app`, 3), {
      'retry-delay': '10ms',
      'puts-at-once': '1',
    });
    expect(byPut(r)).toBe(2);
    expect(run.stdout).toContain('in 2.0s (the registry asked for 2.0s)');
    expect(r.puts?.retries).toEqual([expect.objectContaining({ askedWaitMs: 2000, class: 'transient' })]);
    // the summary sums the PUTs up: the retry and the wait the registry asked for
    expect(run.summary).toContain(
      '\n2 tags written by manifest PUT, at most 1 at once, 1 retry (the registry asked for 2s).\n',
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
  });
});

describe.each(realBuildxes())(
  'tags by manifest PUT against a token registry, buildx $version',
  ({ path }) => {
    const bed = useTokenRegistry();

    it('10 tags in one repository: 1 buildx invocation, 9 PUTs with a push-scope token, all verified', async () => {
      const repo = `tok${++n}/app`;
      const tags = tagsIn(repo, 10).map((t) => `${bed.tr.reg.host}/${t}`);
      const from = bed.tr.ts.requests.length;
      const run = await runAction({
        inputs: { sources: bed.sources.join('\n'), tags: tags.join('\n'), 'buildx-version': path },
        env: {
          DOCKER_CONFIG: dockerConfig({ auths: { [bed.tr.reg.host]: { auth: basic('ci', 'ci-s3cret') } } }),
        },
      });
      expect(run.code, run.stdout.slice(-4000)).toBe(0);
      const r = result(run);
      expect(invocations(r)).toBe(1);
      expect(byPut(r)).toBe(9);
      expect(r.tags.every((t) => t.verified)).toBe(true);
      for (const t of tagsIn(repo, 10)) {
        const ref = parseReference(`${bed.tr.reg.host}/${t}`);
        expect(await readDigest(bed.tr.reg, ref.path, ref.tag!, bearer(bed.tr.ts, ref.path))).toBe(
          run.outputs.digest,
        );
      }
      // the action's own token requests (its User-Agent): pull for reads, pull,push for the PUTs, one each
      const mine = bed.tr.ts.requests.slice(from).filter((q) => byTheAction(q.userAgent));
      expect(mine.map((q) => q.scopes.join(' ')).sort()).toEqual([
        `repository:${repo}:pull`,
        `repository:${repo}:pull,push`,
      ]);
    });
  },
);
