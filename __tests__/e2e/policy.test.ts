// The version-pin policy end to end: a workflow file in the workspace, the bundle run as the
// runner does, annotations read back with their file and line, the registry checked for pushes.
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { pushPlatformImages } from '../testbed/images.js';
import { buildxPath } from '../testbed/paths.js';
import { listTags, type Registry, startRegistry } from '../testbed/registry.js';
import { type ReleaseServer, startReleaseServer } from '../testbed/release-server.js';
import { type ActionRun, runAction, type WorkflowCommand } from '../testbed/runner.js';
import { makeShim } from '../testbed/shim.js';

const WORKFLOW = `name: release
on:
  push:
    tags: ['v*']

jobs:
  build:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        platform: [linux/amd64, linux/arm64]
    steps:
      - uses: actions/checkout@v5

  merge:
    runs-on: ubuntu-latest
    needs: build
    steps:
      - uses: actions/checkout@v5
      # the merge step
      - id: merge
        uses: ./
        with:
          sources: \${{ needs.build.outputs.sources }}
          tags: \${{ steps.meta.outputs.tags }}
          buildx-version: \${{ vars.BUILDX_VERSION }}
          policy: .github/buildx-policy.yml
`;
const lineOf = (text: string) => WORKFLOW.split('\n').findIndex((l) => l.includes(text)) + 1;
const FILE = '.github/workflows/release.yml';
const USES_LINE = lineOf('uses: ./');
const BUILDX_LINE = lineOf('buildx-version:');
const POLICY_LINE = lineOf('policy: .github');

let reg: Registry;
let server: ReleaseServer;
let sources: string[];
let n = 0;

/** A workspace holding the workflow and a policy file. */
function workspace(policy?: string): string {
  const ws = mkdtempSync(join(tmpdir(), 'ws-policy-'));
  mkdirSync(join(ws, '.github', 'workflows'), { recursive: true });
  writeFileSync(join(ws, FILE), WORKFLOW);
  if (policy !== undefined) writeFileSync(join(ws, '.github', 'buildx-policy.yml'), policy);
  return ws;
}

/** A DOCKER_CONFIG whose docker buildx plugin is Debian's buildx 0.13.1: the "runner's" buildx. */
function runnerBuildx(): string {
  const dc = mkdtempSync(join(tmpdir(), 'dc-runner-'));
  mkdirSync(join(dc, 'cli-plugins'));
  symlinkSync(buildxPath(), join(dc, 'cli-plugins', 'docker-buildx'));
  return dc;
}

async function run(inputs: Record<string, string>, env: Record<string, string | undefined> = {}) {
  const repo = `policy${++n}/app`;
  const result = await runAction({
    inputs: {
      sources: sources.join('\n'),
      tags: `${reg.host}/${repo}:v1`,
      'retry-delay': '100ms',
      ...inputs,
    },
    env: { GITHUB_API_URL: server.apiUrl, SAFE_IMAGETOOLS_REAL_BUILDX: buildxPath(), ...env },
  });
  return { run: result, repo };
}

const of = (r: ActionRun, kind: string): WorkflowCommand[] => r.commands.filter((c) => c.command === kind);

beforeAll(async () => {
  reg = await startRegistry();
  sources = await pushPlatformImages(reg, 'src/app', ['linux/amd64', 'linux/arm64']);
  server = await startReleaseServer({
    binary: buildxPath(),
    binaryTag: 'v0.13.1',
    releases: [
      { tag: 'v0.13.1' },
      { tag: 'v0.29.1' },
      { tag: 'v0.30.0-rc1', prerelease: true },
      { tag: 'v0.30.0' },
      { tag: 'v0.30.1' },
    ],
  });
});
afterAll(async () => {
  await server?.stop();
  await reg?.stop();
});

