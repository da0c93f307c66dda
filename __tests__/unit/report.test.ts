import { describe, expect, it } from 'vitest';

import type { AttemptRecord, MergeResult } from '../../src/merge/engine.js';
import { stepOutputs } from '../../src/report/report.js';
import {
  alongsideNote,
  failureAnnotation,
  policyVerdict,
  putSignature,
  recoveryAnnotation,
  resultLine,
  SUMMARY_MAX_BYTES,
  summaryMarkdown,
} from '../../src/report/summary.js';

const D = `sha256:${'a'.repeat(64)}`;
const BX = { version: 'v0.36.1', path: '/opt/buildx', source: 'release', resolved: 'v0.36.1' };

function attempt(
  n: number,
  invocation: number | 'oracle',
  ok: boolean,
  extra: Partial<AttemptRecord> = {},
): AttemptRecord {
  return {
    number: n,
    invocation,
    try: n,
    tags: ['r/a:1'],
    sources: [],
    ok,
    exitCode: ok ? 0 : 2,
    signal: null,
    durationMs: 100,
    waitMs: 0,
    ...extra,
  };
}
const crash = (n: number, extra: Partial<AttemptRecord> = {}) =>
  attempt(n, 1, false, {
    class: 'panic',
    signature: 'concurrent map writes',
    line: 'fatal error: concurrent map writes',
    waitMs: 1500,
    ...extra,
  });

