// The engine's retry logic, driven by a scripted buildx and an in-memory registry. The real buildx,
// registry and process tree are exercised by the e2e suite; here every branch of the loop is.
import { describe, expect, it } from 'vitest';

import type { ExecOutcome } from '../../src/exec/buildx.js';
import { advice } from '../../src/merge/advice.js';
import { classifyOutput } from '../../src/buildx/classify.js';
import type { FailureClass } from '../../src/buildx/classify.js';
import {
  type EngineDeps,
  type MergeOptions,
  type MergeResult,
  mergeOptions,
  runMerge,
} from '../../src/merge/engine.js';
import { dryRunFailureMessage } from '../../src/merge/messages.js';
import { indexDigest } from '../../src/merge/dry-run.js';
import { indexPushShown, refusedIndexPuts } from '../../src/merge/push.js';
import { readInputs } from '../../src/inputs/inputs.js';
import { parseTag } from '../../src/registry/reference.js';

const INDEX = JSON.stringify({
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.index.v1+json',
  manifests: [],
});
const DIGEST = indexDigest(`${INDEX}\n`).digest;

type Step =
  | 'pass'
  | 'crash'
  | 'crash-after-push'
  | 'crash-after-push-shown'
  | '503'
  | '503-index-put'
  | '401'
  | 'not-found'
  | 'hang'
  | 'wrong-digest';

const SOURCES = ['r/src/app:amd64', 'r/src/app:arm64'];
/**
 * The inputs' defaults for the tags named, but tag-method buildx: every tag by a buildx push, the
 * loop these tables drive (tags by manifest PUT, the default, are in content.test.ts and
 * engine-records.test.ts).
 */
const options = (tags: string[], over: Partial<MergeOptions> = {}): MergeOptions => ({
  sources: SOURCES,
  tags: tags.map(parseTag),
  annotations: [],
  append: false,
  dryRun: false,
  tagsPerBuildx: 1,
  buildxAtOnce: 1,
  tagMethod: 'buildx',
  putsAtOnce: 4,
  maxAttempts: 5,
  retryOn: new Set<FailureClass>(['panic', 'transient', 'timeout']),
  retryDelayMs: 2000,
  retryMaxDelayMs: 60_000,
  lagTimeoutMs: 30_000,
  verify: true,
  ...over,
});

/** What the in-memory registry holds and how it behaves. */
interface World {
  /** what tags hold before the run */
  held?: Record<string, string>;
  /** a tag just written reads as what it held before, this many times */
  lagReads?: number;
  /** a push to a tag holding anything is refused (ECR's immutable tags) */
  immutable?: boolean;
}

const IMMUTABLE =
  'ERROR: failed commit on ref "index-sha256:1": unexpected status from PUT request to https://r/v2/a/manifests/1: 400 Bad Request';

