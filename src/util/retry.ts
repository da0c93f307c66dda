// Exponential backoff with full jitter: the wait before retry n (n = 1 after the first failure)
// is uniform in [0, min(cap, base * 2^(n-1))]; pure, the random source is a parameter. And a sleep
// that a cancellation cuts short. Whether to retry at all is the merge stage's (merge/retry.ts).

export interface BackoffOptions {
  baseMs: number;
  capMs: number;
}

export function backoffCeiling(retry: number, { baseMs, capMs }: BackoffOptions): number {
  const exp = baseMs * 2 ** Math.max(0, Math.min(retry - 1, 30));
  return Math.min(capMs, exp);
}

export function backoffDelay(
  retry: number,
  opts: BackoffOptions,
  random: () => number = Math.random,
): number {
  return Math.round(random() * backoffCeiling(retry, opts));
}

/** A sleep that a cancellation can cut short. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface RetryOptions {
  /** attempts in all, the first included */
  attempts: number;
  backoff: BackoffOptions;
  /** the random source of the jitter (default: half jitter, a wait in [ceiling/2, ceiling]) */
  random?: () => number;
  /** whether a failure is worth another attempt */
  retryable(err: unknown): boolean;
  /** called before the wait that precedes attempt `next` */
  onRetry?(err: unknown, next: number, waitMs: number): void;
  /** a cancellation ends the waiting (the wait rejects with its reason) and stops retrying */
  signal?: AbortSignal;
}

const halfJitter = (): number => 0.5 + Math.random() / 2;

/**
 * Runs `attempt(n)` (n = 1, 2, ...) until it succeeds, fails with an error `retryable` refuses,
 * the attempts are spent, or the signal is aborted; waits backoffDelay(n) between attempts. The
 * last error is thrown as it is.
 */
export async function withRetry<T>(attempt: (n: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (n >= opts.attempts || opts.signal?.aborted || !opts.retryable(err)) throw err;
      const wait = backoffDelay(n, opts.backoff, opts.random ?? halfJitter);
      opts.onRetry?.(err, n + 1, wait);
      await sleep(wait, opts.signal);
    }
  }
}
