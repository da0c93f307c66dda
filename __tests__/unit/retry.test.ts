// The one retry policy (src/retry/): what is worth another attempt (HTTP answers, network errors,
// buildx failure classes), the backoff with full jitter, the wait a registry asked for, the caps,
// and the loop every retrying caller uses.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import type { FailureClass } from '../../src/buildx/classify.js';
import { backoffCeiling, backoffDelay, waitText } from '../../src/retry/backoff.js';
import { answerVerdict, classVerdict, NOT_FOUND_RETRIES } from '../../src/retry/policy.js';
import {
  nextStep,
  retrying,
  type RetryPolicy,
  type RetryStep,
  retryingThrows,
  sleep,
} from '../../src/retry/retrying.js';

const DEFAULT_ON = new Set<FailureClass>(['panic', 'transient', 'timeout']);
const ANY = new Set<FailureClass>(['panic', 'transient', 'timeout', 'unknown', 'permanent']);

describe('backoff: exponential, capped, full jitter', () => {
  it.each([
    [1, 2000],
    [2, 4000],
    [3, 8000],
    [5, 32_000],
    [6, 60_000],
    [40, 60_000],
  ])('retry %d has a ceiling of %d ms (2s base, 60s cap)', (n, ms) => {
    expect(backoffCeiling(n, { baseMs: 2000, capMs: 60_000 })).toBe(ms);
  });
  it('draws uniformly below the ceiling', () => {
    const opts = { baseMs: 1000, capMs: 10_000 };
    expect(backoffDelay(3, opts, () => 0)).toBe(0);
    expect(backoffDelay(3, opts, () => 0.5)).toBe(2000);
    expect(backoffDelay(3, opts, () => 0.999_999)).toBe(4000);
    const draws = Array.from({ length: 2000 }, () => backoffDelay(4, opts));
    expect(Math.max(...draws)).toBeLessThanOrEqual(8000);
    expect(new Set(draws).size).toBeGreaterThan(100); // jittered, not a fixed schedule
  });
});

describe('what is worth another attempt: HTTP answers and network errors', () => {
  it.each([
    [undefined, true], // no answer: a reset, a refused connection, a timeout
    [100, false],
    [304, false],
    [400, false],
    [401, false],
    [403, false],
    [404, false],
    [405, false],
    [408, true],
    [409, false],
    [413, false],
    [415, false],
    [429, true],
    [500, true],
    [502, true],
    [503, true],
    [504, true],
    [599, true],
  ])('%s -> %s', (status, retry) => {
    expect(answerVerdict(status).retry).toBe(retry);
  });
});

describe('what is worth another attempt: buildx failure classes', () => {
  // [class, retry-on, not-found failures so far, retried, reason]
  it.each<[FailureClass, Set<FailureClass>, number, boolean, string]>([
    ['panic', DEFAULT_ON, 0, true, 'panic failures are retried'],
    ['transient', DEFAULT_ON, 0, true, 'transient failures are retried'],
    ['timeout', DEFAULT_ON, 0, true, 'timeout failures are retried'],
    ['unknown', DEFAULT_ON, 0, false, '"unknown" is not in retry-on'],
    ['unknown', ANY, 0, true, 'unknown failures are retried'],
    ['panic', new Set(), 0, false, '"panic" is not in retry-on'],
    ['permanent', ANY, 0, false, 'permanent errors are not retried'],
    ['transient', DEFAULT_ON, NOT_FOUND_RETRIES, true, 'transient failures are retried'],
    ['transient', DEFAULT_ON, NOT_FOUND_RETRIES + 1, false, 'still not found after 2 retries'],
  ])('%s, retry-on %j, %d not found -> %s', (cls, retryOn, notFound, retry, reason) => {
    expect(classVerdict(cls, retryOn, notFound)).toEqual({ retry, reason });
  });
});

// A policy over HTTP statuses (undefined: no answer), with the wait each failure asked for.
type Answer = { status?: number; asked?: number; waited?: number };
const policy = (over: Partial<RetryPolicy<Answer>> = {}): RetryPolicy<Answer> => ({
  attempts: 5,
  backoff: { baseMs: 1000, capMs: 30_000 },
  random: () => 0.5,
  judge: (a) => answerVerdict(a.status),
  askedWaitMs: (a) => a.asked,
  waitedMs: (a) => a.waited ?? 0,
  ...over,
});