/** A buildx that plays `steps`, one per push (the last one repeats), over an in-memory registry. */
function harness(steps: Step[], world: World = {}) {
  const registry = new Map<string, string>(Object.entries(world.held ?? {}));
  const lag = new Map<string, { left: number; old: string | null }>();
  const calls: string[][] = [];
  const waits: number[] = [];
  /** `dry-run end` and `push <tags>` in the order they happened */
  const events: string[] = [];
  let pushes = 0;
  const out = (ok: boolean, text = '', extra: Partial<ExecOutcome> = {}): ExecOutcome => ({
    ok,
    classification: ok ? undefined : classifyOutput(text),
    exitCode: ok ? 0 : 2,
    signal: null,
    durationMs: 1,
    stdout: ok ? `${INDEX}\n` : '',
    stdoutTruncated: false,
    tail: text.split('\n'),
    ...extra,
  });
  const deps: EngineDeps = {
    async exec(args) {
      calls.push(args);
      if (args.includes('--dry-run')) {
        await new Promise((r) => setTimeout(r, 5));
        events.push('dry-run end');
        return out(true);
      }
      const step = steps[Math.min(pushes++, steps.length - 1)] as Step;
      const tags = args.flatMap((a, i) => (args[i - 1] === '--tag' ? [a] : []));
      events.push(`push ${tags.join(',')}`);
      if (world.immutable && tags.some((t) => registry.has(t))) return out(false, IMMUTABLE);
      const land = () =>
        tags.forEach((t) => {
          lag.set(t, { left: world.lagReads ?? 0, old: registry.get(t) ?? null });
          registry.set(t, DIGEST);
        });
      switch (step) {
        case 'pass':
          land();
          return out(true);
        case 'crash-after-push':
          land();
          return out(false, 'fatal error: concurrent map writes');
        case 'crash-after-push-shown':
          land();
          return out(false, `#1 0.041 pushing ${DIGEST} to ${tags[0]}\nfatal error: concurrent map writes`);
        case 'crash':
          return out(false, 'fatal error: concurrent map writes');
        case '503':
          return out(false, 'ERROR: unexpected status: 503 Service Unavailable');
        case '503-index-put': {
          const [, repo, tag] = /^[^/]+\/(.+):([^:]+)$/.exec(tags[0]!)!;
          return out(
            false,
            `#1 0.041 pushing ${DIGEST} to ${tags[0]}\n#1 ERROR: failed commit on ref "index-${DIGEST}": ` +
              `unexpected status from PUT request to http://r/v2/${repo}/manifests/${tag}: 503 Service Unavailable`,
          );
        }
        case '401':
          return out(false, 'ERROR: failed to authorize: 401 Unauthorized');
        case 'not-found':
          return out(false, 'ERROR: r/src/app:amd64: not found');
        case 'hang':
          return {
            ...out(false),
            classification: {
              class: 'timeout',
              signature: 'buildx-idle-timeout (no output for 3s)',
              line: '',
            },
          };
        case 'wrong-digest':
          tags.forEach((t) => registry.set(t, 'sha256:' + '0'.repeat(64)));
          return out(true);
      }
    },
    async readDigest(ref) {
      const l = lag.get(ref.original);
      if (l && l.left > 0) {
        l.left--;
        return l.old;
      }
      return registry.get(ref.original) ?? null;
    },
    async sleep(ms) {
      waits.push(ms);
    },
    random: () => 0.5,
    info: () => {},
  };
  return { run: (o: MergeOptions) => runMerge(o, deps), calls, waits, events };
}

const pushCalls = (calls: string[][]) => calls.filter((c) => !c.includes('--dry-run'));
const tagsOf = (call: string[]) => call.flatMap((a, i) => (call[i - 1] === '--tag' ? [a] : []));

interface Expected {
  /** a subset of the MergeResult */
  result: Record<string, unknown>;
  /** the tags of each push, in order */
  pushes: string[][];
  /** the source each push copies from (its last argument), when checked */
  from?: string[][];
  /** every backoff wait (jitter 0.5 of 2s, 4s, ...), when checked */
  waits?: number[];
  /** the read-back of each tag, when checked */
  tags?: { tag: string; digest: string | null; verified: boolean }[];
  /** the tags the crashed attempt found already pushed */
  landed?: string[];
}

/** Checks a run of the harness against a row's expectations. */
function expectRun(
  h: ReturnType<typeof harness>,
  r: MergeResult,
  want: Expected & { events?: unknown[] },
): void {
  expect(r).toMatchObject(want.result);
  const pushes = pushCalls(h.calls);
  expect(pushes.map(tagsOf)).toEqual(want.pushes);
  if (want.from) expect(pushes.map((c, i) => c.slice(-want.from![i]!.length))).toEqual(want.from);
  if (want.waits) expect(h.waits).toEqual(want.waits);
  if (want.tags) expect(r.tags).toEqual(want.tags);
  if (want.events) expect(h.events).toEqual(want.events);
  if (want.landed) expect(r.attempts.find((a) => a.class === 'panic')?.landed).toEqual(want.landed);
}

const A1 = ['r/a:1'];
const VERIFIED = [{ tag: 'r/a:1', digest: DIGEST, verified: true }];
const NOT_HELD = expect.stringMatching(/does not hold the expected index/);