describe('a denied runner buildx', () => {
  it('enforce: exit 1, nothing pushed, one error annotation on the buildx-version line', async () => {
    const ws = workspace('mode: enforce\nbuildx:\n  versions: ">=0.30.1"\n');
    const { run: r, repo } = await run(
      { policy: '.github/buildx-policy.yml' },
      { GITHUB_WORKSPACE: ws, DOCKER_CONFIG: runnerBuildx() },
    );
    expect(r.code).toBe(1);
    expect(await listTags(reg, repo)).toEqual([]);
    const errors = of(r, 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      props: { file: FILE, line: String(BUILDX_LINE), title: 'buildx policy: versions' },
    });
    expect(errors[0]?.message).toMatch(
      /the runner's buildx 0\.13\.1\+ds1 is outside the allowed versions ">=0\.30\.1" \(\.github\/buildx-policy\.yml\)/,
    );
    // the advisories of 0.13.1 are warnings on the same line
    for (const w of of(r, 'warning'))
      expect(w.props).toMatchObject({ file: FILE, line: String(BUILDX_LINE) });
    expect(
      of(r, 'warning')
        .map((w) => w.message)
        .join('\n'),
    ).toMatch(/docker\/buildx#2232/);
    const result = JSON.parse(r.outputs.result ?? 'null');
    expect(result).toBeNull(); // stopped before the engine: no result
  });

  it('warn: success, and a warning on the buildx-version line', async () => {
    const ws = workspace('mode: warn\nbuildx:\n  versions: ">=0.30.1"\n');
    const { run: r, repo } = await run(
      { policy: '.github/buildx-policy.yml' },
      { GITHUB_WORKSPACE: ws, DOCKER_CONFIG: runnerBuildx() },
    );
    expect(r.code, r.stdout.slice(-3000)).toBe(0);
    expect(await listTags(reg, repo)).toEqual(['v1']);
    const warning = of(r, 'warning').find((w) => /outside the allowed versions/.test(w.message));
    expect(warning?.props).toMatchObject({
      file: FILE,
      line: String(BUILDX_LINE),
      title: 'buildx policy: versions',
    });
    expect(of(r, 'error')).toEqual([]);
    expect(JSON.parse(r.outputs.result as string).policy).toMatchObject({
      origin: '.github/buildx-policy.yml',
      mode: 'warn',
    });
    expect(r.summary).toMatch(
      /Policy: policy \.github\/buildx-policy\.yml \(warn, advisories warn\): 3 warnings/,
    );
  });

  it('without a workflow file, annotations carry no location', async () => {
    const ws = mkdtempSync(join(tmpdir(), 'ws-bare-'));
    const { run: r } = await run(
      { policy: 'buildx:\n  versions: ">=0.30.1"' },
      { GITHUB_WORKSPACE: ws, DOCKER_CONFIG: runnerBuildx() },
    );
    expect(r.code).toBe(1);
    expect(of(r, 'error')).toHaveLength(1);
    expect(of(r, 'error')[0]?.props.file).toBeUndefined();
  });
});

