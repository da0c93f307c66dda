// Reporting end to end: the bundle run as the runner runs it, with a workflow file in the
// workspace; annotations read back with their file, line and title; the job summary's size.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { pushPlatformImages } from '../testbed/images.js';
import { fixturesDir } from '../testbed/paths.js';
import { listTags, type Registry, startRegistry } from '../testbed/registry.js';
import { type ActionRun, runAction, type WorkflowCommand } from '../testbed/runner.js';
import { makeShim, type ShimStep } from '../testbed/shim.js';

// A buildx that reports a version no advisory names, so the only annotations are the run's own.
const VERSION = 'github.com/docker/buildx v0.36.1 0a1b2c3';

const workflow = (steps: string) => `name: release
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        include:
          - platform: linux/amd64
          - platform: linux/arm64
    steps:
      - uses: actions/checkout@v5
  merge:
    runs-on: ubuntu-latest
    needs: [build]
    steps:
      - uses: actions/checkout@v5
${steps}`;

const ONE_STEP = workflow(`      - id: merge
        uses: ./ # safe-imagetools
        with:
          tags: \${{ steps.meta.outputs.tags }}
`);

const NO_ID = workflow(`      - uses: docker/login-action@v3
      - uses: ./
        with:
          tags: \${{ steps.meta.outputs.tags }}
`);

const TWO_USES = workflow(`      - id: first
        uses: ./
        with:
          tags: ghcr.io/o/app:latest
      - name: again, to a second registry
        id: second
        uses: ./
        with:
          tags: \${{ steps.meta.outputs.tags }}
`);

const lineIn = (text: string, needle: string, nth = 1): number => {
  const lines = text.split('\n');
  let seen = 0;
  for (let i = 0; i < lines.length; i++) if (lines[i]?.includes(needle) && ++seen === nth) return i + 1;
  throw new Error(`${needle} not in workflow`);
};
const FILE = '.github/workflows/release.yml';

let reg: Registry;
let sources: string[];
let n = 0;

function workspace(text?: string): string {
  const ws = mkdtempSync(join(tmpdir(), 'ws-report-'));
  if (text !== undefined) {
    mkdirSync(join(ws, '.github', 'workflows'), { recursive: true });
    writeFileSync(join(ws, FILE), text);
  }
  return ws;
}

async function run(
  steps: ShimStep[],
  opts: { ws: string; env?: Record<string, string>; inputs?: Record<string, string>; fixtures?: string },
) {
  const shim = makeShim({ version: VERSION, steps });
  const repo = `report${++n}/app`;
  const r = await runAction({
    inputs: {
      sources: sources.join('\n'),
      tags: `${reg.host}/${repo}:v1`,
      'buildx-version': shim.path,
      'retry-delay': '100ms',
      'retry-max-delay': '200ms',
      ...opts.inputs,
    },
    env: {
      ...shim.env,
      ...(opts.fixtures ? { SHIM_FIXTURES: opts.fixtures } : {}),
      GITHUB_WORKSPACE: opts.ws,
      ...opts.env,
    },
  });
  shim.remove();
  return { r, repo };
}

const of = (r: ActionRun, kind: string): WorkflowCommand[] => r.commands.filter((c) => c.command === kind);

beforeAll(async () => {
  reg = await startRegistry();
  sources = await pushPlatformImages(reg, 'src/app', ['linux/amd64', 'linux/arm64']);
});
afterAll(async () => {
  await reg?.stop();
});