describe('runMerge: scripted buildx outcomes -> attempts, classes, outputs', () => {
  it.each<[string, Step[], MergeOptions, Expected]>([
    [
      'crash, crash, pass: three attempts, recovered, two panics, waits only between attempts',
      ['crash', 'crash', 'pass'],
      options(A1, { retryDelayMs: 1000 }),
      // jitter 0.5 of 1s, 2s; nothing after the last attempt
      {
        result: { ok: true, recovered: true, panics: 2, digest: DIGEST },
        pushes: [A1, A1, A1],
        waits: [500, 1000],
        tags: VERIFIED,
      },
    ],
    [
      'pushes the index once, then copies it by digest, one tag per invocation',
      ['pass'],
      options(['r/a:1', 'r/a:2', 'r/b:3']),
      {
        result: { ok: true },
        pushes: [['r/a:1'], ['r/a:2'], ['r/b:3']],
        from: [SOURCES, [`docker.io/r/a@${DIGEST}`], [`docker.io/r/a@${DIGEST}`]],
      },
    ],
    [
      'a crash after the push landed: the read-back finds the tag and pushes nothing more for it',
      ['crash-after-push', 'pass'],
      options(['r/a:1', 'r/a:2']),
      { result: { ok: true, recovered: true, panics: 1 }, pushes: [['r/a:1'], ['r/a:2']], landed: ['r/a:1'] },
    ],
    [
      'drops to one tag per invocation after a panic',
      ['crash', 'pass'],
      options(['r/a:1', 'r/a:2', 'r/a:3', 'r/a:4', 'r/a:5'], { tagsPerBuildx: 3 }),
      {
        result: { ok: true },
        pushes: [['r/a:1', 'r/a:2', 'r/a:3'], ['r/a:1'], ['r/a:2'], ['r/a:3'], ['r/a:4'], ['r/a:5']],
      },
    ],
    [
      'never retries a permanent error',
      ['401', 'pass'],
      options(A1),
      {
        result: { ok: false, failure: { class: 'permanent', signature: '401 Unauthorized', tags: A1 } },
        pushes: [A1],
        waits: [],
      },
    ],
    [
      'stops at max-attempts, with no wait after the last',
      ['503'],
      options(A1, { maxAttempts: 4 }),
      {
        result: { ok: false, failure: { class: 'transient', signature: '503 Service Unavailable' } },
        pushes: [A1, A1, A1, A1],
        waits: [1000, 2000, 4000],
      },
    ],
    [
      'retries only what retry-on lists',
      ['hang', 'pass'],
      options(A1, { retryOn: new Set<FailureClass>(['panic']) }),
      { result: { ok: false, failure: { class: 'timeout' } }, pushes: [A1] },
    ],
    [
      'gives not-found a short budget, then calls it permanent',
      ['not-found'],
      options(A1, { maxAttempts: 10 }),
      { result: { ok: false, failure: { class: 'permanent' } }, pushes: [A1, A1, A1] },
    ],
    [
      'a tag that does not hold the expected index fails the step even though buildx exited 0',
      ['wrong-digest'],
      options(A1),
      { result: { ok: false, failure: { signature: NOT_HELD } }, pushes: [A1] },
    ],
    [
      'a copy that exits 0 but does not hold the index fails the verification, naming that tag',
      ['pass', 'wrong-digest'],
      options(['r/a:1', 'r/a:2']),
      {
        result: {
          ok: false,
          failure: { class: 'verify', signature: 'tag does not hold the expected index', tags: ['r/a:2'] },
        },
        pushes: [['r/a:1'], ['r/a:2']],
        tags: [VERIFIED[0]!, { tag: 'r/a:2', digest: 'sha256:' + '0'.repeat(64), verified: false }],
      },
    ],
    [
      'with verify off, trusts exit 0 and reads nothing back',
      ['wrong-digest'],
      options(A1, { verify: false }),
      { result: { ok: true }, pushes: [A1], tags: [{ tag: 'r/a:1', digest: DIGEST, verified: false }] },
    ],
    [
      'a dry run computes the digest and pushes nothing',
      ['pass'],
      options([], { dryRun: true }),
      { result: { ok: true, digest: DIGEST }, pushes: [] },
    ],
  ])('%s', async (_, steps, opts, want) => {
    const h = harness(steps);
    expectRun(h, await h.run(opts), want);
  });
});

