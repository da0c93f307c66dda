// Exponential backoff with full jitter: the wait before retry n (n = 1 after the first failure)
// is uniform in [0, min(cap, base * 2^(n-1))]; pure, the random source is a parameter. A wait the
// registry asked for (Retry-After) is the least wait, within the same cap. And a sleep that a
// cancellation cuts short. Whether to retry at all is the merge stage's (merge/retry.ts).

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

/**
 * The wait before retry `retry`: the jittered backoff, or the wait the registry asked for when that
 * is longer; never over the cap (retry-max-delay) nor over what is left of a budget.
 */
export function retryWait(
  retry: number,
  opts: BackoffOptions,
  random: () => number,
  askedMs?: number,
  budgetMs = Infinity,
): number {
  const wait = Math.max(backoffDelay(retry, opts, random), askedMs ?? 0);
  return Math.max(0, Math.min(wait, opts.capMs, budgetMs));
}

/** An HTTP `Retry-After` value in ms from `now`: delay-seconds or an HTTP date; undefined if neither. */
export function retryAfterMs(
  header: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  const text = header?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!/[A-Za-z]/.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
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
  /** the wait a failure asked for (Retry-After), the least wait before the next attempt */
  askedWaitMs?(err: unknown): number | undefined;
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
      const wait = retryWait(n, opts.backoff, opts.random ?? halfJitter, opts.askedWaitMs?.(err));
      opts.onRetry?.(err, n + 1, wait);
      await sleep(wait, opts.signal);
    }
  }
}
