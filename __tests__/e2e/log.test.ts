// The log and the record when the --dry-run and the first push run at the same time: the bundle run
// as the runner runs it, with the fault shim wrapping the real buildx 0.13.1 and a real registry.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { pushPlatformImages } from '../testbed/images.js';
import { logStructure } from '../testbed/logcheck.js';
import { buildxPath } from '../testbed/paths.js';
import { readDigest, type Registry, startRegistry } from '../testbed/registry.js';
import { type ActionRun, runAction } from '../testbed/runner.js';
import { makeShim, type ShimScript } from '../testbed/shim.js';

const MARK = 'shim-said';

/** What a hostile or careless buildx could print: each line would act if it reached the runner live. */
const hostile = (who: string): string[] => [
  `::error::${MARK} ${who}: an error annotation`,
  `::warning title=${MARK}::${who}: a warning annotation`,
  `::add-mask::${MARK}-${who.replace(/\W/g, '-')}`,
  `::endgroup::${MARK}`,
  `::stop-commands::${MARK}${who.replace(/\W/g, '')}`,
  `::group::${MARK} ${who}: a group`,
  `${MARK} ${who}: plain text`,
];

/** A line buildx (or the shim standing in for it) printed. */
const isBuildx = (line: string): boolean =>
  line.includes(MARK) || /^#\d+ /.test(line) || /^\s*"(mediaType|schemaVersion|manifests)"/.test(line);

let reg: Registry;
let sources: string[];
let n = 0;
const tags = (r: string, k: number) => Array.from({ length: k }, (_, i) => `${reg.host}/${r}:t${i + 1}`);

async function throughShim(script: ShimScript, tagList: string[], extra: Record<string, string> = {}) {
  const shim = makeShim(script);
  const run = await runAction({
    inputs: {
      sources: sources.join('\n'),
      tags: tagList.join('\n'),
      'buildx-version': shim.path,
      'retry-delay': '200ms',
      ...extra,
    },
    env: shim.env,
  });
  const pushes = shim.log();
  const dryRuns = shim.dryRunLog();
  shim.remove();
  return { run, pushes, dryRuns };
}

/** Nothing buildx printed was acted on, and the log's structure holds. */
function expectSafeLog(run: ActionRun): ReturnType<typeof logStructure> {
  const acted = run.commands.filter((c) => c.command === 'add-mask' || JSON.stringify(c).includes(MARK));
  expect(acted).toEqual([]);
  const log = logStructure(run.stdout, isBuildx);
  expect(log.problems).toEqual([]);
  // every block belongs to a group, and no group holds two blocks
  expect(log.blocks.filter((b) => b.group === '')).toEqual([]);
  expect(new Set(log.blocks.map((b) => b.group)).size).toBe(log.blocks.length);
  return log;
}

const blockOf = (log: ReturnType<typeof logStructure>, group: RegExp) =>
  log.blocks.filter((b) => group.test(b.group)).flatMap((b) => b.lines);

beforeAll(async () => {
  reg = await startRegistry();
  sources = await pushPlatformImages(reg, 'src/app', ['linux/amd64', 'linux/arm64']);
});
afterAll(async () => {
  await reg?.stop();
});