const OTHER = 'sha256:' + '0'.repeat(64);
const A12 = ['r/a:1', 'r/a:2'];
const ALREADY = (tag: string) => ({ tag, digest: DIGEST, verified: true, state: 'already' });

describe('re-runs and read-after-write lag: what the registry holds -> pushes, waits, results', () => {
  // [name, the registry, buildx steps, options, expected; `events` when the order is checked]
  it.each<[string, World, Step[], MergeOptions, Expected & { events?: string[] }]>([
    [
      're-run: every tag already holds the index: nothing pushed, each reported as already holding it',
      { held: { 'r/a:1': DIGEST, 'r/a:2': DIGEST, 'r/b:3': DIGEST } },
      ['pass'],
      options(['r/a:1', 'r/a:2', 'r/b:3']),
      { result: { ok: true, recovered: false }, pushes: [], tags: ['r/a:1', 'r/a:2', 'r/b:3'].map(ALREADY) },
    ],
    [
      're-run after a partial push: only the missing tag is pushed, copied from a tag holding the index',
      { held: { 'r/a:1': DIGEST } },
      ['pass'],
      options(A12),
      {
        result: { ok: true },
        pushes: [['r/a:2']],
        from: [[`docker.io/r/a@${DIGEST}`]],
        tags: [ALREADY('r/a:1'), { tag: 'r/a:2', digest: DIGEST, verified: true }],
      },
    ],
    [
      'a first tag holding nothing: its push starts alongside the --dry-run',
      {},
      ['pass'],
      options(A1),
      { result: { ok: true }, pushes: [A1], events: ['push r/a:1', 'dry-run end'] },
    ],
    [
      'a first tag holding another index: its push waits for the --dry-run, then overwrites it',
      { held: { 'r/a:1': OTHER } },
      ['pass'],
      options(A1),
      { result: { ok: true }, pushes: [A1], tags: VERIFIED, events: ['dry-run end', 'push r/a:1'] },
    ],
    [
      'immutable tags: a re-run pushes nothing and succeeds',
      { held: { 'r/a:1': DIGEST, 'r/a:2': DIGEST }, immutable: true },
      ['pass'],
      options(A12),
      { result: { ok: true }, pushes: [], tags: A12.map(ALREADY) },
    ],
    [
      'append: a tag already holding the result of the append is not pushed',
      { held: { 'r/a:1': DIGEST, 'r/a:2': OTHER } },
      ['pass'],
      options(A12, { append: true }),
      { result: { ok: true }, pushes: [['r/a:2']], from: [[`docker.io/r/a@${DIGEST}`]] },
    ],
    [
      'lag: tags read as not found 3 times after the write are asked again, pushed once, verified',
      { lagReads: 3 },
      ['pass'],
      options(A12),
      // the proof of r/a:1, then the verification of r/a:2; the reads before the push never wait;
      // jitter 0.5 of 250 ms, 500 ms, 1 s
      {
        result: { ok: true, recovered: false },
        pushes: [['r/a:1'], ['r/a:2']],
        waits: [125, 250, 500, 125, 250, 500],
      },
    ],
    [
      'lag longer than lag-timeout: the tag counts as not holding the index',
      { lagReads: 100 },
      ['pass'],
      options(A1, { lagTimeoutMs: 1000, maxAttempts: 1 }),
      // jitter 0.5 of 250 ms, 500 ms, 1 s, 2 s: the last cut to what is left of the 1 s
      {
        result: { ok: false, failure: { signature: NOT_HELD } },
        pushes: [A1],
        waits: [125, 250, 500, 125],
      },
    ],
    [
      'a crash after buildx showed the index push: the read-back asks again, and the tag is not pushed again',
      { lagReads: 3 },
      ['crash-after-push-shown', 'pass'],
      options(A1),
      { result: { ok: true, recovered: true }, pushes: [A1], waits: [125, 250, 500], landed: A1 },
    ],
    [
      'the registry answered the index PUT with 503: nothing was written, so no lag is waited out',
      { lagReads: 100 },
      ['503-index-put', 'pass'],
      options(A1, { lagTimeoutMs: 1000, retryDelayMs: 4000, maxAttempts: 2, verify: false }),
      { result: { ok: true, recovered: true }, pushes: [A1, A1], waits: [2000] },
    ],
    [
      'a crash after the index push, read missing up to lag-timeout: that wait counts towards the backoff',
      { lagReads: 100 },
      ['crash-after-push-shown', 'pass'],
      options(A1, { lagTimeoutMs: 1000, retryDelayMs: 4000, maxAttempts: 2, verify: false }),
      // backoff 0.5 of 4s = 2s, of which 1s was spent reading
      { result: { ok: true, recovered: true }, pushes: [A1, A1], waits: [125, 250, 500, 125, 1000] },
    ],
    [
      'a crash before buildx pushed anything: one read, no wait beyond the backoff',
      {},
      ['crash', 'pass'],
      options(A1),
      { result: { ok: true, recovered: true }, pushes: [A1, A1], waits: [1000] },
    ],
  ])('%s', async (_, world, steps, opts, want) => {
    const h = harness(steps, world);
    expectRun(h, await h.run(opts), want);
  });
});