describe('the advisory database', () => {
  it('a buildx reporting v0.30.0: an advisory warning by default, and the merge goes on', async () => {
    const shim = makeShim({ version: 'github.com/docker/buildx v0.30.0 1a2b3c4', steps: ['pass'] });
    const ws = workspace();
    const { run: r, repo } = await run(
      { 'buildx-version': shim.path },
      { ...shim.env, GITHUB_WORKSPACE: ws },
    );
    expect(r.code, r.stdout.slice(-3000)).toBe(0);
    expect(await listTags(reg, repo)).toEqual(['v1']);
    const w = of(r, 'warning').find((c) => /docker\/buildx#3503/.test(c.message));
    expect(w?.message).toMatch(/buildx v0\.30\.0 is affected by docker\/buildx#3503: .*; fixed in 0\.30\.1/);
    expect(w?.props).toMatchObject({
      file: FILE,
      line: String(BUILDX_LINE),
      title: 'known-bad buildx: docker/buildx#3503',
    });
    shim.remove();
  });

  it('buildx-version: v0.13.1 (Debian 0.13.1+ds1 served as the release): one warning per advisory, listed once', async () => {
    const { run: r, repo } = await run(
      { 'buildx-version': 'v0.13.1', 'buildx-mirror': server.mirror },
      { GITHUB_WORKSPACE: workspace() },
    );
    expect(r.code, r.stdout.slice(-3000)).toBe(0);
    expect(await listTags(reg, repo)).toEqual(['v1']);
    // the binary reports Debian's version: the spec check and the check on what runs both see 0.13.1
    expect(r.outputs['buildx-version']).toBe('0.13.1+ds1');
    const perIssue = new Map<string, number>();
    for (const w of of(r, 'warning')) {
      const issue = w.props.title?.match(/^known-bad buildx: (.+)$/)?.[1];
      if (issue) perIssue.set(issue, (perIssue.get(issue) ?? 0) + 1);
    }
    // the advisories that flag 0.13.1 (advisories.json): a crash and a wrong result
    expect(Object.fromEntries(perIssue)).toEqual({ 'docker/buildx#2232': 1, 'docker/buildx#2955': 1 });
    // each advisory once in the summary, one short line: the issue linked, what happens, the fix
    const listed = r.summary.split('\n').filter((l) => /^- warning: \[docker\/buildx#\d+\]\(https:/.test(l));
    expect(listed).toEqual([
      expect.stringMatching(/^- warning: \[docker\/buildx#2232\]\(\S+\) crash: .*; fixed in 0\.20\.0$/),
      expect.stringMatching(/^- warning: \[docker\/buildx#2955\]\(\S+\) .*; fixed in 0\.22\.0$/),
    ]);
    for (const issue of ['2232', '2955']) expect(r.summary.split(`docker/buildx#${issue}`)).toHaveLength(2);
    expect(r.summary).not.toContain('is affected by');
    // and what to do first, in bold
    expect(r.summary.split('\n\n')[2]).toBe(
      '**Use buildx 0.22.0 or later (buildx-version).** buildx 0.13.1+ds1 has 2 known issues, listed below.',
    );
    expect(r.summary).toMatch(/Policy: no policy \(advisories warn\): 2 warnings/);
    const policyJson = JSON.parse(r.outputs.result as string).policy;
    expect(policyJson.findings.map((f: { rule: string }) => f.rule)).toEqual(['advisory', 'advisory']);
  });

  it('the same under advisories: enforce: exit 1 before any push', async () => {
    const shim = makeShim({ version: 'github.com/docker/buildx v0.30.0 1a2b3c4', steps: ['pass'] });
    const ws = workspace('buildx:\n  advisories: enforce\n');
    const { run: r, repo } = await run(
      { 'buildx-version': shim.path, policy: '.github/buildx-policy.yml' },
      { ...shim.env, GITHUB_WORKSPACE: ws },
    );
    expect(r.code).toBe(1);
    expect(shim.pushes()).toBe(0);
    expect(await listTags(reg, repo)).toEqual([]);
    expect(of(r, 'error')).toHaveLength(1);
    expect(of(r, 'error')[0]?.message).toMatch(/docker\/buildx#3503/);
    shim.remove();
  });

  it('a run-time crash of a known-bad version is named, with the fixed version', async () => {
    const shim = makeShim({ version: 'github.com/docker/buildx v0.30.0 1a2b3c4', steps: ['crash'] });
    const { run: r } = await run(
      { 'buildx-version': shim.path, 'max-attempts': '2' },
      { ...shim.env, GITHUB_WORKSPACE: workspace() },
    );
    expect(r.code).toBe(1);
    // the thing to do first, in the annotation and in the summary
    expect(of(r, 'error')[0]?.message.split('\n')[0]).toBe(
      'Use buildx 0.30.1 or later (buildx-version). buildx v0.30.0 is known to crash this way: docker/buildx#3503.',
    );
    expect(r.summary.split('\n\n')[2]).toBe(
      '**Use buildx 0.30.1 or later (buildx-version).** buildx v0.30.0 is known to crash this way: ' +
        '[docker/buildx#3503](https://github.com/docker/buildx/issues/3503).',
    );
    shim.remove();
  });
});

describe('resolution and pinning', () => {
  it('pin: exact refuses latest before any network request', async () => {
    const before = server.requests.length;
    const ws = workspace('buildx:\n  pin: exact\n');
    const { run: r, repo } = await run(
      { 'buildx-version': 'latest', policy: '.github/buildx-policy.yml', 'buildx-mirror': server.mirror },
      { GITHUB_WORKSPACE: ws },
    );
    expect(r.code).toBe(1);
    expect(server.requests.length).toBe(before);
    expect(of(r, 'error')).toHaveLength(1);
    expect(of(r, 'error')[0]).toMatchObject({
      props: { file: FILE, line: String(BUILDX_LINE), title: 'buildx policy: pin' },
    });
    expect(await listTags(reg, repo)).toEqual([]);
  });

  it('a range resolves past a known-bad release: ">=0.30.0 <0.31" gives 0.30.1, never 0.30.0', async () => {
    const { run: r } = await run(
      { 'buildx-version': '>=0.30.0 <0.31', 'buildx-mirror': server.mirror },
      { GITHUB_WORKSPACE: workspace() },
    );
    expect(r.code, r.stdout.slice(-3000)).toBe(0);
    expect(JSON.parse(r.outputs.result as string).buildx.resolved).toBe('v0.30.1');
  });

  it('a range with nothing but known-bad releases: warned and used by default, refused under advisories: enforce', async () => {
    const warned = await run(
      { 'buildx-version': '>=0.30.0 <0.30.1', 'buildx-mirror': server.mirror },
      { GITHUB_WORKSPACE: workspace() },
    );
    expect(warned.run.code, warned.run.stdout.slice(-3000)).toBe(0);
    expect(JSON.parse(warned.run.outputs.result as string).buildx.resolved).toBe('v0.30.0');
    expect(
      of(warned.run, 'warning')
        .map((w) => w.message)
        .join('\n'),
    ).toMatch(/known to be bad; using v0\.30\.0/);

    const ws = workspace('buildx:\n  advisories: enforce\n');
    const refused = await run(
      {
        'buildx-version': '>=0.30.0 <0.30.1',
        'buildx-mirror': server.mirror,
        policy: '.github/buildx-policy.yml',
      },
      { GITHUB_WORKSPACE: ws },
    );
    expect(refused.run.code).toBe(1);
    expect(of(refused.run, 'error')[0]?.message).toMatch(
      /no buildx release satisfies ">=0\.30\.0 <0\.30\.1"/,
    );
  });

  it('deny and versions steer the range too', async () => {
    const ws = workspace('buildx:\n  deny: ["0.30.1"]\n  advisories: off\n');
    const { run: r } = await run(
      { 'buildx-version': '~0.30.0', 'buildx-mirror': server.mirror, policy: '.github/buildx-policy.yml' },
      { GITHUB_WORKSPACE: ws },
    );
    expect(r.code, r.stdout.slice(-3000)).toBe(0);
    expect(JSON.parse(r.outputs.result as string).buildx.resolved).toBe('v0.30.0');
  });
});

describe('a policy file with mistakes', () => {
  it('is refused with the file and line, annotated on the policy: line, before anything runs', async () => {
    const ws = workspace('mode: enforce\nbuildx:\n  version: ">=0.30.1"\n');
    const { run: r, repo } = await run(
      { policy: '.github/buildx-policy.yml' },
      { GITHUB_WORKSPACE: ws, DOCKER_CONFIG: runnerBuildx() },
    );
    expect(r.code).toBe(1);
    expect(of(r, 'error')).toHaveLength(1);
    expect(of(r, 'error')[0]).toMatchObject({
      props: { file: FILE, line: String(POLICY_LINE), title: 'buildx policy file' },
    });
    expect(of(r, 'error')[0]?.message).toMatch(
      /\.github\/buildx-policy\.yml, line 3: unknown key "buildx\.version"/,
    );
    expect(await listTags(reg, repo)).toEqual([]);
  });

  it('an input error lands on its own line; an unknown input on the uses: line', async () => {
    const { run: r } = await run({ 'max-attempts': '0' }, { GITHUB_WORKSPACE: workspace() });
    expect(r.code).toBe(1);
    expect(of(r, 'error')[0]).toMatchObject({ props: { file: FILE, line: String(USES_LINE) } });
    const { run: t } = await run({ tags: 'bad tag' }, { GITHUB_WORKSPACE: workspace() });
    expect(of(t, 'error')[0]).toMatchObject({ props: { file: FILE, line: String(lineOf('tags: ${{')) } });
  });
});
