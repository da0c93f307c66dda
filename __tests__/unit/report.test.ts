// The report's pure builders over tables of MergeResults: the summary read top-down (heading, the
// index once, what to do first, the tags, what ran, buildx and the policy, the collapsed output),
// its counts against its tables, the final annotations, and the log's one line per tag.
import { describe, expect, it } from 'vitest';

import type { AttemptRecord, MergeResult, TagResult } from '../../src/merge/engine.js';
import { advisoriesFor, describeAdvisory } from '../../src/policy/advisories.js';
import { knownFailure } from '../../src/report/publish.js';
import { type PolicyInfo, stepOutputs } from '../../src/report/report.js';
import {
  alongsideNote,
  failureAnnotation,
  recoveryAnnotation,
  SUMMARY_MAX_BYTES,
  summaryMarkdown,
  tellingLines,
} from '../../src/report/summary.js';
import { policyVerdict } from '../../src/report/summary-buildx.js';
import { headline, type KnownFailure } from '../../src/report/summary-head.js';
import { tagLogLines } from '../../src/report/summary-tags.js';

// Realistic names: a ghcr.io-length repository, five tags, a 71-character digest.
const D = 'sha256:e6b13d30f1364b7fd0c2a0a6f0e0d1e5b1c2d3e4f5a6b7c8d9e0f1a2b3c4f2e0';
const OTHER = `sha256:0123456789ab${'c'.repeat(52)}`;
const REPO = 'ghcr.io/my-org/my-service-name/app';
const TAGS = ['1.4.2', '1.4', '1', 'latest', 'sha-5f3c2a1'].map((t) => `${REPO}:${t}`);
const T0 = TAGS[0]!;
const SOURCES = [`${REPO}@sha256:${'1'.repeat(64)}`, `${REPO}@sha256:${'2'.repeat(64)}`];
const BX = { version: 'v0.36.1', path: '/opt/buildx', source: 'release', resolved: 'v0.36.1' };
const BX0130 = {
  version: '0.13.1+ds1',
  path: '/usr/libexec/docker/cli-plugins/docker-buildx',
  source: 'runner',
};
const KNOWN: KnownFailure = {
  version: 'v0.30.0',
  crash: true,
  issue: 'docker/buildx#3503',
  url: 'https://github.com/docker/buildx/issues/3503',
  fixed: '0.30.1',
};
const advisory = (n: string, short: string, fixed: string) => ({
  rule: 'advisory',
  severity: 'warning',
  message: `buildx 0.13.1+ds1 is affected by docker/buildx#${n}: a long sentence about it; fixed in ${fixed}`,
  advisory: {
    issue: `docker/buildx#${n}`,
    url: `https://github.com/docker/buildx/issues/${n}`,
    fixed,
    short,
  },
});
const RUNNER_POLICY: PolicyInfo = {
  origin: 'default',
  mode: 'warn',
  advisories: 'warn',
  findings: [
    advisory('2232', 'crash: nil pointer dereference in HTTP tracing', '0.20.0'),
    advisory('2955', 'tags briefly point at a child manifest, not the index', '0.22.0'),
  ],
};
const CLEAN: PolicyInfo = { origin: 'default', mode: 'warn', advisories: 'warn', findings: [] };

/** An attempt; `numbered` gives a list its numbers. */
function attempt(
  invocation: number | 'oracle',
  ok: boolean,
  extra: Partial<AttemptRecord> = {},
): AttemptRecord {
  return {
    number: 0,
    invocation,
    try: 1,
    tags: invocation === 'oracle' ? [] : [T0],
    sources: SOURCES,
    ok,
    exitCode: ok ? 0 : 2,
    signal: null,
    durationMs: 1800,
    waitMs: 0,
    ...extra,
  };
}
const numbered = (list: AttemptRecord[]) => list.map((a, i) => ({ ...a, number: i + 1 }));
const dry = () => attempt('oracle', true);
const push = (extra: Partial<AttemptRecord> = {}) => attempt(1, true, extra);
const copy = (tag: string) => attempt(2, true, { tags: [tag], sources: [`${REPO}@${D}`] });
const crash = (waitMs: number) =>
  attempt(1, false, {
    class: 'panic',
    signature: 'concurrent map writes',
    line: 'fatal error: concurrent map writes',
    waitMs,
    tail: ['fatal error: concurrent map writes', '', 'goroutine 41 [running]:'],
  });
const rateLimited = () =>
  attempt(1, false, {
    class: 'transient',
    signature: '429 Too Many Requests',
    line: 'toomanyrequests: retry-after: 2s',
    waitMs: 2000,
    askedWaitMs: 2000,
  });
