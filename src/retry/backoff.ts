// How long to wait before a retry: exponential backoff with full jitter, the wait before retry n
// (n = 1 after the first failure) uniform in [0, min(cap, base * 2^(n-1))]; at least the wait the
// server asked for (./asked.ts), never over the cap nor over what is left of a budget. Every wait
// of every retrying caller is retryWait's: a cap on all of them is one more term in its Math.min.
// How the log says a wait. Pure: the random source is a parameter.

export interface BackoffOptions {
  baseMs: number;
  capMs: number;
}

export function backoffCeiling(retry: number, { baseMs, capMs }: BackoffOptions): number {
  const exp = baseMs * 2 ** Math.max(0, Math.min(retry - 1, 30));
  return Math.min(capMs, exp);
}

/** Full jitter: uniform in [0, ceiling]. */
export function backoffDelay(
  retry: number,
  opts: BackoffOptions,
  random: () => number = Math.random,
): number {
  return Math.round(random() * backoffCeiling(retry, opts));
}

/**
 * The wait before retry `retry`: the jittered backoff, or the wait the server asked for when that
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

/** A wait as the log says it, in seconds (`2.0s`, `0.013s`), and the wait `who` asked for. */
export function waitText(ms: number, askedMs?: number, who = 'the registry'): string {
  const asked = askedMs === undefined ? '' : ` (${who} asked for ${seconds(askedMs)})`;
  return `${seconds(ms)}${asked}`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms > 0 && ms < 100 ? 3 : 1)}s`;
}
