// The `buildx version` check end to end (issue 12, the fixed cost): when it runs, counted with the
// fault shim's log of every invocation. Not at all for a tool-cache hit whose version the cache
// recorded.
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

beforeAll(async () => {
  reg = await startRegistry();
  sources = await pushPlatformImages(reg, 'src/app', ['linux/amd64', 'linux/arm64']);
});
afterAll(async () => {
  for (const s of shims) s.remove();
  await reg?.stop();
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

  it('a cached binary changed since (same size, its old mtime put back) is checked again: it no longer runs, so it is installed again', async () => {
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
    ).toMatch(/no longer runs; removing it and installing again/);
  });
});