describe('nextStep: what follows a failed attempt, and how long it waits', () => {
  // [name, the failure, the attempt that failed, waits so far, the policy, [wait, slept] or the reason]
  it.each<[string, Answer, number, number, Partial<RetryPolicy<Answer>>, [number, number] | string]>([
    ['a 503 after attempt 1: half the 1s ceiling', { status: 503 }, 1, 0, {}, [500, 500]],
    ['after attempt 3: half the 4s ceiling', { status: 503 }, 3, 0, {}, [2000, 2000]],
    [
      'the ceiling stops at the cap',
      { status: 503 },
      10,
      0,
      { attempts: 20, random: () => 1 },
      [30_000, 30_000],
    ],
    [
      '... and never passes it',
      { status: 503 },
      4,
      0,
      { backoff: { baseMs: 1000, capMs: 5000 } },
      [2500, 2500],
    ],
    ['a network error is retried', {}, 1, 0, {}, [500, 500]],
    ['a 404 is not retried', { status: 404 }, 1, 0, {}, '404 answers are not retried'],
    ['no wait after the last attempt', { status: 503 }, 5, 0, {}, 'max-attempts (5) reached'],
    ['a Retry-After longer than the backoff beats it', { status: 429, asked: 5000 }, 1, 0, {}, [5000, 5000]],
    [
      'a Retry-After shorter than the backoff: the backoff',
      { status: 429, asked: 13 },
      3,
      0,
      {},
      [2000, 2000],
    ],
    [
      'a Retry-After longer than the cap: the cap',
      { status: 429, asked: 90_000 },
      1,
      0,
      {},
      [30_000, 30_000],
    ],
    [
      'a budget shorter than the wait: the rest of it',
      { status: 503 },
      3,
      1500,
      { budgetMs: 2000 },
      [500, 500],
    ],
    ['a budget spent: no retry', { status: 503 }, 3, 2000, { budgetMs: 2000 }, 'the time to wait is spent'],
    ['time already waited counts towards the wait', { status: 503, waited: 1500 }, 3, 0, {}, [2000, 500]],
    ['... and may cover all of it', { status: 503, waited: 9000 }, 3, 0, {}, [2000, 0]],
  ])('%s', (_name, failure, attempt, waited, over, want) => {
    const step = nextStep(policy(over), [failure], attempt, waited);
    if (typeof want === 'string') expect(step).toEqual({ retry: false, reason: want });
    else expect(step).toMatchObject({ retry: true, waitMs: want[0], sleepMs: want[1] });
  });
  it('keeps the wait asked for on the step, and none when none was asked', () => {
    expect(nextStep(policy(), [{ status: 429, asked: 2000 }], 1)).toMatchObject({ askedWaitMs: 2000 });
    expect(nextStep(policy(), [{ status: 429 }], 1)).not.toHaveProperty('askedWaitMs');
  });
  it('a cancellation ends the retrying', () => {
    expect(nextStep(policy(), [{ status: 503 }], 1, 0, true)).toEqual({ retry: false, reason: 'cancelled' });
  });
});

describe('retrying: the loop and its hooks', () => {
  // Each row: the statuses the attempts answer in turn (200: done), the attempts allowed, the
  // attempts made, the waits slept, and the outcome.
  it.each<[string, number[], number, number, number[], string]>([
    ['done at once', [200], 5, 1, [], 'ok'],
    ['503, 503, done: waits between attempts only', [503, 503, 200], 5, 3, [500, 1000], 'ok'],
    ['503 every time: no wait after the last attempt', [503], 3, 3, [500, 1000], 'max-attempts (3) reached'],
    ['a 403 is not retried', [503, 403, 200], 5, 2, [500], '403 answers are not retried'],
    ['one attempt means no retry', [503, 200], 1, 1, [], 'max-attempts (1) reached'],
  ])('%s', async (_name, statuses, attempts, made, slept, outcome) => {
    const sleeps: number[] = [];
    const steps: RetryStep<Answer>[] = [];
    const got = await retrying(
      async (n) => {
        const status = statuses[Math.min(n, statuses.length) - 1]!;
        return status === 200 ? { ok: true, value: n } : { ok: false, failure: { status } };
      },
      policy({ attempts }),
      { sleep: async (ms) => void sleeps.push(ms), onRetry: (s) => steps.push(s) },
    );
    expect(got.ok ? 'ok' : got.reason).toBe(outcome);
    expect(got.attempts).toBe(made);
    expect(sleeps).toEqual(slept);
    expect(got.waitedMs).toBe(slept.reduce((a, b) => a + b, 0));
    expect(steps.map((s) => s.attempt)).toEqual(slept.map((_, i) => i + 1));
  });
  it('passes every failure so far to the judge (the not-found budget counts them)', async () => {
    const seen: number[] = [];
    const got = await retrying(
      async () => ({ ok: false, failure: { status: 503 } }),
      policy({
        attempts: 10,
        judge: (_f, all) => (seen.push(all.length), { retry: all.length < 3, reason: 'n' }),
      }),
      { sleep: async () => {} },
    );
    expect(got).toMatchObject({ ok: false, attempts: 3 });
    expect(seen).toEqual([1, 2, 3]);
  });
  it('a budget ends the attempts when the waits add up to it', async () => {
    const got = await retrying(
      async () => ({ ok: false, failure: {} }),
      policy({ attempts: Infinity, budgetMs: 1000 }),
      {
        sleep: async () => {},
      },
    );
    // 500 (half of 1s), then what is left of the budget
    expect(got).toMatchObject({
      ok: false,
      attempts: 3,
      waitedMs: 1000,
      reason: 'the time to wait is spent',
    });
  });
});

