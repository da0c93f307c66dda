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
