// The last resort, end to end: a fault from outside the action's code (an uncaught exception, an
// unhandled rejection) while buildx hangs with a grandchild, or while a download stalls. The step
// must end with exactly one error naming the stage and the cause, exit 1, no stack trace, and no
// process left of those it started.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { pushPlatformImages } from '../testbed/images.js';
import { buildxPath, repoRoot } from '../testbed/paths.js';
import { type Registry, startRegistry } from '../testbed/registry.js';
import { type ReleaseServer, startReleaseServer } from '../testbed/release-server.js';
import { type ActionRun, leftoverProcesses, runAction } from '../testbed/runner.js';
import { makeShim } from '../testbed/shim.js';

const failLater = `${repoRoot}/__tests__/testbed/fail-later.mjs`;
let reg: Registry;
let server: ReleaseServer;
let sources: string[];

beforeAll(async () => {
  reg = await startRegistry();
  sources = await pushPlatformImages(reg, 'lr-src/app', ['linux/amd64', 'linux/arm64']);
  server = await startReleaseServer({
    binary: buildxPath(),
    releases: [
      { tag: 'v0.20.0', assets: 'stall' },
      { tag: 'v0.23.0', assets: '404' },
    ],
  });
});
afterAll(async () => {
  await server?.stop();
  await reg?.stop();
});

function expectOneCleanError(run: ActionRun, stage: string, mode: string): void {
  expect(run.code, run.stdout.slice(-2000)).toBe(1);
  const errors = run.commands.filter((c) => c.command === 'error');
  expect(errors).toHaveLength(1);
  expect(errors[0]?.props.title).toBe(`safe-imagetools failed (${stage})`);
  expect(errors[0]?.message).toContain(`failed in its ${stage} stage`);
  expect(errors[0]?.message).toContain(`TypeError: injected fault (${mode})`);
  // no bare stack trace anywhere: not on stdout (the log), not on stderr
  expect(`${run.stdout}\n${run.stderr}`).not.toMatch(/^\s+at .+\(.+:\d+:\d+\)$/m);
  expect(run.stderr).not.toMatch(/injected fault/);
  expect(leftoverProcesses(run.marker)).toEqual([]);
  expect(run.stdioOpenAfterExit).toBe(false);
}

describe('a fault nobody caught', () => {
  it.each(['throw', 'reject'])(
    'while buildx hangs with a grandchild (%s): one error naming the merge stage, every child killed',
    async (mode) => {
      const shim = makeShim({ steps: ['hang'] });
      const run = await runAction({
        inputs: {
          sources: sources.join('\n'),
          tags: `${reg.host}/lr-${mode}/app:t1`,
          'buildx-version': shim.path,
        },
        env: {
          ...shim.env,
          NODE_OPTIONS: `--import=${failLater}`,
          FAIL_LATER_WHEN: shim.stateFile,
          FAIL_LATER_MODE: mode,
        },
        timeoutMs: 60_000,
      });
      shim.remove();
      expect(run.timedOut).toBe(false);
      expectOneCleanError(run, 'merge', mode);
    },
  );

  it('while a buildx download stalls: one error naming the install stage', async () => {
    const run = await runAction({
      inputs: {
        sources: sources.join('\n'),
        tags: `${reg.host}/lr-install/app:t1`,
        'buildx-version': 'v0.20.0',
        'buildx-mirror': server.mirror,
      },
      env: {
        GITHUB_API_URL: server.apiUrl,
        NODE_OPTIONS: `--import=${failLater}`,
        FAIL_LATER_MS: '1500',
        FAIL_LATER_MODE: 'reject',
      },
      timeoutMs: 60_000,
    });
    expectOneCleanError(run, 'install', 'reject');
  });
});

describe('an installer failure of any kind', () => {
  it('is the one error, on the buildx-version line (a download answered 404)', async () => {
    const workflow = [
      'jobs:',
      '  merge:',
      '    steps:',
      '      - id: merge',
      '        uses: ./',
      '        with:',
      '          sources: x',
      '          buildx-version: v0.23.0',
      '',
    ].join('\n');
    const ws = mkdtempSync(join(tmpdir(), 'ws-lr-'));
    mkdirSync(join(ws, '.github', 'workflows'), { recursive: true });
    writeFileSync(join(ws, '.github', 'workflows', 'release.yml'), workflow);
    const run = await runAction({
      inputs: {
        sources: sources.join('\n'),
        tags: `${reg.host}/lr-404/app:t1`,
        'buildx-version': 'v0.23.0',
        'buildx-mirror': server.mirror,
      },
      env: { GITHUB_API_URL: server.apiUrl, GITHUB_WORKSPACE: ws },
    });
    expect(run.code).toBe(1);
    const errors = run.commands.filter((c) => c.command === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toMatch(/404 Not Found/);
    expect(errors[0]?.props).toMatchObject({
      file: '.github/workflows/release.yml',
      line: '8',
      title: 'buildx install',
    });
  });
});
