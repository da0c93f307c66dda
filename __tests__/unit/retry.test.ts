import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import type { FailureClass } from '../../src/buildx/classify.js';
import { NOT_FOUND_RETRIES, shouldRetry } from '../../src/merge/retry.js';
import { backoffCeiling, backoffDelay, sleep } from '../../src/util/retry.js';

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
