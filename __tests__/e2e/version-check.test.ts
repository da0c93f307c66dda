// The `buildx version` check end to end (a part of the fixed cost): when it runs, counted and
// timed with the fault shim's log of every invocation. Alongside the --dry-run when no policy rule
// can stop the push on the version, before anything when one can; never before the first push is
// allowed; not at all for a tool-cache hit whose version the cache recorded.
import { mkdirSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { pushPlatformImages } from '../testbed/images.js';
import { faultShimPath } from '../testbed/paths.js';
import { listTags, type Registry, startRegistry } from '../testbed/registry.js';
import { type ReleaseServer, startReleaseServer } from '../testbed/release-server.js';
import { type ActionRun, runAction, type WorkflowCommand } from '../testbed/runner.js';
import { makeShim, type Shim, type ShimCall, type ShimScript } from '../testbed/shim.js';

const V030 = 'github.com/docker/buildx v0.30.0 1a2b3c4';
// the runner emulator's GITHUB_WORKFLOW_REF names release.yml, and GITHUB_ACTION the step id
const WORKFLOW = `jobs:
  merge:
    steps:
      - id: merge
        uses: ./
        with:
          sources: x
          buildx-version: \${{ vars.BUILDX }}
          policy: .github/buildx-policy.yml
`;
const BUILDX_LINE = String(WORKFLOW.split('\n').findIndex((l) => l.includes('buildx-version:')) + 1);

let reg: Registry;
let sources: string[];
let n = 0;
const shims: Shim[] = [];

function shim(script: ShimScript): Shim {
  const s = makeShim(script);
  shims.push(s);
  return s;
}

/** A workspace with a workflow (annotations get its file and line) and, if given, a policy file. */
function workspace(policy?: string): string {
  const ws = mkdtempSync(join(tmpdir(), 'ws-version-'));
  mkdirSync(join(ws, '.github', 'workflows'), { recursive: true });
  writeFileSync(join(ws, '.github', 'workflows', 'release.yml'), WORKFLOW);
  if (policy !== undefined) writeFileSync(join(ws, '.github', 'buildx-policy.yml'), policy);
  return ws;
}

async function merge(inputs: Record<string, string>, env: Record<string, string | undefined>) {
  const repo = `version${++n}/app`;
  const run = await runAction({
    inputs: { sources: sources.join('\n'), tags: `${reg.host}/${repo}:v1`, ...inputs },
    env: { GITHUB_WORKSPACE: workspace(), ...env },
  });
  return { run, repo };
}

const of = (r: ActionRun, kind: string): WorkflowCommand[] => r.commands.filter((c) => c.command === kind);
const isVersion = (c: ShimCall) => c.argv[0] === 'version';
const isDryRun = (c: ShimCall) => c.argv.includes('create') && c.argv.includes('--dry-run');
const isPush = (c: ShimCall) => c.argv.includes('create') && !c.argv.includes('--dry-run');

function oneOf(calls: ShimCall[], what: (c: ShimCall) => boolean): ShimCall {
  const found = calls.filter(what);
  expect(found, JSON.stringify(calls)).toHaveLength(1);
  return found[0]!;
}

beforeAll(async () => {
  reg = await startRegistry();
  sources = await pushPlatformImages(reg, 'src/app', ['linux/amd64', 'linux/arm64']);
});
afterAll(async () => {
  for (const s of shims) s.remove();
  await reg?.stop();
});

describe('buildx given as a path', () => {
  it('the default policy: `version` runs alongside the --dry-run, once, and the first push waits for it', async () => {
    const s = shim({ version: { text: V030, sleepMs: 1500 }, steps: ['pass'] });
    const { run: r, repo } = await merge({ 'buildx-version': s.path }, s.env);
    expect(r.code, r.stdout.slice(-3000)).toBe(0);
    expect(await listTags(reg, repo)).toEqual(['v1']);
    const calls = s.calls();
    const version = oneOf(calls, isVersion);
    expect(oneOf(calls, isDryRun).start).toBeLessThan(version.end!);
    expect(oneOf(calls, isPush).start).toBeGreaterThanOrEqual(version.end!);
    // what the check found is reported as before: the outputs, the advisory warning on its line
    expect(r.outputs).toMatchObject({ 'buildx-version': 'v0.30.0', 'buildx-source': 'path' });
    const w = of(r, 'warning').find((c) => /docker\/buildx#3503/.test(c.message));
    expect(w?.props).toMatchObject({ line: BUILDX_LINE, title: 'known-bad buildx: docker/buildx#3503' });
    const result = JSON.parse(r.outputs.result as string);
    expect(result.buildx).toMatchObject({ version: 'v0.30.0', source: 'path' });
    expect(result.policy.findings.map((f: { rule: string }) => f.rule)).toEqual(['advisory']);
  });

  it('what the check reports waits for the log: never inside the --dry-run group, whose output cannot issue commands', async () => {
    // the --dry-run holds the log (printing, then waiting) while `version` answers at once
    const s = shim({
      version: V030,
      steps: ['pass'],
      dryRunSteps: [{ mode: 'pass', print: ['dry-run under way'], printTo: 'stderr', sleepMs: 1500 }],
    });
    const { run: r } = await merge({ 'buildx-version': s.path }, s.env);
    expect(r.code, r.stdout.slice(-3000)).toBe(0);
    const calls = s.calls();
    expect(oneOf(calls, isVersion).end!).toBeLessThan(oneOf(calls, isDryRun).end!);
    // the warning is a workflow command the runner reads (not swallowed by the stop-commands block)
    expect(of(r, 'warning').map((c) => c.props.title)).toContain('known-bad buildx: docker/buildx#3503');
    const lines = r.stdout.split('\n');
    const dryRunEnd = lines.findIndex(
      (l, i) => l === '::endgroup::' && i > lines.indexOf('dry-run under way'),
    );
    const said = lines.findIndex((l) => /^buildx v0\.30\.0 \(path: a binary on disk\) at /.test(l));
    expect(said).toBeGreaterThan(dryRunEnd);
  });

  it('a policy that can stop the push on the version: `version` first, then the --dry-run', async () => {
    const s = shim({ version: V030, steps: ['pass'] });
    const ws = workspace('mode: enforce\nbuildx:\n  versions: ">=0.13"\n');
    const { run: r } = await merge(
      { 'buildx-version': s.path, policy: '.github/buildx-policy.yml' },
      { ...s.env, GITHUB_WORKSPACE: ws },
    );
    expect(r.code, r.stdout.slice(-3000)).toBe(0);
    const calls = s.calls();
    expect(oneOf(calls, isDryRun).start).toBeGreaterThanOrEqual(oneOf(calls, isVersion).end!);
  });

  it('a policy that stops the push on the version: nothing but `version` runs', async () => {
    const s = shim({ version: V030, steps: ['pass'] });
    const ws = workspace('buildx:\n  advisories: enforce\n');
    const { run: r, repo } = await merge(
      { 'buildx-version': s.path, policy: '.github/buildx-policy.yml' },
      { ...s.env, GITHUB_WORKSPACE: ws },
    );
    expect(r.code).toBe(1);
    expect(s.calls().map((c) => c.argv[0])).toEqual(['version']);
    expect(await listTags(reg, repo)).toEqual([]);
    expect(of(r, 'error')[0]?.message).toMatch(/docker\/buildx#3503/);
  });

  it('a binary whose `version` fails: the step fails on buildx-version before any push, and the --dry-run started alongside is stopped', async () => {
    const s = shim({
      version: { exitCode: 1, sleepMs: 500 },
      steps: ['pass'],
      dryRunSteps: [{ mode: 'pass', sleepMs: 60_000 }],
    });
    const { run: r, repo } = await merge({ 'buildx-version': s.path }, s.env);
    expect(r.code).toBe(1);
    expect(r.durationMs).toBeLessThan(20_000);
    const calls = s.calls();
    expect(calls.filter(isPush)).toEqual([]);
    oneOf(calls, isDryRun);
    expect(await listTags(reg, repo)).toEqual([]);
    expect(of(r, 'error')).toHaveLength(1);
    expect(of(r, 'error')[0]).toMatchObject({
      message: `"${s.path} version" did not report a buildx version`,
      props: { title: 'buildx install', line: BUILDX_LINE },
    });
    // as before: no outputs and no summary for a buildx that was never installed
    expect(r.outputs['buildx-version']).toBeUndefined();
    expect(r.summary).toBe('');
  });
});

describe('the tool cache', () => {
  let server: ReleaseServer;
  beforeAll(async () => {
    // the fault shim served as v0.13.1: it logs every call and runs the real buildx (0.13.1+ds1)
    server = await startReleaseServer({
      binary: faultShimPath,
      binaryTag: 'v0.13.1',
      releases: [{ tag: 'v0.13.1' }],
    });
  });
  afterAll(() => server?.stop());

  async function fromRelease(toolCache: string, s: Shim) {
    const r = await merge(
      { 'buildx-version': 'v0.13.1', 'buildx-mirror': server.mirror },
      { ...s.env, RUNNER_TOOL_CACHE: toolCache, GITHUB_API_URL: server.apiUrl },
    );
    expect(r.run.code, r.run.stdout.slice(-3000)).toBe(0);
    expect(await listTags(reg, r.repo)).toEqual(['v1']);
    expect(r.run.outputs['buildx-version']).toBe('0.13.1+ds1');
    return r.run;
  }

  const versions = (s: Shim) => s.calls().filter(isVersion).length;
  const cached = (toolCache: string) => join(toolCache, 'buildx', '0.13.1', 'amd64', 'buildx');

  it('a hit whose version the cache recorded runs no `version`; the same outputs as the install', async () => {
    const toolCache = mkdtempSync(join(tmpdir(), 'toolcache-'));
    const s = shim({});
    const first = await fromRelease(toolCache, s);
    expect(versions(s)).toBe(1); // the downloaded file, before it is cached
    const second = await fromRelease(toolCache, s);
    expect(versions(s)).toBe(1);
    expect(second.stdout).toMatch(/tool cache \(v0\.13\.1\)/);
    const buildxOf = (r: ActionRun) => {
      const { installMs: _, ...rest } = JSON.parse(r.outputs.result as string).buildx;
      return rest;
    };
    expect(buildxOf(second)).toEqual(buildxOf(first));
  });

  it('an entry without the record (cached by an earlier version of the action): `version` once, then recorded', async () => {
    const toolCache = mkdtempSync(join(tmpdir(), 'toolcache-'));
    const s = shim({});
    await fromRelease(toolCache, s);
    rmSync(`${cached(toolCache)}.version.json`, { force: true });
    await fromRelease(toolCache, s);
    expect(versions(s)).toBe(2);
    await fromRelease(toolCache, s);
    expect(versions(s)).toBe(2);
  });

  it('a cached binary changed since (same size, its old mtime put back) is checked again: its bytes are not the ones cached, so it is installed again', async () => {
    const toolCache = mkdtempSync(join(tmpdir(), 'toolcache-'));
    const s = shim({});
    await fromRelease(toolCache, s);
    const file = cached(toolCache);
    const st = statSync(file);
    const broken = '#!/bin/sh\nexit 1\n';
    writeFileSync(file, broken.padEnd(st.size, '#'));
    utimesSync(file, st.atime, st.mtime);
    const again = await fromRelease(toolCache, s);
    expect(
      of(again, 'warning')
        .map((w) => w.message)
        .join('\n'),
    ).toMatch(
      /changed since it was cached \(its sha256 is not the one recorded\); removing it and installing again/,
    );
  });
});
