// How the action behaves with real registry habits, on both real buildx versions, behind the fault
// proxy in front of a real registry 2.8: a re-run pushes nothing (and so succeeds on a repository
// with immutable tags), and a registry answering `not found` for a moment after a write does not
// fail the run or get a tag pushed twice. Pushes are counted twice over: buildx invocations in the
// fault shim's log (it passes every one to the real buildx), manifest PUTs in the proxy's log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type FaultProxy, startFaultProxy } from '../testbed/fault-proxy.js';
import { pushPlatformImages } from '../testbed/images.js';
import { realBuildxes } from '../testbed/paths.js';
import { readDigest, type Registry, startRegistry } from '../testbed/registry.js';
import { runAction } from '../testbed/runner.js';
import { makeShim } from '../testbed/shim.js';

let reg: Registry;
let proxy: FaultProxy;
let sources: string[];

beforeAll(async () => {
  reg = await startRegistry();
  proxy = await startFaultProxy({ target: reg.url });
  sources = await pushPlatformImages(reg, 'rr-src/app', ['linux/amd64', 'linux/arm64']);
});
afterAll(async () => {
  await proxy?.stop();
  await reg?.stop();
});

interface TagState {
  tag: string;
  digest: string | null;
  verified: boolean;
  state?: string;
  lagWaitMs?: number;
}

/** Runs the action on the real buildx `path` (through the pass-through shim) to `tags` behind the proxy. */
async function merge(path: string, tags: string[], extra: Record<string, string> = {}) {
  const shim = makeShim({ steps: ['pass'] }, { realBuildx: path });
  const from = proxy.log.length;
  const run = await runAction({
    inputs: { sources: sources.join('\n'), tags: tags.join('\n'), 'buildx-version': shim.path, ...extra },
    env: shim.env,
  });
  const pushes = shim.log().map((e) => e.argv.flatMap((a, i) => (e.argv[i - 1] === '--tag' ? [a] : [])));
  shim.remove();
  const requests = proxy.log.slice(from);
  const manifestPuts = requests.filter((r) => r.method === 'PUT' && r.path.includes('/manifests/'));
  const result = JSON.parse(run.outputs.result ?? '{}') as { tags?: TagState[] };
  return { run, pushes, manifestPuts, requests, tags: result.tags ?? [] };
}

const tagsIn = (repo: string, names: string[]) => names.map((t) => `${proxy.host}/${repo}:${t}`);

/**
 * The end of the log: the heading line, then one line per tag (`<tag>  <state>  <digest short>`),
 * plain lines of the action's own (no workflow command), as a person scrolling the raw log sees them.
 */
function tagLines(stdout: string, count: number): { heading: string; lines: string[] } {
  const all = stdout.split('\n');
  const at = all.findLastIndex((l) => l.startsWith('safe-imagetools: '));
  expect(at, stdout.slice(-2000)).toBeGreaterThan(-1);
  return { heading: all[at]!, lines: all.slice(at + 1, at + 1 + count) };
}
const short = (digest: string) => digest.slice(0, 'sha256:'.length + 12);