describe('retryingThrows: for tasks that throw', () => {
  const fail = (retryable: boolean): Error & { retryable: boolean } =>
    Object.assign(new Error(retryable ? 'transient' : 'permanent'), { retryable });
  const judge = (err: unknown) => ({ retry: (err as { retryable: boolean }).retryable, reason: '' });
  // Each row: what the attempts do in turn (true: fail retryably, false: fail for good, 'ok'),
  // the attempts allowed, the attempts made and the outcome.
  it.each([
    ['succeeds at once', ['ok'], 3, 1, 'ok'],
    ['retries a retryable failure', [true, 'ok'], 3, 2, 'ok'],
    ['stops at the attempt budget', [true, true, true, 'ok'], 3, 3, 'transient'],
    ['never retries what the judge refuses', [false, 'ok'], 3, 1, 'permanent'],
    ['stops at a refused failure after retries', [true, false, 'ok'], 5, 2, 'permanent'],
  ] as const)('%s: the last error thrown as it is', async (_name, script, attempts, made, outcome) => {
    let calls = 0;
    const run = retryingThrows(
      async (n) => {
        calls++;
        expect(n).toBe(calls);
        const step = script[n - 1];
        if (step === 'ok') return 'ok';
        throw fail(step as boolean);
      },
      { attempts, backoff: { baseMs: 1, capMs: 4 }, judge },
    ).then(
      (v) => v,
      (err: Error) => err.message,
    );
    expect(await run).toBe(outcome);
    expect(calls).toBe(made);
  });

  it('waits the backoff between attempts, on a timer', async () => {
    vi.useFakeTimers();
    try {
      let calls = 0;
      const run = retryingThrows(
        async () => {
          calls++;
          if (calls < 3) throw new Error('again');
          return calls;
        },
        {
          attempts: 3,
          backoff: { baseMs: 1000, capMs: 10_000 },
          random: () => 1,
          judge: () => judge(fail(true)),
        },
      );
      await vi.advanceTimersByTimeAsync(999);
      expect(calls).toBe(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(calls).toBe(2);
      await vi.advanceTimersByTimeAsync(1999);
      expect(calls).toBe(2);
      await vi.advanceTimersByTimeAsync(1);
      expect(await run).toBe(3);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a cancellation ends the wait and the retrying', async () => {
    const ac = new AbortController();
    let calls = 0;
    const run = retryingThrows(
      async () => {
        calls++;
        throw new Error('again');
      },
      {
        attempts: 5,
        backoff: { baseMs: 60_000, capMs: 60_000 },
        random: () => 1,
        judge: () => judge(fail(true)),
      },
      { signal: ac.signal, onRetry: () => setTimeout(() => ac.abort(new Error('cancelled')), 10) },
    );
    await expect(run).rejects.toThrow('cancelled');
    expect(calls).toBe(1);
  });
});

describe('a wait as the log says it: seconds', () => {
  it.each<[number, number | undefined, string]>([
    [2000, undefined, '2.0s'],
    [1000, 1000, '1.0s (the registry asked for 1.0s)'],
    [500, undefined, '0.5s'],
    [13, 13, '0.013s (the registry asked for 0.013s)'],
    [0, undefined, '0.0s'],
    [30_000, 90_000, '30.0s (the registry asked for 90.0s)'],
  ])('%d ms, asked %s -> %s', (ms, asked, text) => {
    expect(waitText(ms, asked)).toBe(text);
  });
  it('names who asked', () => {
    expect(waitText(1000, 1000, 'the server')).toBe('1.0s (the server asked for 1.0s)');
  });
});

describe('sleep, with fake timers', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('waits the whole backoff schedule and no more', async () => {
    const opts = { baseMs: 2000, capMs: 60_000 };
    const waits = [1, 2, 3, 4].map((n) => backoffDelay(n, opts, () => 1));
    expect(waits).toEqual([2000, 4000, 8000, 16_000]);
    let done = false;
    const all = (async () => {
      for (const w of waits) await sleep(w);
      done = true;
    })();
    await vi.advanceTimersByTimeAsync(29_999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await all;
    expect(done).toBe(true);
  });
  it('is cut short by a cancellation', async () => {
    const ac = new AbortController();
    const p = sleep(60_000, ac.signal);
    await vi.advanceTimersByTimeAsync(1000);
    ac.abort(new Error('cancelled'));
    await expect(p).rejects.toThrow('cancelled');
  });
});
