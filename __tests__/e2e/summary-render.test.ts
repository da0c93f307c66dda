// The job summary as a person sees it: the summaries of three real runs (plain,
// recovered from a crash, failed) rendered as GitHub renders them, GFM with GitHub's markdown
// stylesheet in Debian's Chromium, in GitHub's 1012 px job-summary column; measured for elements
// wider than the column and for things said more than once.
import { afterAll, describe, expect, it } from 'vitest';

import { ADVISORIES } from '../../src/policy/advisories.js';
import { COLUMN_PX, type Rendered, type Renderer, startRenderer } from '../testbed/render.js';
import {
  runSummaryScenarios,
  scenarioProblem,
  SUMMARY_SCENARIOS,
  type SummaryRun,
  type SummaryScenario,
} from '../testbed/summary-runs.js';

// Started by the first test that needs them, so that a missing Chromium fails every test with its
// message (a failing beforeAll would leave them reported as skipped).
let renderer: Promise<Renderer> | undefined;
const browser = (): Promise<Renderer> => (renderer ??= startRenderer());

interface Shown {
  run: SummaryRun;
  page: Rendered;
}
let shown: Promise<Map<SummaryScenario, Shown>> | undefined;
async function showAll(): Promise<Map<SummaryScenario, Shown>> {
  const r = await browser();
  const out = new Map<SummaryScenario, Shown>();
  for (const run of await runSummaryScenarios())
    out.set(run.scenario, { run, page: await r.render(run.run.summary) });
  return out;
}
async function summaryOf(scenario: SummaryScenario): Promise<Shown> {
  const s = (await (shown ??= showAll())).get(scenario);
  if (!s) throw new Error(`no ${scenario} run`);
  return s;
}

afterAll(async () => {
  await (await renderer?.catch(() => undefined))?.close();
});

const SLOW = 300_000;
const wideCode = `\`${'x'.repeat(150)}\``;

describe(`the render harness: GitHub's markdown CSS in Chromium, a ${COLUMN_PX} px column`, () => {
  it.each([
    ['a table with a cell wider than the column', `| a | b |\n| --- | --- |\n| ${wideCode} | b |`, ['table']],
    ['a code block with a line wider than the column', `\`\`\`\n${'y'.repeat(200)}\n\`\`\``, ['pre']],
    ['a long paragraph of words (it wraps)', 'many words '.repeat(300), []],
    ['a table that fits', '| a | b |\n| --- | --- |\n| `sha256:0123` | yes |', []],
    [
      'a wide code block inside closed <details> (not shown)',
      `<details><summary>more</summary>\n\n\`\`\`\n${'z'.repeat(200)}\n\`\`\`\n\n</details>`,
      [],
    ],
  ])('%s', async (_name, markdown, tags) => {
    const page = await (await browser()).render(markdown);
    expect(page.overflows.map((o) => o.tag)).toEqual(tags);
    for (const o of page.overflows) expect(o.width).toBeGreaterThan(COLUMN_PX);
  });

  it('counts what a person reads: escapes rendered, closed <details> left out', async () => {
    const page = await (
      await browser()
    ).render(
      'say\\_it `once` and say_it **once**\n\n<details><summary>x</summary>\n\nsay_it\n\n</details>\n',
    );
    expect(page.count('say_it')).toBe(2);
    expect(page.count('once and')).toBe(1);
  });
});

describe('the summaries of a plain, a recovered and a failed run, rendered as GitHub shows them', () => {
  it.each(SUMMARY_SCENARIOS)(
    '%s: the run went as its name says, and its summary renders',
    async (scenario) => {
      const { run, page } = await summaryOf(scenario);
      expect(scenarioProblem(run)).toBeUndefined();
      expect(page.text).toMatch(/^safe-imagetools/);
    },
    SLOW,
  );

  it.each(SUMMARY_SCENARIOS)(
    `%s: no table, heading, paragraph, code block or list is wider than ${COLUMN_PX} px`,
    async (scenario) => {
      const { page } = await summaryOf(scenario);
      expect(page.overflows).toEqual([]);
    },
    SLOW,
  );

  it.each(SUMMARY_SCENARIOS)(
    '%s: no tag or line in a table wraps, and no column is empty in every row',
    async (scenario) => {
      const { page } = await summaryOf(scenario);
      expect(page.wrapped).toEqual([]);
      expect(page.emptyColumns).toEqual([]);
    },
    SLOW,
  );

  it(
    'plain: the index digest is said once',
    async () => {
      const { run, page } = await summaryOf('plain');
      const digest = run.run.outputs.digest ?? '';
      expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(page.count(digest)).toBe(1);
    },
    SLOW,
  );

  it.each(SUMMARY_SCENARIOS)(
    '%s: each advisory of the buildx that ran is said once',
    async (scenario) => {
      const { run, page } = await summaryOf(scenario);
      const result = JSON.parse(run.run.outputs.result ?? '{}') as {
        policy?: { findings: { rule: string; message: string }[] };
      };
      const advisories = (result.policy?.findings ?? [])
        .filter((f) => f.rule === 'advisory')
        .map((f) => ADVISORIES.find((a) => f.message.includes(`${a.issue}:`)));
      // buildx 0.13.1 and 0.30.0 both have advisories: a run without any would prove nothing
      expect(advisories.length).toBeGreaterThan(0);
      // said once: its short line, or its long sentence, once in all
      const said = Object.fromEntries(
        advisories.map((a) => [a?.issue, a ? page.count(a.short) + page.count(a.summary) : -1]),
      );
      expect(said).toEqual(Object.fromEntries(advisories.map((a) => [a?.issue, 1])));
    },
    SLOW,
  );
});