describe.each(realBuildxes())('buildx $version', ({ version, path }) => {
  const repo = (what: string) => `rr-${what}-${version.replace(/\./g, '-')}/app`;

  it('a re-run of the same merge pushes nothing, and says every tag already held the index', async () => {
    proxy.setRules([]);
    const tags = tagsIn(repo('rerun'), ['t1', 't2', 't3']);
    const first = await merge(path, tags);
    expect(first.run.code, first.run.stdout.slice(-3000)).toBe(0);
    const digest = first.run.outputs.digest as string;

    const again = await merge(path, tags);
    expect(again.run.code, again.run.stdout.slice(-3000)).toBe(0);
    expect(again.pushes).toEqual([]);
    expect(again.manifestPuts).toEqual([]);
    expect(again.run.outputs.digest).toBe(digest);
    expect(again.run.outputs.attempts).toBe('0');
    expect(again.tags).toEqual(tags.map((tag) => ({ tag, digest, verified: true, state: 'already' })));
    expect(again.run.summary).toContain('Nothing pushed: 3 tags already held the index');
    expect(again.run.summary.split(digest)).toHaveLength(2); // the digest once, on the index line
    for (const tag of tags) expect(again.run.summary).toContain(`| \`${tag}\` | already there | verified |`);
    // the log ends with the same answer, one line per tag
    const log = tagLines(again.run.stdout, 3);
    expect(log.heading).toBe('safe-imagetools: Nothing pushed: 3 tags already held the index');
    expect(log.lines).toEqual(tags.map((tag) => `${tag}  already there, verified  ${short(digest)}`));
    expect(log.lines.filter((l) => l.startsWith('::'))).toEqual([]); // no workflow command
    for (const t of ['t1', 't2', 't3']) expect(await readDigest(reg, repo('rerun'), t)).toBe(digest);
  });

  it('a re-run behind a repository with immutable tags (ECR) succeeds, overwriting nothing', async () => {
    proxy.setRules([]);
    const tags = tagsIn(repo('immutable'), ['t1', 't2']);
    const first = await merge(path, tags);
    expect(first.run.code, first.run.stdout.slice(-3000)).toBe(0);

    proxy.setRules([{ match: 'manifest-put', action: 'immutable' }]);
    const again = await merge(path, tags);
    expect(again.run.code, again.run.stdout.slice(-3000)).toBe(0);
    expect(again.requests.filter((r) => r.action === 'immutable: refused')).toEqual([]);
    expect(again.pushes).toEqual([]);
    expect(again.tags.map((t) => t.state)).toEqual(['already', 'already']);
  });

  it('append: a re-run of an append that landed pushes nothing', async () => {
    proxy.setRules([]);
    const tags = tagsIn(repo('append'), ['t1', 't2']);
    const first = await merge(path, tags, { sources: sources[0]! });
    expect(first.run.code, first.run.stdout.slice(-3000)).toBe(0);
    const appended = await merge(path, tags, { sources: sources[1]!, append: 'true' });
    expect(appended.run.code, appended.run.stdout.slice(-3000)).toBe(0);
    expect(appended.run.outputs.digest).not.toBe(first.run.outputs.digest);
    // buildx appends at t1; t2 gets the same index bytes by manifest PUT
    expect(appended.pushes.flat()).toEqual([tags[0]]);
    expect(appended.tags.map((t) => t.state)).toEqual([undefined, 'put']);

    const again = await merge(path, tags, { sources: sources[1]!, append: 'true' });
    expect(again.run.code, again.run.stdout.slice(-3000)).toBe(0);
    expect(again.run.outputs.digest).toBe(appended.run.outputs.digest);
    expect(again.pushes).toEqual([]);
    expect(again.tags.map((t) => t.state)).toEqual(['already', 'already']);
  });

  it('behind a registry answering not found for 3 s after a write, succeeds with each tag pushed once', async () => {
    proxy.setRules([{ match: 'manifest-put', action: { lagMs: 3000 } }]);
    const tags = tagsIn(repo('lag'), ['t1', 't2', 't3']);
    const r = await merge(path, tags);
    proxy.setRules([]);
    expect(r.run.code, r.run.stdout.slice(-3000)).toBe(0);
    // the lag was there: the action's read-backs were answered 404 at least once
    expect(r.requests.some((q) => q.action === 'lag 404')).toBe(true);
    // t1 by buildx, t2 and t3 by one manifest PUT each (the lag hits the action's PUTs too)
    expect(r.pushes.flat()).toEqual([tags[0]]);
    for (const t of ['t2', 't3'])
      expect(r.manifestPuts.filter((q) => q.path.endsWith(`/manifests/${t}`))).toHaveLength(1);
    const digest = r.run.outputs.digest as string;
    // each tag's read-back waited out the lag, and the result says how long
    expect(r.tags.map(({ lagWaitMs: _, ...t }) => t)).toEqual(
      tags.map((tag, i) => ({ tag, digest, verified: true, ...(i > 0 ? { state: 'put' } : {}) })),
    );
    for (const t of r.tags) expect(t.lagWaitMs).toBeGreaterThan(0);
    expect(r.run.outputs.recovered).toBe('false');
    // the summary and the log say which read-backs waited out the lag, and for how long
    const how = (i: number) => (i === 0 ? 'pushed' : 'written by PUT');
    const rows = tags.map((tag) => r.run.summary.split('\n').find((l) => l.startsWith(`| \`${tag}\` |`)));
    rows.forEach((row, i) =>
      expect(row).toMatch(
        new RegExp(`^\\| \`[^\`]+\` \\| ${how(i)} \\| verified( after \\S+ of registry lag)? \\|$`),
      ),
    );
    expect(rows.some((row) => / after \S+ of registry lag/.test(row ?? ''))).toBe(true);
    const log = tagLines(r.run.stdout, 3);
    expect(log.heading).toBe('safe-imagetools: Pushed 3 tags, every one verified');
    log.lines.forEach((line, i) => {
      const state = rows[i]!.split(' | ')[1] + ', ' + rows[i]!.split(' | ')[2]!.replace(/ \|$/, '');
      expect(line).toMatch(new RegExp(`^${tags[i]}\\s+${state}\\s+${short(digest)}$`));
    });
  });
});
