import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import type { FailureClass } from '../../src/buildx/classify.js';
import { NOT_FOUND_RETRIES, shouldRetry } from '../../src/merge/retry.js';
import { backoffCeiling, backoffDelay, sleep } from '../../src/util/retry.js';
import { withRetry } from '../../src/util/retry.js';

const DEFAULT_ON = new Set<FailureClass>(['panic', 'transient', 'timeout']);

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

describe('shouldRetry', () => {
  it.each([
    ['panic', 1, 5, true],
    ['transient', 4, 5, true],
    ['transient', 5, 5, false], // no retry after the last attempt
    ['timeout', 1, 5, true],
    ['unknown', 1, 5, false], // not in the default retry-on
    ['permanent', 1, 5, false],
  ] as [FailureClass, number, number, boolean][])('%s on attempt %d of %d -> %s', (cls, n, max, retry) => {
    expect(shouldRetry(cls, n, max, DEFAULT_ON).retry).toBe(retry);
  });
  it('never retries permanent errors, even when asked to retry everything', () => {
    const all = new Set<FailureClass>(['panic', 'transient', 'timeout', 'unknown', 'permanent']);
    expect(shouldRetry('permanent', 1, 20, all)).toEqual({
      retry: false,
      reason: 'permanent errors are not retried',
    });
  });
  it('gives not-found a short budget', () => {
    expect(shouldRetry('transient', 1, 20, DEFAULT_ON, NOT_FOUND_RETRIES).retry).toBe(true);
    expect(shouldRetry('transient', 3, 20, DEFAULT_ON, NOT_FOUND_RETRIES + 1).retry).toBe(false);
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

describe('withRetry: one retry loop for downloads and registry reads', () => {
  const fail = (retryable: boolean): Error & { retryable: boolean } =>
    Object.assign(new Error(retryable ? 'transient' : 'permanent'), { retryable });
  // Each row: what the attempts do in turn (true: fail retryably, false: fail for good, 'ok'),
  // the attempts allowed, the attempts made and the outcome.
  it.each([
    ['succeeds at once', ['ok'], 3, 1, 'ok'],
    ['retries a retryable failure', [true, 'ok'], 3, 2, 'ok'],
    ['stops at the attempt budget', [true, true, true, 'ok'], 3, 3, 'transient'],
    ['never retries what retryable refuses', [false, 'ok'], 3, 1, 'permanent'],
    ['one attempt means no retry', [true, 'ok'], 1, 1, 'transient'],
    ['stops at a refused failure after retries', [true, false, 'ok'], 5, 2, 'permanent'],
  ] as const)('%s', async (_name, script, attempts, made, outcome) => {
    let calls = 0;
    const retries: [string, number, number][] = [];
    const run = withRetry(
      async (n) => {
        calls++;
        expect(n).toBe(calls);
        const step = script[n - 1];
        if (step === 'ok') return 'ok';
        throw fail(step as boolean);
      },
      {
        attempts,
        backoff: { baseMs: 1, capMs: 4 },
        retryable: (err) => (err as { retryable: boolean }).retryable,
        onRetry: (err, next, wait) => retries.push([(err as Error).message, next, wait]),
      },
    ).then(
      (v) => v,
      (err: Error) => err.message,
    );
    expect(await run).toBe(outcome);
    expect(calls).toBe(made);
    expect(retries.map(([, next]) => next)).toEqual(Array.from({ length: made - 1 }, (_, i) => i + 2));
    for (const [, next, wait] of retries) expect(wait).toBeLessThanOrEqual(Math.min(4, 2 ** (next - 2)));
  });

  it('waits backoffDelay between attempts, with the given jitter', async () => {
    vi.useFakeTimers();
    try {
      let calls = 0;
      const run = withRetry(
        async () => {
          calls++;
          if (calls < 3) throw new Error('again');
          return calls;
        },
        { attempts: 3, backoff: { baseMs: 1000, capMs: 10_000 }, random: () => 1, retryable: () => true },
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
    const run = withRetry(
      async () => {
        calls++;
        throw new Error('again');
      },
      {
        attempts: 5,
        backoff: { baseMs: 60_000, capMs: 60_000 },
        retryable: () => true,
        signal: ac.signal,
        onRetry: () => setTimeout(() => ac.abort(new Error('cancelled')), 10),
      },
    );
    await expect(run).rejects.toThrow('cancelled');
    expect(calls).toBe(1);
  });
});