describe('failureAnnotation', () => {
  it.each([
    [
      'panic',
      'concurrent map writes',
      'buildx crashed: concurrent map writes (2 attempts)',
      /Pin a buildx release/,
    ],
    [
      'transient',
      '503 Service Unavailable',
      'registry or network error: 503 Service Unavailable (2 attempts)',
      /check its status/,
    ],
    [
      'timeout',
      'idle-timeout (no output for 5m)',
      'buildx hung: idle-timeout (no output for 5m) (2 attempts)',
      /raise idle-timeout/,
    ],
    ['permanent', 'unauthorized', 'permanent error: unauthorized (2 attempts)', /^(?![\s\S]*Pin a buildx)/],
    [
      'verify',
      'tag does not hold the expected index',
      'verification failed: tag does not hold the expected index (2 attempts)',
      /./,
    ],
  ])('%s', (cls, signature, title, advice) => {
    const r: MergeResult = {
      ok: false,
      digest: D,
      attempts: [attempt(1, 'oracle', true), crash(2), crash(3)],
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
    expect(a.message).toMatch(
      /^it failed\nNot pushed: r\/a:1, r\/a:2\.\nbuildx said: ERROR: the line\nTried 3 buildx invocations, waiting 3s in all: 2 × panic \(concurrent map writes\)\./,
    );
    expect(a.message).toMatch(advice);
  });
  it('names the advisory when there is one, instead of generic advice', () => {
    const r: MergeResult = {
      ok: false,
      attempts: [crash(1)],
      tags: [],
      panics: 1,
      recovered: false,
      failure: { class: 'panic', signature: 'concurrent map writes', line: '', message: 'm', tags: [] },
    };
    const a = failureAnnotation(
      r,
      false,
      'buildx 0.30.0 is known to crash this way: docker/buildx#3503, fixed in 0.30.1',
    );
    expect(a.message).toMatch(/docker\/buildx#3503, fixed in 0\.30\.1\.$/);
    expect(a.message).not.toMatch(/Pin a buildx/);
  });
  it('bounds the line and the tag list', () => {
    const r: MergeResult = {
      ok: false,
      attempts: [crash(1)],
      tags: [],
      panics: 1,
      recovered: false,
      failure: {
        class: 'panic',
        signature: 's',
        line: 'x'.repeat(5000),
        message: 'm',
        tags: Array.from({ length: 500 }, (_, i) => `registry.example.com/org/app:tag-${i}`),
      },
    };
    expect(failureAnnotation(r, false).message.length).toBeLessThan(1200);
  });
});

describe('recoveryAnnotation and the result line', () => {
  const r: MergeResult = {
    ok: true,
    digest: D,
    attempts: [attempt(1, 'oracle', true), crash(2), crash(3), attempt(4, 1, true)],
    tags: [{ tag: 'r/a:1', digest: D, verified: true }],
    panics: 2,
    recovered: true,
  };
  it('says what was absorbed', () => {
    expect(recoveryAnnotation(r)).toEqual({
      title: 'recovered from panic: concurrent map writes (3 attempts)',
      message: `Pushed 1 tag holding ${D}, every one verified, after absorbing 2 × panic (concurrent map writes).`,
    });
    expect(resultLine(r, false)).toBe(`Pushed 1 tag, \`${D}\`, 3 attempts, recovered from panic`);
  });
  it('policy verdicts', () => {
    expect(policyVerdict({ origin: 'default', mode: 'warn', advisories: 'warn', findings: [] })).toBe(
      'no policy (advisories warn): passed',
    );
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

describe('tags that already held the index', () => {
  const held = (tag: string) => ({ tag, digest: D, verified: true, state: 'already' as const });
  const pushed = (tag: string) => ({ tag, digest: D, verified: true });
  const run = (tags: MergeResult['tags'], pushes: number): MergeResult => ({
    ok: true,
    digest: D,
    attempts: [
      attempt(1, 'oracle', true),
      ...Array.from({ length: pushes }, (_, i) => attempt(i + 2, 1, true)),
    ],
    tags,
    panics: 0,
    recovered: false,
  });
  it.each([
    [[pushed('r/a:1'), pushed('r/a:2')], 2, `Pushed 2 tags, \`${D}\`, 2 attempts, no retry needed`],
    [
      [held('r/a:1'), pushed('r/a:2')],
      1,
      `Pushed 1 of 2 tags (1 already held it), \`${D}\`, 1 attempt, no retry needed`,
    ],
    [
      [held('r/a:1'), held('r/a:2')],
      0,
      `Nothing pushed: 2 tags already held it, \`${D}\`, 0 attempts, no retry needed`,
    ],
  ])('%j -> the result line says so', (tags, pushes, line) => {
    expect(resultLine(run(tags, pushes), false)).toBe(line);
  });
  it('says so in the tag table and in the result output', () => {
    const r = run([held('r/a:1'), pushed('r/a:2')], 1);
    const summary = summaryMarkdown(r, BX, false);
    expect(summary).toContain(`| \`r/a:1\` | \`${D}\` | yes, held it already: not pushed |`);
    expect(summary).toContain(`| \`r/a:2\` | \`${D}\` | yes |`);
    const result = JSON.parse(stepOutputs(r, BX, false).result) as { tags: unknown[] };
    expect(result.tags).toEqual([held('r/a:1'), pushed('r/a:2')]);
  });
});

describe('summaryMarkdown', () => {
  it('stays under its bound with a hundred failed attempts of huge lines', () => {
    const tail = Array.from({ length: 200 }, (_, i) => `goroutine ${i} [running]: ${'x'.repeat(5000)}`);
    const r: MergeResult = {
      ok: false,
      attempts: Array.from({ length: 120 }, (_, i) => crash(i + 1, { tail, line: 'y'.repeat(10_000) })),
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
    const md = summaryMarkdown(r, BX, false);
    expect(Buffer.byteLength(md)).toBeLessThanOrEqual(SUMMARY_MAX_BYTES);
    expect(md).toMatch(/more failed attempts not shown here/);
    expect(md).toMatch(
      /<details><summary>The crash of attempt 120 \(panic: concurrent map writes\)<\/summary>/,
    );
    expect(md).toMatch(/\| \.\.\. 20 more \|/);
  });
  it('escapes what would break the Markdown table', () => {
    const r: MergeResult = {
      ok: false,
      attempts: [crash(1, { signature: 'a | b', line: 'x | `y`' })],
      tags: [],
      panics: 1,
      recovered: false,
      failure: { class: 'panic', signature: 'a | b', line: '', message: 'm', tags: [] },
    };
    const row =
      summaryMarkdown(r, BX, false)
        .split('\n')
        .find((l) => l.startsWith('| 1 |')) ?? '';
    expect(row.split(/(?<!\\)\|/).length).toBe(9);
  });
});

describe('a --dry-run that failed while the first push ran', () => {
  const dry = attempt(1, 'oracle', false, {
    tags: [],
    class: 'permanent',
    signature: '401 Unauthorized',
    line: 'ERROR: failed to authorize: 401 Unauthorized',
  });
  const result = (push: AttemptRecord): MergeResult => ({
    ok: false,
    attempts: [dry, push],
    tags: [{ tag: 'r/a:1', digest: null, verified: false }],
    panics: 0,
    recovered: false,
    failure: {
      class: 'permanent',
      signature: '401 Unauthorized',
      line: 'ERROR: failed to authorize: 401 Unauthorized',
      message: 'buildx could not read the sources to compute the index',
      tags: push.ok ? [] : ['r/a:1'],
    },
  });
  it.each([
    [
      'succeeded',
      attempt(2, 1, true, { try: 1 }),
      'The first push (r/a:1) ran alongside the --dry-run and succeeded: pushed, but not verified, as the expected digest is unknown.',
    ],
    [
      'failed',
      attempt(2, 1, false, { try: 1, class: 'permanent', signature: '401 Unauthorized' }),
      'The first push (r/a:1) ran alongside the --dry-run and failed: permanent (401 Unauthorized).',
    ],
  ])('a push that %s is counted and named everywhere', (_how, push, note) => {
    const r = result(push);
    expect(alongsideNote(r)).toBe(note);
    expect(stepOutputs(r, BX, false).attempts).toBe('1');
    expect(JSON.parse(stepOutputs(r, BX, false).result).attempts).toHaveLength(2);
    expect(resultLine(r, false)).toBe('Failed after 1 attempt: permanent (401 Unauthorized)');
    const a = failureAnnotation(r, false);
    expect(a.title).toBe('permanent error: 401 Unauthorized (1 attempt)');
    expect(a.message.split('\n')).toContain(note);
    const md = summaryMarkdown(r, BX, false);
    expect(md).not.toContain('before any push');
    expect(md).toContain(`| 2 | \`r/a:1\` | ${push.ok ? 'ok' : 'permanent: 401 Unauthorized'} |`);
    expect(md).toContain(note);
  });

  it('says nothing when no push ran, or when the digest was known', () => {
    expect(alongsideNote({ ...result(attempt(2, 1, true)), attempts: [dry] })).toBe('');
    expect(alongsideNote({ ...result(attempt(2, 1, true)), digest: D })).toBe('');
  });
});

describe('a wait the registry asked for', () => {
  const rateLimited = attempt(2, 1, false, {
    class: 'transient',
    signature: '429 Too Many Requests',
    line: 'toomanyrequests: retry-after: 2s, allowed: 2000/minute',
    waitMs: 2000,
    askedWaitMs: 2000,
  });
  const r: MergeResult = {
    ok: true,
    digest: D,
    attempts: [attempt(1, 'oracle', true), rateLimited, attempt(3, 1, true)],
    tags: [{ tag: 'r/a:1', digest: D, verified: true }],
    panics: 0,
    recovered: true,
  };
  it('is shown beside the wait in the summary', () => {
    const row = summaryMarkdown(r, BX, false)
      .split('\n')
      .find((l) => l.startsWith('| 2 |'));
    expect(row).toMatch(/\| 2s \(registry asked 2s\) \|$/);
  });
  it('is askedWaitMs in the result JSON, absent where none was asked', () => {
    const attempts = JSON.parse(stepOutputs(r, BX, false).result as string).attempts;
    expect(attempts[1]).toMatchObject({ waitMs: 2000, askedWaitMs: 2000 });
    expect(attempts[2]).not.toHaveProperty('askedWaitMs');
  });
});

describe('putSignature', () => {
  it.each([
    ['PUT http://127.0.0.1:5000/v2/r/a/manifests/t2: 503 Service Unavailable', '503 Service Unavailable'],
    [
      'PUT https://ghcr.io/v2/o/a/manifests/1: 429 Too Many Requests (toomanyrequests)',
      '429 Too Many Requests',
    ],
    ['PUT http://127.0.0.1:5000/v2/r/a/manifests/t2: read ECONNRESET', 'ECONNRESET'],
    ['socket hang up', 'failed'],
  ])('%s -> %s', (answer, sig) => {
    expect(putSignature(answer)).toBe(sig);
  });
});