const verified = (tag: string, extra: Partial<TagResult> = {}): TagResult => ({
  tag,
  digest: D,
  verified: true,
  ...extra,
});
const base = { ok: true, digest: D, panics: 0, recovered: false };

/** The scenarios every table below runs over (attempt numbers are given in order of creation). */
function scenarios(): Record<string, { r: MergeResult; dryRun?: boolean; known?: KnownFailure }> {
  const put = (tag: string) => verified(tag, { state: 'put' });
  return {
    plain: {
      r: {
        ...base,
        attempts: numbered([dry(), push()]),
        tags: [verified(T0), ...TAGS.slice(1).map(put)],
        puts: { atOnce: 4, retries: [] },
      },
    },
    'tag-method buildx': {
      r: {
        ...base,
        attempts: numbered([dry(), push(), copy(TAGS[1]!), copy(TAGS[2]!)]),
        tags: TAGS.slice(0, 3).map((t) => verified(t)),
      },
    },
    recovered: {
      r: {
        ...base,
        attempts: numbered([dry(), crash(440), crash(1600), push({ try: 3 })]),
        tags: [verified(T0, { lagWaitMs: 750 }), ...TAGS.slice(1).map(put)],
        puts: { atOnce: 4, retries: [] },
        panics: 2,
        recovered: true,
      },
      known: KNOWN,
    },
    failed: {
      r: {
        ...base,
        ok: false,
        attempts: numbered([dry(), crash(440), crash(1600), crash(3900), crash(6800), crash(0)]),
        tags: TAGS.map((tag) => ({ tag, digest: null, verified: false })),
        panics: 5,
        failure: {
          class: 'panic',
          signature: 'concurrent map writes',
          line: 'fatal error: concurrent map writes',
          message: `buildx crashed (concurrent map writes) while pushing ${T0}; max-attempts (5) reached.`,
          tags: TAGS,
        },
      },
      known: KNOWN,
    },
    already: {
      r: { ...base, attempts: numbered([dry()]), tags: TAGS.map((t) => verified(t, { state: 'already' })) },
    },
    'partly already': {
      r: {
        ...base,
        attempts: numbered([dry(), copy(TAGS[2]!)]),
        tags: [
          verified(T0, { state: 'already' }),
          verified(TAGS[1]!, { state: 'already' }),
          verified(TAGS[2]!),
        ],
      },
    },
    'put, asked waits': {
      r: {
        ...base,
        attempts: numbered([dry(), rateLimited(), push()]),
        tags: [verified(T0), ...TAGS.slice(1).map(put)],
        puts: {
          atOnce: 3,
          retries: [
            {
              tag: 'r/a:2',
              class: 'transient' as const,
              answer: 'PUT x: 503 Service Unavailable',
              waitMs: 100,
              askedWaitMs: 5000,
            },
            {
              tag: 'r/a:2',
              class: 'transient' as const,
              answer: 'PUT x: 503 Service Unavailable',
              waitMs: 100,
            },
          ],
        },
        recovered: true,
      },
    },
    'lag waits': {
      r: {
        ...base,
        attempts: numbered([dry(), push()]),
        tags: [verified(T0, { lagWaitMs: 1750 }), verified(TAGS[1]!, { state: 'put', lagWaitMs: 250 })],
        puts: { atOnce: 1, retries: [] },
        annotations: 3,
      },
    },
    'verify failed': {
      r: {
        ...base,
        ok: false,
        attempts: numbered([dry(), push(), copy(TAGS[1]!)]),
        tags: [verified(T0), { tag: TAGS[1]!, digest: OTHER, verified: false }],
        failure: {
          class: 'verify',
          signature: 'tag does not hold the expected index',
          line: `${TAGS[1]} -> ${OTHER}`,
          message: `1 of 2 tags do not resolve to ${D} after the push`,
          tags: [TAGS[1]!],
        },
      },
    },
    'dry run': { r: { ...base, attempts: numbered([dry()]), tags: [] }, dryRun: true },
  };
}
const S = scenarios();
const NAMES = Object.keys(S);
const md = (name: string, policy: PolicyInfo = CLEAN) => {
  const s = S[name]!;
  return summaryMarkdown(s.r, BX, s.dryRun ?? false, policy, s.known);
};

/** The Markdown tables of a summary: header cells and body rows of cells. */
function tables(text: string): { head: string[]; rows: string[][] }[] {
  const cellsOf = (l: string) =>
    l
      .split(/(?<!\\)\|/)
      .slice(1, -1)
      .map((c) => c.trim());
  return text
    .split('\n\n')
    .filter((b) => b.startsWith('| '))
    .map((b) => b.split('\n'))
    .map((lines) => ({ head: cellsOf(lines[0]!), rows: lines.slice(2).map(cellsOf) }));
}
const table = (text: string, first: string) => tables(text).find((t) => t.head[0] === first);