describe('indexPushShown: whether a failed attempt may have written its tags', () => {
  const D = `sha256:${'a'.repeat(64)}`;
  it.each([
    [[`#1 0.041 pushing ${D} to r:5000/a:1`, 'fatal error: concurrent map writes'], [], true],
    [[], [`0.029 pushing ${D} to r:5000/a:1`], true],
    [[`#1 0.000 copying sha256:${'b'.repeat(64)} from r/src:1 to r:5000/a:1`, 'fatal error: x'], [], false],
    [[`pushing sha256:${'c'.repeat(64)} to r:5000/a:1`], [], false],
    [['ERROR: unexpected status: 503 Service Unavailable'], undefined, false],
  ])('%j %j -> %s', (tail, evidence, shown) => {
    expect(indexPushShown({ tail, evidence }, D)).toBe(shown);
  });
});

describe('refusedIndexPuts: the tags whose index PUT the registry answered with an error', () => {
  const D = `sha256:${'a'.repeat(64)}`;
  const put = (ref: string, tag: string, status: string) =>
    `#1 ERROR: failed commit on ref "${ref}": unexpected status from PUT request to http://r:5000/v2/x/app/manifests/${tag}: ${status}`;
  it.each([
    ['a 503 on the index PUT of t1', [put(`index-${D}`, 't1', '503 Service Unavailable')], ['t1']],
    ['a 400 (as immutable tags answer)', [put(`index-${D}`, 'v1', '400 Bad Request')], ['v1']],
    [
      'a child manifest refused: the index was not the one refused',
      [put(`manifest-${D}`, 't1', '503 Service Unavailable')],
      [],
    ],
    [
      'another index (another digest)',
      [put(`index-sha256:${'b'.repeat(64)}`, 't1', '503 Service Unavailable')],
      [],
    ],
    [
      'the HEAD before the PUT of t2 answered 504: t2 was not written',
      [
        'ERROR: unexpected status from HEAD request to http://r:5000/v2/x/app/manifests/t2: 504 Gateway Timeout',
      ],
      ['t2'],
    ],
    [
      'a HEAD of a platform manifest by digest: no tag named',
      [
        `ERROR: unexpected status from HEAD request to http://r:5000/v2/src/app/manifests/sha256:${'c'.repeat(64)}: 504 Gateway Timeout`,
      ],
      [],
    ],
    [
      'a reset: no status, the PUT may have landed',
      [
        `#1 ERROR: failed commit on ref "index-${D}": failed to do request: Put "http://r:5000/v2/x/app/manifests/t1": EOF`,
      ],
      [],
    ],
  ])('%s', (_, tail, tags) => {
    expect([...refusedIndexPuts({ tail }, D)]).toEqual(tags);
  });
});