describe('buildx output during the concurrent first push', () => {
  it('a push that ends while the --dry-run holds the log is printed after it, as its own group', async () => {
    const r = `first-ends${++n}/app`;
    const { run, pushes, dryRuns } = await throughShim(
      {
        dryRunSteps: [{ mode: 'pass', print: hostile('dry-run'), printTo: 'stderr', sleepMs: 2000 }],
        steps: [{ mode: 'pass', print: hostile('push 1'), printTo: 'stderr' }, 'pass'],
      },
      tags(r, 2),
      { 'tag-method': 'buildx' }, // the second tag by a second buildx invocation, with its own group
    );
    expect(run.code, run.stdout.slice(-3000)).toBe(0);
    expect(run.commands.filter((c) => c.command === 'error')).toEqual([]);
    expect(dryRuns).toHaveLength(1);
    expect(pushes).toHaveLength(2);
    // the first push really ran while the --dry-run did
    const dryStart = Date.parse(dryRuns[0]!.time);
    expect(Date.parse(pushes[0]!.time) - dryStart).toBeLessThan(1500);
    const log = expectSafeLog(run);
    expect(log.groups).toEqual([
      expect.stringMatching(/^expected digest \(--dry-run\), attempt 1: /),
      expect.stringMatching(/^push \S+:t1 \(invocation 1, attempt 1\): /),
      expect.stringMatching(/^push \S+:t2 \(invocation 2, attempt 1\): /),
    ]);
    expect(blockOf(log, /--dry-run/)).toEqual(expect.arrayContaining(hostile('dry-run')));
    expect(blockOf(log, /:t1 /)).toEqual(expect.arrayContaining(hostile('push 1')));
    expect(blockOf(log, /--dry-run/).some((l) => l.includes('push 1'))).toBe(false);
    expect(await readDigest(reg, r, 't1')).toBe(run.outputs.digest);
  });

  it('a push still running when the --dry-run ends takes the log over, its output so far first', async () => {
    const r = `takes-over${++n}/app`;
    const { run, pushes, dryRuns } = await throughShim(
      {
        dryRunSteps: [{ mode: 'pass', print: hostile('dry-run'), printTo: 'stderr', sleepMs: 300 }],
        steps: [
          {
            mode: 'pass',
            print: hostile('push, during the dry-run'),
            sleepMs: 2500,
            printAfter: hostile('push, after the dry-run'),
          },
        ],
      },
      tags(r, 1),
    );
    expect(run.code, run.stdout.slice(-3000)).toBe(0);
    expect(dryRuns).toHaveLength(1);
    expect(pushes).toHaveLength(1);
    const log = expectSafeLog(run);
    expect(log.groups).toHaveLength(2);
    const push = blockOf(log, /:t1 /);
    const during = push.indexOf(hostile('push, during the dry-run')[0]!);
    const after = push.indexOf(hostile('push, after the dry-run')[0]!);
    expect(during).toBeGreaterThanOrEqual(0);
    expect(after).toBeGreaterThan(during);
    expect(push.some((l) => /^#\d+ .*pushing/.test(l))).toBe(true); // the real buildx's own lines
  });
  it('a flood from a push kept meanwhile is bounded: its head, a line for the gap, its tail', async () => {
    const r = `flood${++n}/app`;
    const shim = makeShim({
      dryRunSteps: [{ mode: 'pass', printTo: 'stderr', sleepMs: 6000 }],
      steps: [{ mode: 'flood', mb: 50 }],
    });
    const run = await runAction({
      inputs: { sources: sources.join('\n'), tags: tags(r, 1).join('\n'), 'buildx-version': shim.path },
      env: shim.env,
      measureRss: true,
    });
    const pushes = shim.log();
    const dryRuns = shim.dryRunLog();
    shim.remove();
    expect(run.code, run.stdout.slice(-3000)).toBe(0);
    expect(pushes).toHaveLength(1);
    expect(dryRuns).toHaveLength(1);
    const log = expectSafeLog(run);
    const push = blockOf(log, /:t1 /);
    const gap = push.findIndex((l) => /^\[\.\.\. \d+ bytes of output left out here \.\.\.\]$/.test(l));
    expect(gap).toBeGreaterThan(0);
    const bytes = push.reduce((t, l) => t + l.length + 1, 0);
    expect(bytes).toBeLessThan(2.5 * 1024 * 1024); // of 50 MiB
    // the real buildx's last lines (stderr) are in the tail, whichever pipe was read last
    expect(push.slice(gap).some((l) => /^#1 DONE/.test(l))).toBe(true);
    expect(run.peakRssKb).toBeLessThan(150 * 1024);
  });
});

describe('a --dry-run that fails while the first push runs', () => {
  const NO_AUTH =
    'ERROR: failed to authorize: failed to fetch anonymous token: unexpected status: 401 Unauthorized';

  it('the push that happened is in the record, the attempts output, the summary and the annotation', async () => {
    const r = `dry-fails${++n}/app`;
    const { run, pushes, dryRuns } = await throughShim(
      {
        dryRunSteps: [{ mode: 'registry-error', text: NO_AUTH, sleepMs: 300 }],
        steps: ['pass'],
      },
      tags(r, 2),
    );
    expect(run.code).toBe(1);
    expect(dryRuns).toHaveLength(1);
    expect(pushes).toHaveLength(1);
    const t1 = `${reg.host}/${r}:t1`;
    const result = JSON.parse(run.outputs.result as string);
    expect(result.attempts).toEqual([
      expect.objectContaining({ invocation: 'oracle', ok: false, class: 'permanent' }),
      expect.objectContaining({ invocation: 1, try: 1, tags: [t1], ok: true, exitCode: 0 }),
    ]);
    expect(run.outputs.attempts).toBe('1');
    expect(result.failure.tags).toEqual([`${reg.host}/${r}:t2`]); // t1 was pushed
    expect(run.summary).not.toContain('before any push');
    // the push is counted in the sentence above the attempts table, the --dry-run apart
    expect(run.summary).toContain('Ran 1 --dry-run and 1 push attempt');
    expect(run.summary).toContain('| 2 | `:t1` | ok |'); // the tag table names it in full
    expect(run.summary).toContain(`| \`${t1}\` | pushed | not verified (no expected digest): sha256:`);
    const errors = run.commands.filter((c) => c.command === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.props.title).toMatch(/\(1 attempt\)/);
    expect(errors[0]!.message).toContain(`The first push (${t1}) ran alongside the --dry-run and succeeded`);
    expect(await readDigest(reg, r, 't1')).toMatch(/^sha256:/);
    expectSafeLog(run);
  });

  it('a source that does not exist: the failed push is counted and named as well', async () => {
    const r = `missing${++n}/app`;
    const run = await runAction({
      inputs: {
        sources: [sources[0], `${reg.host}/src/app:missing`].join('\n'),
        tags: `${reg.host}/${r}:t1`,
        'buildx-version': buildxPath(),
        'retry-delay': '200ms',
      },
    });
    expect(run.code).toBe(1);
    const result = JSON.parse(run.outputs.result as string);
    const pushesRecorded = result.attempts.filter((a: { invocation: unknown }) => a.invocation !== 'oracle');
    expect(pushesRecorded).toEqual([
      expect.objectContaining({ invocation: 1, try: 1, tags: [`${reg.host}/${r}:t1`], ok: false }),
    ]);
    expect(run.outputs.attempts).toBe('1');
    // the --dry-runs (retried: not found) apart from the one push attempt, as the table's rows
    expect(run.summary).toMatch(/\nRan 3 --dry-runs and 1 push attempt: 4 × transient \(not found\)/);
    expect(run.summary.match(/^\| \d+ \| --dry-run \|/gm)).toHaveLength(3);
    expect(run.summary).not.toContain('before any push');
    const errors = run.commands.filter((c) => c.command === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.props.title).toMatch(/\(1 attempt\)/);
    expect(errors[0]!.message).toMatch(/The first push \(\S+:t1\) ran alongside the --dry-run and failed/);
  });
});