describe('the heading: what happened, in one short line, without the digest', () => {
  it.each<[string, string]>([
    ['plain', 'Pushed 5 tags, every one verified'],
    ['tag-method buildx', 'Pushed 3 tags, every one verified'],
    ['recovered', 'Pushed 5 tags, every one verified, after 2 crashes'],
    ['failed', 'Failed: buildx crashed (concurrent map writes)'],
    ['already', 'Nothing pushed: 5 tags already held the index'],
    ['partly already', 'Pushed 1 of 3 tags (2 already held the index), every one verified'],
    ['put, asked waits', 'Pushed 5 tags, every one verified, after 3 registry errors'],
    ['lag waits', 'Pushed 2 tags, every one verified'],
    ['verify failed', 'Failed: 1 of 2 tags do not hold the index'],
    ['dry run', 'Dry run: nothing pushed'],
  ])('%s: %s', (name, heading) => {
    const s = S[name]!;
    expect(headline(s.r, s.dryRun ?? false)).toBe(heading);
    expect(md(name).split('\n')[0]).toBe(`### safe-imagetools: ${heading}`);
    expect(heading.length).toBeLessThanOrEqual(70);
  });
  it('a failure before any push says so', () => {
    const r: MergeResult = {
      ok: false,
      attempts: numbered([attempt('oracle', false, { class: 'permanent', signature: '401 Unauthorized' })]),
      tags: [],
      panics: 0,
      recovered: false,
      failure: { class: 'permanent', signature: '401 Unauthorized', line: '', message: 'm', tags: [] },
    };
    expect(headline(r, false)).toBe('Failed before any push: permanent error (401 Unauthorized)');
  });
});

describe('the index digest: printed once, right under the heading', () => {
  it.each(NAMES)('%s', (name) => {
    const text = md(name, RUNNER_POLICY);
    expect(text.split(D).length - 1).toBe(1);
    const expected = S[name]!.r.ok ? 'Index' : 'Expected index';
    expect(text.split('\n\n')[1]).toMatch(new RegExp(`^${expected} \`${D}\``));
  });
  it('with the annotations checked in it', () => {
    expect(md('lag waits')).toContain(`Index \`${D}\`, with the 3 annotations asked for`);
  });
});

describe('the tags: one row each, a short state, no digest unless a tag holds something else', () => {
  it.each<[string, string[][]]>([
    [
      'plain',
      [
        [`\`${T0}\``, 'pushed', 'verified'],
        ...TAGS.slice(1).map((t) => [`\`${t}\``, 'written by PUT', 'verified']),
      ],
    ],
    [
      'tag-method buildx',
      [
        [`\`${T0}\``, 'pushed', 'verified'],
        [`\`${TAGS[1]}\``, 'copied', 'verified'],
        [`\`${TAGS[2]}\``, 'copied', 'verified'],
      ],
    ],
    ['already', TAGS.map((t) => [`\`${t}\``, 'already there', 'verified'])],
    [
      'partly already',
      [
        [`\`${T0}\``, 'already there', 'verified'],
        [`\`${TAGS[1]}\``, 'already there', 'verified'],
        [`\`${TAGS[2]}\``, 'copied', 'verified'],
      ],
    ],
    [
      'lag waits',
      [
        [`\`${T0}\``, 'pushed', 'verified after 1.8s of registry lag'],
        [`\`${TAGS[1]}\``, 'written by PUT', 'verified after 250ms of registry lag'],
      ],
    ],
    ['failed', TAGS.map((t) => [`\`${t}\``, 'not pushed', 'holds nothing'])],
    [
      'verify failed',
      [
        [`\`${T0}\``, 'pushed', 'verified'],
        [`\`${TAGS[1]}\``, 'copied', 'holds another index: sha256:0123456789ab'],
      ],
    ],
  ])('%s', (name, rows) => {
    const t = table(md(name), 'tag');
    expect(t?.head).toEqual(['tag', 'state', 'read back']);
    expect(t?.rows).toEqual(rows);
  });
  it('a dry run has no tag table', () => {
    expect(table(md('dry run'), 'tag')).toBeUndefined();
  });
});