describe('parallel copies', () => {
  it('copies to further tags in up to buildx-at-once invocations at once, after the first alone', async () => {
    const registry = new Map<string, string>();
    let inFlight = 0;
    const peaks: number[] = [];
    const calls: string[][] = [];
    const deps: EngineDeps = {
      async exec(args) {
        calls.push(args);
        if (args.includes('--dry-run')) {
          return {
            ok: true,
            exitCode: 0,
            signal: null,
            durationMs: 1,
            stdout: `${INDEX}\n`,
            stdoutTruncated: false,
            tail: [],
          };
        }
        inFlight++;
        peaks.push(inFlight);
        await new Promise((r) => setTimeout(r, 20));
        inFlight--;
        args.forEach((a, i) => args[i - 1] === '--tag' && registry.set(a, DIGEST));
        return {
          ok: true,
          exitCode: 0,
          signal: null,
          durationMs: 20,
          stdout: '',
          stdoutTruncated: false,
          tail: [],
        };
      },
      readDigest: async (ref) => registry.get(ref.original) ?? null,
      sleep: async () => {},
      info: () => {},
    };
    const tags = Array.from({ length: 8 }, (_, i) => `r/a:${i}`).join(',');
    const r = await runMerge(
      mergeOptions(readInputs((k) => ({ sources: 'r/src:1', tags, 'buildx-at-once': '3' })[k] ?? '')),
      deps,
    );
    expect(r.ok).toBe(true);
    const pushes = calls.filter((c) => !c.includes('--dry-run'));
    expect(pushes).toHaveLength(8);
    expect(pushes.slice(1).every((c) => c.at(-1) === `docker.io/r/a@${DIGEST}`)).toBe(true);
    expect(Math.max(...peaks)).toBe(3);
    expect(peaks[0]).toBe(1); // the first invocation, from the sources, runs alone
    expect(r.tags.every((t) => t.verified)).toBe(true);
  });
});

describe('indexDigest', () => {
  it('hashes the index without its trailing newline', () => {
    expect(indexDigest(`${INDEX}\n`).digest).toBe(indexDigest(INDEX).digest);
  });
  it.each([
    '',
    'not json',
    '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}',
  ])('refuses %j', (text) => {
    expect(() => indexDigest(text)).toThrow(/--dry-run/);
  });
});