describe('annotations on the workflow line', () => {
  it('crash, crash, pass: exactly one warning, on the uses: line; the summary shows 3 attempts of class panic', async () => {
    const { r } = await run(['crash', 'crash', 'pass'], { ws: workspace(ONE_STEP) });
    expect(r.code, r.stdout.slice(-3000)).toBe(0);
    expect(of(r, 'error')).toEqual([]);
    const warnings = of(r, 'warning');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.props).toEqual({
      file: FILE,
      line: String(lineIn(ONE_STEP, 'uses: ./')),
      title: 'recovered from panic: concurrent map writes (3 attempts)',
    });
    expect(warnings[0]?.message).toMatch(
      /Pushed 1 tag holding sha256:[0-9a-f]{64}, every one verified, after absorbing 2 × panic \(concurrent map writes\)/,
    );
    // the heading says what happened; the digest once, under it; the attempts counted above their rows
    expect(r.summary).toMatch(
      /^### safe-imagetools: Pushed 1 tag, every one verified, after 2 crashes\n\nIndex `sha256:[0-9a-f]{64}`\n/,
    );
    expect(r.summary).toContain('\nRan 1 --dry-run and 3 push attempts: 2 × panic (concurrent map writes); ');
    const rows = r.summary.split('\n').filter((l) => /^\| \d+ \| `/.test(l));
    expect(rows).toHaveLength(3);
    expect(
      rows
        .slice(0, 2)
        .every((l) =>
          l.includes('| panic: concurrent map writes | `fatal error: concurrent map writes` | 2 |'),
        ),
    ).toBe(true);
    // one log group per attempt, each followed by its one-line verdict
    expect(r.stdout.match(/^::group::push .*\(invocation 1, attempt \d\)/gm)).toHaveLength(3);
    expect(r.stdout).toMatch(
      /::endgroup::\npush .* \(invocation 1, attempt 1\): panic: concurrent map writes \(exit 2, /,
    );
  });

  it('five crashes: exactly one error, on the uses: line, its title naming concurrent map writes', async () => {
    const { r, repo } = await run(['crash'], { ws: workspace(ONE_STEP) });
    expect(r.code).toBe(1);
    expect(of(r, 'warning')).toEqual([]);
    const errors = of(r, 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.props).toEqual({
      file: FILE,
      line: String(lineIn(ONE_STEP, 'uses: ./')),
      title: 'buildx crashed: concurrent map writes (5 attempts)',
    });
    const m = errors[0]?.message ?? '';
    expect(m).toMatch(
      /buildx crashed \(concurrent map writes\) while pushing .*:v1; max-attempts \(5\) reached/,
    );
    expect(m).toMatch(/buildx said: fatal error: concurrent map writes/);
    expect(m).toMatch(
      /Ran 1 --dry-run and 5 push attempts, waiting .* in all: 5 × panic \(concurrent map writes\)/,
    );
    expect(m).toMatch(/Pin a buildx release without this crash \(buildx-version\)/);
    expect(await listTags(reg, repo)).toEqual([]);
  });

  it('a 25,000-line crash dump: the summary stays under 1 MiB and no dump reaches an annotation', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fixtures-'));
    const dump = [
      readFileSync(join(fixturesDir, 'v0.30.0-fatal-concurrent-map-writes.log'), 'utf8').split(
        'goroutine 1 [',
      )[0],
    ];
    for (let i = 0; dump.join('\n').split('\n').length < 25_000; i++) {
      dump.push(
        `goroutine ${i + 2} [select]:\ngithub.com/docker/buildx/util/progress.(*Printer).Wait(0xc000${i})\n\t/go/src/github.com/docker/buildx/util/progress/printer.go:${i} +0x${i.toString(16)}\n`,
      );
    }
    writeFileSync(join(dir, 'huge.log'), dump.join('\n'));
    const { r } = await run([{ mode: 'crash', fixture: 'huge.log' }], {
      ws: workspace(ONE_STEP),
      fixtures: dir,
      inputs: { 'max-attempts': '3' },
    });
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n').length).toBeGreaterThan(3 * 25_000);
    expect(Buffer.byteLength(r.summary)).toBeLessThan(1024 * 1024);
    expect(r.summaryTooLarge).toBe(false);
    const annotations = [...of(r, 'error'), ...of(r, 'warning')];
    expect(annotations).toHaveLength(1);
    for (const a of annotations) {
      expect(a.message).not.toMatch(/goroutine \d+ \[/);
      expect(a.message.length).toBeLessThan(4000);
    }
  });
});

describe('finding the step', () => {
  it('a step without an id (GITHUB_ACTION is the generated __self)', async () => {
    const { r } = await run(['crash', 'pass'], { ws: workspace(NO_ID), env: { GITHUB_ACTION: '__self' } });
    expect(r.code).toBe(0);
    expect(of(r, 'warning')[0]?.props).toMatchObject({ file: FILE, line: String(lineIn(NO_ID, 'uses: ./')) });
  });

  it('two uses of the action in one job: the annotation goes to the one that ran', async () => {
    const { r } = await run(['crash', 'pass'], { ws: workspace(TWO_USES), env: { GITHUB_ACTION: 'second' } });
    expect(r.code).toBe(0);
    expect(of(r, 'warning')[0]?.props).toMatchObject({
      file: FILE,
      line: String(lineIn(TWO_USES, 'uses: ./', 2)),
    });
  });

  it('two uses, and no way to tell them apart: no location rather than a wrong one', async () => {
    const { r } = await run(['crash', 'pass'], { ws: workspace(TWO_USES), env: { GITHUB_ACTION: '' } });
    expect(r.code).toBe(0);
    expect(of(r, 'warning')[0]?.props.file).toBeUndefined();
  });

  it('a missing workflow file: annotations without a location', async () => {
    const { r } = await run(['crash'], { ws: workspace(), inputs: { 'max-attempts': '2' } });
    expect(r.code).toBe(1);
    expect(of(r, 'error')).toHaveLength(1);
    expect(of(r, 'error')[0]?.props).toEqual({ title: 'buildx crashed: concurrent map writes (2 attempts)' });
  });

  it('workflow-annotations: false keeps them in the log; the step still fails and the summary is written', async () => {
    const { r } = await run(['crash'], {
      ws: workspace(ONE_STEP),
      inputs: { 'max-attempts': '2', 'workflow-annotations': 'false' },
    });
    expect(r.code).toBe(1);
    expect([...of(r, 'error'), ...of(r, 'warning'), ...of(r, 'notice')]).toEqual([]);
    expect(r.stdout).toMatch(/^error: buildx crashed: concurrent map writes \(2 attempts\): /m);
    expect(r.summary).toMatch(/^### safe-imagetools: Failed: buildx crashed \(concurrent map writes\)\n/);
    expect(r.summary).toContain('\nRan 1 --dry-run and 2 push attempts: 2 × panic (concurrent map writes)');
  });
});