describe('counts agree with the tables they sit above', () => {
  it.each(NAMES)('%s', (name) => {
    const text = md(name);
    const attempts = table(text, '#')!;
    const ran = /^Ran (\d+) --dry-runs? and (\d+ push attempts?|no buildx push)/m.exec(text);
    expect(ran, text).not.toBeNull();
    const dryRows = attempts.rows.filter((row) => row[1] === '--dry-run').length;
    const pushes = ran![2] === 'no buildx push' ? 0 : parseInt(ran![2]!, 10);
    expect([Number(ran![1]), pushes]).toEqual([dryRows, attempts.rows.length - dryRows]);
    // the table comes right after the sentence that counts its rows
    const blocks = text.split('\n\n');
    expect(blocks[blocks.findIndex((b) => b.startsWith('Ran ')) + 1]).toMatch(/^\| # \|/);

    const tags = table(text, 'tag')?.rows ?? [];
    const state = (s: string) => tags.filter((row) => row[1] === s).length;
    const pushed = /Pushed (?:(\d+) of )?(\d+) tags?(?: \((\d+) already held the index\))?/.exec(text);
    if (pushed) {
      const written = Number(pushed[1] ?? pushed[2]);
      expect(written).toBe(state('pushed') + state('copied') + state('written by PUT'));
      expect(Number(pushed[3] ?? 0)).toBe(state('already there'));
      expect(Number(pushed[2])).toBe(tags.length);
    }
    const already = /Nothing pushed: (\d+) tags? already held the index/.exec(text);
    if (already) expect(Number(already[1])).toBe(state('already there'));
    const byPut = /(\d+) tags? written by manifest PUT/.exec(text);
    expect(byPut ? Number(byPut[1]) : 0).toBe(state('written by PUT'));
  });
});

describe('what ran: no column that is empty in every row', () => {
  it.each<[string, string[], string]>([
    ['plain', ['#', 'what', 'result', 'took'], 'Ran 1 --dry-run and 1 push attempt, no retry needed.'],
    ['already', ['#', 'what', 'result', 'took'], 'Ran 1 --dry-run and no buildx push.'],
    ['dry run', ['#', 'what', 'result', 'took'], 'Ran 1 --dry-run and no buildx push.'],
    [
      'recovered',
      ['#', 'what', 'result', 'the line that shows it', 'exit', 'took', 'wait after'],
      'Ran 1 --dry-run and 3 push attempts: 2 × panic (concurrent map writes); 2s of waits.',
    ],
    [
      'failed',
      ['#', 'what', 'result', 'the line that shows it', 'exit', 'took', 'wait after'],
      'Ran 1 --dry-run and 5 push attempts: 5 × panic (concurrent map writes); 12.7s of waits.',
    ],
    [
      'put, asked waits',
      ['#', 'what', 'result', 'the line that shows it', 'exit', 'took', 'wait after'],
      'Ran 1 --dry-run and 2 push attempts: 1 × transient (429 Too Many Requests); 2s of waits (1 asked for by the registry).',
    ],
  ])('%s', (name, head, ran) => {
    const text = md(name);
    expect(text).toContain(`\n\n${ran}\n\n`);
    const attempts = table(text, '#')!;
    expect(attempts.head).toEqual(head);
    for (const t of tables(text).filter((x) => x.head[0] !== 'buildx')) {
      t.head.forEach((h, i) =>
        expect(
          t.rows.some((row) => row[i] !== ''),
          `${h} of ${name}`,
        ).toBe(true),
      );
    }
  });
  it.each<[string, string[], string[]]>([
    ['one repository: the tag only', [T0, TAGS[1]!], ['`:1.4.2`', '`:1.4`']],
    [
      'two repositories: in full',
      [T0, 'docker.io/my-org/app:1.4'],
      [`\`${T0}\``, '`docker.io/my-org/app:1.4`'],
    ],
  ])('the attempts name their tag briefly, the tag table in full: %s', (_name, tags, what) => {
    const r: MergeResult = {
      ...base,
      attempts: numbered([dry(), push(), { ...copy(tags[1]!) }]),
      tags: tags.map((t) => verified(t)),
    };
    expect(
      table(summaryMarkdown(r, BX, false), '#')!
        .rows.slice(1)
        .map((row) => row[1]),
    ).toEqual(what);
    expect(table(summaryMarkdown(r, BX, false), 'tag')!.rows.map((row) => row[0])).toEqual(
      tags.map((t) => `\`${t}\``),
    );
  });
  it('a wait the registry asked for is beside the wait', () => {
    const row = table(md('put, asked waits'), '#')!.rows[1]!;
    expect(row.at(-1)).toBe('2s (registry asked 2s)');
  });
  it.each<[string, string | undefined]>([
    ['plain', '4 tags written by manifest PUT, at most 4 at once, no retry.'],
    [
      'put, asked waits',
      '4 tags written by manifest PUT, at most 3 at once, 2 retries (the registry asked for 5s).',
    ],
    ['tag-method buildx', undefined],
  ])('manifest PUTs summed up, not a row each: %s', (name, line) => {
    const text = md(name);
    if (line) expect(text).toContain(`\n\n${line}\n\n`);
    else expect(text).not.toMatch(/manifest PUT/);
    expect(table(text, '#')!.rows.every((row) => row[1] === '--dry-run' || row[1]!.startsWith('`'))).toBe(
      true,
    );
  });
});

describe('what to do: first, in bold, right under the index', () => {
  it.each<[string, PolicyInfo, string[]]>([
    ['plain', CLEAN, []],
    [
      'plain',
      RUNNER_POLICY,
      ['**Use buildx 0.22.0 or later (buildx-version).** buildx v0.36.1 has 2 known issues, listed below.'],
    ],
    [
      'recovered',
      CLEAN,
      [
        '**Use buildx 0.30.1 or later (buildx-version).** buildx v0.30.0 is known to crash this way: [docker/buildx#3503](https://github.com/docker/buildx/issues/3503).',
      ],
    ],
    [
      'failed',
      CLEAN,
      [
        '**Use buildx 0.30.1 or later (buildx-version).** buildx v0.30.0 is known to crash this way: [docker/buildx#3503](https://github.com/docker/buildx/issues/3503).',
      ],
    ],
    [
      'verify failed',
      CLEAN,
      [
        '**Check what else writes these tags, or raise lag-timeout if the registry is slow to show its writes.**',
      ],
    ],
  ])('%s (%j)', (name, policy, todo) => {
    const blocks = md(name, policy).split('\n\n');
    expect(blocks.slice(2, 2 + todo.length)).toEqual(todo);
    expect(blocks[2 + todo.length]).not.toMatch(/^\*\*/);
  });
  // The real advisories: the policy's findings on a version (none with advisories: off).
  const realPolicy = (version: string, advisories: 'warn' | 'off'): PolicyInfo => ({
    origin: 'default',
    mode: 'warn',
    advisories,
    findings: (advisories === 'off' ? [] : advisoriesFor(version)).map((a) => ({
      rule: 'advisory',
      severity: 'warning',
      message: describeAdvisory(version, a),
      advisory: { issue: a.issue, url: a.url, fixed: a.fixed, short: a.short },
    })),
  });
  const link = (n: string) => `[docker/buildx#${n}](https://github.com/docker/buildx/issues/${n})`;
  it.each<[string, string, string, 'warn' | 'off', string]>([
    [
      'a fix another advisory flags (0.13.0: #2232, #2955): the lowest release none flags',
      'failed',
      'v0.12.1',
      'off',
      `**Use buildx 0.22.0 or later (buildx-version).** buildx v0.12.1 is known to crash this way: ${link('2229')}.`,
    ],
    [
      'the same crash, its advisories flagged too',
      'failed',
      'v0.12.1',
      'warn',
      `**Use buildx 0.22.0 or later (buildx-version).** buildx v0.12.1 is known to crash this way: ${link('2229')}; 2 more known issues below.`,
    ],
    [
      'a crash whose fix no advisory flags: the fix',
      'failed',
      'v0.30.0',
      'warn',
      `**Use buildx 0.30.1 or later (buildx-version).** buildx v0.30.0 is known to crash this way: ${link('3503')}.`,
    ],
    [
      'no failure, a flagged version: its fix',
      'plain',
      'v0.29.0',
      'warn',
      '**Use buildx 0.29.1 or later (buildx-version).** buildx v0.29.0 has 1 known issue, listed below.',
    ],
  ])('the release advised: %s', (_name, scenario, version, advisories, todo) => {
    const { r } = S[scenario]!;
    const bx = { ...BX, version, resolved: version };
    const text = summaryMarkdown(r, bx, false, realPolicy(version, advisories), knownFailure(r, version));
    expect(text.split('\n\n')[2]).toBe(todo);
  });
  it('a failure with advice: the advice first, the message without it after', () => {
    const advice = 'Log in before this step: docker/login-action with registry: ghcr.io.';
    const r: MergeResult = {
      ok: false,
      digest: D,
      attempts: numbered([dry(), attempt(1, false, { class: 'permanent', signature: 'insufficient_scope' })]),
      tags: [{ tag: T0, digest: null, verified: false }],
      panics: 0,
      recovered: false,
      failure: {
        class: 'permanent',
        signature: 'insufficient_scope',
        line: 'ERROR: insufficient_scope',
        message: `a permanent error (insufficient_scope) while pushing ${T0}; permanent errors are not retried. ${advice}`,
        tags: [T0],
        advice,
      },
    };
    const blocks = summaryMarkdown(r, BX, false, CLEAN).split('\n\n');
    expect(blocks[2]).toBe('**Log in before this step: docker/login-action with registry: ghcr.io.**');
    expect(blocks[3]).toBe(
      `a permanent error (insufficient\\_scope) while pushing ${T0}; permanent errors are not retried.`,
    );
    const a = failureAnnotation(r, false);
    expect(a.message.split('\n').slice(0, 2)).toEqual([
      advice,
      `a permanent error (insufficient_scope) while pushing ${T0}; permanent errors are not retried.`,
    ]);
  });
});

describe('buildx and the policy: each advisory once, one short line', () => {
  it('the runner 0.13.1 with two advisories', () => {
    const text = summaryMarkdown(S.plain!.r, BX0130, false, RUNNER_POLICY);
    for (const n of ['2232', '2955']) expect(text.split(`docker/buildx#${n}`).length - 1).toBe(1);
    expect(text).not.toContain('a long sentence about it');
    expect(text).toContain(
      'Policy: no policy (advisories warn): 2 warnings\n' +
        '- warning: [docker/buildx#2232](https://github.com/docker/buildx/issues/2232) crash: nil pointer dereference in HTTP tracing; fixed in 0.20.0\n' +
        '- warning: [docker/buildx#2955](https://github.com/docker/buildx/issues/2955) tags briefly point at a child manifest, not the index; fixed in 0.22.0',
    );
    expect(table(text, 'buildx')!.rows.map((row) => row[0])).toEqual(['version', 'source', 'path']);
  });
  it('policy verdicts', () => {
    expect(policyVerdict(CLEAN)).toBe('no policy (advisories warn): passed');
    expect(
      policyVerdict({
        origin: 'p.yml',
        mode: 'enforce',
        advisories: 'enforce',
        findings: [{ rule: 'pin', severity: 'error', message: 'm' }],
      }),
    ).toBe('policy p.yml (enforce, advisories enforce): 1 violation');
  });
});

describe('the final annotations: what to do first', () => {
  it.each([
    [
      'panic',
      'concurrent map writes',
      'buildx crashed: concurrent map writes (2 attempts)',
      /^Pin a buildx release/,
    ],
    [
      'transient',
      '503 Service Unavailable',
      'registry or network error: 503 Service Unavailable (2 attempts)',
      /^Check the registry's status, .*\. The registry kept failing\.$/,
    ],
    [
      'timeout',
      'buildx-idle-timeout (no output for 5m)',
      'buildx hung: buildx-idle-timeout (no output for 5m) (2 attempts)',
      /^Check the registry, or raise buildx-idle-timeout/,
    ],
    ['permanent', 'unauthorized', 'permanent error: unauthorized (2 attempts)', /^it failed$/],
    [
      'verify',
      'tag does not hold the expected index',
      'verification failed: tag does not hold the expected index (2 attempts)',
      /^Check what else writes these tags/,
    ],
  ])('%s', (cls, signature, title, first) => {
    const r: MergeResult = {
      ok: false,
      digest: D,
      attempts: numbered([dry(), crash(1500), crash(1500)]),
      tags: [],
      panics: 2,
      recovered: false,
      failure: {
        class: cls as 'panic',
        signature,
        line: 'ERROR: the line',
        message: 'it failed',
        tags: ['r/a:1', 'r/a:2'],
      },
    };
    const a = failureAnnotation(r, false);
    expect(a.title).toBe(title);
    const lines = a.message.split('\n');
    expect(lines[0]).toMatch(first);
    expect(lines.slice(-4)).toEqual([
      'it failed',
      'Not pushed: r/a:1, r/a:2.',
      'buildx said: ERROR: the line',
      'Ran 1 --dry-run and 2 push attempts, waiting 3s in all: 2 × panic (concurrent map writes).',
    ]);
  });
  it('a known failure: its fix first, instead of the generic advice', () => {
    const a = failureAnnotation(S.failed!.r, false, KNOWN);
    expect(a.message.split('\n')[0]).toBe(
      'Use buildx 0.30.1 or later (buildx-version). buildx v0.30.0 is known to crash this way: docker/buildx#3503.',
    );
    expect(a.message).not.toMatch(/Pin a buildx/);
  });
  it('a recovery: the fix first, then what was absorbed', () => {
    expect(recoveryAnnotation(S.recovered!.r, KNOWN)).toEqual({
      title: 'recovered from panic: concurrent map writes (3 attempts)',
      message:
        'Use buildx 0.30.1 or later (buildx-version). buildx v0.30.0 is known to crash this way: docker/buildx#3503.\n' +
        `Pushed 5 tags holding ${D}, every one verified, after absorbing 2 × panic (concurrent map writes).`,
    });
    expect(recoveryAnnotation(S.recovered!.r).message).toMatch(/^Pushed 5 tags holding/);
  });
  it('bounds the line and the tag list', () => {
    const r: MergeResult = {
      ok: false,
      attempts: numbered([crash(0)]),
      tags: [],
      panics: 1,
      recovered: false,
      failure: {
        class: 'panic',
        signature: 's',
        line: 'x'.repeat(5000),
        message: 'm'.repeat(5000),
        tags: Array.from({ length: 500 }, (_, i) => `registry.example.com/org/app:tag-${i}`),
        advice: 'a'.repeat(5000),
      },
    };
    expect(failureAnnotation(r, false).message.length).toBeLessThan(2200);
  });
});

describe('the log: one line per tag at the end, the same answer as the summary', () => {
  it.each<[string, string[]]>([
    [
      'recovered',
      [
        `${T0}        pushed, verified after 750ms of registry lag  sha256:e6b13d30f136`,
        `${TAGS[1]}          written by PUT, verified                      sha256:e6b13d30f136`,
        `${TAGS[2]}            written by PUT, verified                      sha256:e6b13d30f136`,
        `${TAGS[3]}       written by PUT, verified                      sha256:e6b13d30f136`,
        `${TAGS[4]}  written by PUT, verified                      sha256:e6b13d30f136`,
      ],
    ],
    ['failed', TAGS.map((t) => `${t.padEnd(46)}  not pushed, holds nothing  -`)],
    [
      'verify failed',
      [
        `${T0}  pushed, verified             sha256:e6b13d30f136`,
        `${TAGS[1]}    copied, holds another index  sha256:0123456789ab`,
      ],
    ],
    ['dry run', []],
  ])('%s', (name, lines) => {
    expect(tagLogLines(S[name]!.r)).toEqual(lines);
  });
});

describe('the collapsed output and its bound', () => {
  it('stays under its bound with a hundred failed attempts of huge lines', () => {
    // each dump its own (as real dumps differ: goroutine numbers, addresses)
    const tail = (n: number) =>
      Array.from({ length: 200 }, (_, i) => `goroutine ${i} [running] ${n}: ${'x'.repeat(5000)}`);
    const r: MergeResult = {
      ok: false,
      attempts: numbered(
        Array.from({ length: 120 }, (_, n) => ({ ...crash(0), tail: tail(n), line: 'y'.repeat(10_000) })),
      ),
      tags: Array.from({ length: 300 }, (_, i) => ({ tag: `r/a:${i}`, digest: null, verified: false })),
      panics: 120,
      recovered: false,
      failure: {
        class: 'panic',
        signature: 'concurrent map writes',
        line: 'l',
        message: 'm'.repeat(10_000),
        tags: [],
      },
    };
    const text = summaryMarkdown(r, BX, false);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(SUMMARY_MAX_BYTES);
    expect(text).toMatch(/more failed attempts not shown here/);
    expect(text).toMatch(
      /<details><summary>The crash of attempt 120 \(panic: concurrent map writes\)<\/summary>/,
    );
    expect(text).toMatch(/\| \.\.\. 20 more \|/);
    expect(text).toMatch(/\| \.\.\. 100 more \| \| \|/);
    expect(text.indexOf('<details>')).toBeGreaterThan(text.indexOf('| buildx |'));
  });
  it('escapes what would break the Markdown table', () => {
    const r: MergeResult = {
      ok: false,
      attempts: numbered([{ ...crash(0), signature: 'a | b', line: 'x | `y`' }]),
      tags: [],
      panics: 1,
      recovered: false,
      failure: { class: 'panic', signature: 'a | b', line: '', message: 'm', tags: [] },
    };
    const row =
      summaryMarkdown(r, BX, false)
        .split('\n')
        .find((l) => l.startsWith('| 1 |')) ?? '';
    expect(row.split(/(?<!\\)\|/).length).toBe(8);
  });
});

describe('a --dry-run that failed while the first push ran', () => {
  const result = (first: AttemptRecord): MergeResult => ({
    ok: false,
    attempts: [
      {
        ...attempt('oracle', false),
        number: 1,
        class: 'permanent',
        signature: '401 Unauthorized',
        line: 'ERROR: 401',
      },
      { ...first, number: 2 },
    ],
    tags: [{ tag: T0, digest: first.ok ? D : null, verified: false }],
    panics: 0,
    recovered: false,
    failure: {
      class: 'permanent',
      signature: '401 Unauthorized',
      line: 'ERROR: failed to authorize: 401 Unauthorized',
      message: 'buildx could not read the sources to compute the index',
      tags: first.ok ? [] : [T0],
    },
  });
  it.each([
    [
      'succeeded',
      attempt(1, true),
      `The first push (${T0}) ran alongside the --dry-run and succeeded: pushed, but not verified, as the expected digest is unknown.`,
      ['pushed', 'not verified (no expected digest): sha256:e6b13d30f136'],
    ],
    [
      'failed',
      attempt(1, false, { class: 'permanent', signature: '401 Unauthorized' }),
      `The first push (${T0}) ran alongside the --dry-run and failed: permanent (401 Unauthorized).`,
      ['not pushed', 'holds nothing'],
    ],
  ])('a push that %s is counted and named everywhere', (_how, first, note, state) => {
    const r = result(first);
    expect(alongsideNote(r)).toBe(note);
    expect(stepOutputs(r, BX, false).attempts).toBe('1');
    expect(JSON.parse(stepOutputs(r, BX, false).result).attempts).toHaveLength(2);
    expect(headline(r, false)).toBe('Failed: permanent error (401 Unauthorized)');
    expect(failureAnnotation(r, false).title).toBe('permanent error: 401 Unauthorized (1 attempt)');
    expect(failureAnnotation(r, false).message.split('\n')).toContain(note);
    const text = summaryMarkdown(r, BX, false);
    expect(text).toContain('Ran 1 --dry-run and 1 push attempt');
    expect(table(text, '#')!.rows[1]!.slice(0, 3)).toEqual([
      '2',
      '`:1.4.2`', // the tag table names it in full
      first.ok ? 'ok' : 'permanent: 401 Unauthorized',
    ]);
    expect(table(text, 'tag')!.rows[0]!.slice(1)).toEqual(state);
    expect(text).toContain(note);
  });
  it('says nothing when no push ran, or when the digest was known', () => {
    const r = result(attempt(1, true));
    expect(alongsideNote({ ...r, attempts: [r.attempts[0]!] })).toBe('');
    expect(alongsideNote({ ...r, digest: D })).toBe('');
  });
});

describe('the result output keeps what it said', () => {
  it('tags already holding the index, and asked waits, in the result JSON', () => {
    const r = S['put, asked waits']!.r;
    const out = JSON.parse(stepOutputs(r, BX, false).result) as { attempts: object[]; tags: object[] };
    expect(out.attempts[1]).toMatchObject({ waitMs: 2000, askedWaitMs: 2000 });
    expect(out.attempts[2]).not.toHaveProperty('askedWaitMs');
    const already = JSON.parse(stepOutputs(S.already!.r, BX, false).result) as { tags: object[] };
    expect(already.tags[0]).toEqual({ tag: T0, digest: D, verified: true, state: 'already' });
  });
});

describe('the collapsed output of failed attempts', () => {
  const dump = (n: number) => ['fatal error: concurrent map writes', `goroutine ${n} [running]:`];
  it.each([
    [
      'the same lines three times: one block naming the three',
      [1, 1, 1],
      ['attempts 1, 2 and 3, the same lines each time '],
    ],
    ['different lines: one block each, in order', [1, 2], ['attempt 1 ', 'attempt 2 ']],
    ['two alike, one not', [1, 2, 1], ['attempt 2 ', 'attempts 1 and 3, the same lines each time ']],
  ])('%s', (_name, dumps, summaries) => {
    const r: MergeResult = {
      ok: false,
      attempts: numbered(dumps.map((d) => ({ ...crash(0), tail: dump(d) }))),
      tags: [{ tag: 'r/a:1', digest: null, verified: false }],
      panics: dumps.length,
      recovered: false,
      failure: { class: 'panic', signature: 'concurrent map writes', line: 'l', message: 'm', tags: [] },
    };
    const got = [...summaryMarkdown(r, BX, false).matchAll(/<summary>The crash of (.*?)\(panic/g)].map(
      (m) => m[1],
    );
    expect(got).toEqual(summaries);
  });
});

describe('tellingLines: the crash for a log with no summary beside it', () => {
  it.each([
    [
      'one crash',
      [dry(), crash(0), push()],
      [
        'The crash of attempt 2 (panic: concurrent map writes):',
        '  fatal error: concurrent map writes',
        '  ',
        '  goroutine 41 [running]:',
      ],
    ],
    [
      'the same crash twice: one block',
      [dry(), crash(0), crash(0)],
      [
        'The crash of attempts 2 and 3 (panic: concurrent map writes):',
        '  fatal error: concurrent map writes',
        '  ',
        '  goroutine 41 [running]:',
      ],
    ],
    ['no failed attempt', [dry(), push()], []],
  ])('%s', (_, attempts, lines) => {
    const r: MergeResult = { ...base, ok: false, attempts: numbered(attempts), tags: [] };
    expect(tellingLines(r)).toEqual(lines);
  });
});