describe('a --dry-run that fails while the first push runs alongside', () => {
  /** The --dry-run fails with `dry` after the push ended; the push does `push`. */
  function alongside(dry: string, push: 'pass' | 'not-found' | 'throws') {
    const registry = new Map<string, string>();
    const order: string[] = [];
    const fail = (text: string): ExecOutcome => ({
      ok: false,
      classification: classifyOutput(text),
      exitCode: 1,
      signal: null,
      durationMs: 5,
      stdout: '',
      stdoutTruncated: false,
      tail: [text],
    });
    const deps: EngineDeps = {
      async exec(args, label) {
        order.push(label);
        if (args.includes('--dry-run')) {
          await new Promise((r) => setTimeout(r, 20));
          return fail(dry);
        }
        if (push === 'throws') throw new Error('spawn buildx ENOENT');
        if (push === 'not-found') return fail('ERROR: r/src/app:amd64: not found');
        args.forEach((a, i) => args[i - 1] === '--tag' && registry.set(a, DIGEST));
        return {
          ok: true,
          exitCode: 0,
          signal: null,
          durationMs: 3,
          stdout: '',
          stdoutTruncated: false,
          tail: [],
        };
      },
      readDigest: async (ref) => registry.get(ref.original) ?? null,
      sleep: async () => {},
      random: () => 0.5,
      info: () => {},
    };
    const inputs = readInputs(
      (k) =>
        ({ sources: 'r/src/app:amd64,r/src/app:arm64', tags: 'r/a:1,r/a:2', 'max-attempts': '3' })[k] ?? '',
    );
    return { run: () => runMerge(mergeOptions(inputs), deps), order };
  }
  const NO_AUTH = 'ERROR: failed to authorize: 401 Unauthorized';

  it('a push that succeeded is recorded, read back, and not listed as not pushed', async () => {
    const h = alongside(NO_AUTH, 'pass');
    const r = await h.run();
    expect(r.ok).toBe(false);
    expect(r.digest).toBeUndefined();
    expect(r.attempts.map((a) => [a.number, a.invocation, a.try, a.tags, a.ok, a.class])).toEqual([
      [1, 'oracle', 1, [], false, 'permanent'],
      [2, 1, 1, ['r/a:1'], true, undefined],
    ]);
    expect(r.failure).toMatchObject({ class: 'permanent', signature: '401 Unauthorized', tags: ['r/a:2'] });
    expect(r.tags).toEqual([
      { tag: 'r/a:1', digest: DIGEST, verified: false },
      { tag: 'r/a:2', digest: null, verified: false },
    ]);
  });

  it.each([
    ['not-found', 'transient', 'not found'],
    ['throws', 'unknown', 'buildx did not run'],
  ] as const)('a push that failed (%s) is recorded with its class', async (push, cls, sig) => {
    const h = alongside(NO_AUTH, push);
    const r = await h.run();
    const pushes = r.attempts.filter((a) => a.invocation !== 'oracle');
    expect(pushes).toHaveLength(1);
    expect(pushes[0]).toMatchObject({ invocation: 1, try: 1, tags: ['r/a:1'], ok: false, class: cls });
    expect(pushes[0]?.signature).toContain(sig);
    expect(r.failure?.tags).toEqual(['r/a:1', 'r/a:2']);
  });

  it('retried --dry-runs and the push are all recorded', async () => {
    const h = alongside('ERROR: unexpected status: 503 Service Unavailable', 'pass');
    const r = await h.run();
    expect(r.attempts.map((a) => a.invocation)).toEqual(['oracle', 'oracle', 'oracle', 1]);
    expect(h.order.filter((l) => l.startsWith('push'))).toHaveLength(1);
  });
});

describe('dryRunFailureMessage: a --dry-run that gave up', () => {
  // [buildx output, the retry decision's reason, what the message must say]
  it.each([
    [
      'ERROR: "manifest" annotations are not supported yet',
      'permanent errors are not retried',
      /^the --dry-run that computes the index failed: a permanent error \(annotation refused\); permanent errors are not retried\. Check the annotations input: .*index: and manifest-descriptor:/,
    ],
    [
      'ERROR: invalid platform "bogus": "bogus": unknown operating system or architecture: invalid argument',
      'permanent errors are not retried',
      /^the --dry-run that computes the index failed: a permanent error \(invalid platform\); .* Check the platforms named in the annotations input/,
    ],
    [
      'ERROR: something nobody has seen before',
      '"unknown" is not in retry-on',
      /^the --dry-run that computes the index failed: buildx failed \(unrecognised failure\); "unknown" is not in retry-on\.$/,
    ],
    [
      'fatal error: concurrent map writes',
      'max-attempts (5) reached',
      /^the --dry-run that computes the index failed: buildx crashed \(concurrent map writes\)/,
    ],
    // what "could not read the sources" is for
    [
      'ERROR: r/src/app:amd64: not found',
      'still not found after 2 retries',
      /^buildx could not read the sources to compute the index: a source was not found \(not found\); .* Check that every source reference is right/,
    ],
    [
      'ERROR: unexpected status: 503 Service Unavailable',
      'max-attempts (5) reached',
      /^buildx could not read the sources to compute the index: a registry or network error \(503 Service Unavailable\)/,
    ],
    [
      'ERROR: failed to authorize: 401 Unauthorized',
      'permanent errors are not retried',
      /^buildx could not read the sources to compute the index: a permanent error \(401 Unauthorized\); .* log in to the registry/,
    ],
  ])('%s', (output, reason, message) => {
    const c = classifyOutput(output);
    expect(dryRunFailureMessage(c, reason, advice(c, { action: 'pull', hosts: [] }))).toMatch(message);
  });
});
