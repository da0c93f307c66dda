// What is worth another attempt: the one table every retrying caller reads (the buildx attempts,
// the --dry-run, the manifest PUTs, the read-back, the registry client's reads, the downloads of
// buildx and the release list), and the backoffs of the callers whose backoff is not an input.
// Pure. How long to wait is ./backoff.ts (every wait goes through retryWait), the loop ./retrying.ts.

import type { FailureClass } from '../buildx/classify.js';

/** Whether a failure is worth another attempt, and why (the reason ends a failure's message). */
export interface Verdict {
  retry: boolean;
  reason: string;
}

/**
 * HTTP answers worth another attempt: the first row whose range holds the status decides, and a
 * status no row holds (any other 4xx, a 3xx) is not retried.
 */
export const STATUS_RETRIES: readonly { from: number; to: number; retry: boolean }[] = [
  { from: 408, to: 408, retry: true }, // Request Timeout
  { from: 429, to: 429, retry: true }, // Too Many Requests
  { from: 500, to: 599, retry: true }, // server errors
];

/** A request that got no answer (reset, refused, timed out, stalled, cut short) is retried. */
export const NETWORK_ERRORS_RETRIED = true;

/**
 * buildx failure classes (src/buildx/classify.ts) that retry-on may name: `permanent` is never
 * retried, whatever retry-on says.
 */
export const CLASS_RETRIES: Readonly<Record<FailureClass, boolean>> = {
  panic: true,
  transient: true,
  timeout: true,
  unknown: true,
  permanent: false,
};

/** How many `not found` failures are retried before they count as permanent. */
export const NOT_FOUND_RETRIES = 2;

/** The downloads of buildx and the release list: 1 s, doubling, at most 30 s (3 attempts). */
export const DOWNLOAD_BACKOFF = { baseMs: 1000, capMs: 30_000 };
/** The registry client's reads: 250 ms, doubling, at most 4 s unless retry-max-delay is given (3 attempts). */
export const REGISTRY_READ_BACKOFF = { baseMs: 250, capMs: 4000 };
/** The read-back of a tag not showing the index yet: 250 ms, doubling, at most 4 s, up to lag-timeout. */
export const READ_BACK_BACKOFF = { baseMs: 250, capMs: 4000 };

/** An HTTP answer's verdict: `status` undefined is a request that got no answer. */
export function answerVerdict(status: number | undefined): Verdict {
  if (status === undefined) {
    return NETWORK_ERRORS_RETRIED
      ? { retry: true, reason: 'network errors are retried' }
      : { retry: false, reason: 'network errors are not retried' };
  }
  const row = STATUS_RETRIES.find((r) => status >= r.from && status <= r.to);
  return row?.retry
    ? { retry: true, reason: `${status} answers are retried` }
    : { retry: false, reason: `${status} answers are not retried` };
}

/**
 * A buildx failure class's verdict: never a class CLASS_RETRIES refuses, `not found` on its
 * budget only (`notFoundSeen`: the not-found failures so far, this one included), the classes
 * retry-on lists.
 */
export function classVerdict(
  cls: FailureClass,
  retryOn: ReadonlySet<FailureClass>,
  notFoundSeen = 0,
): Verdict {
  if (!CLASS_RETRIES[cls]) return { retry: false, reason: `${cls} errors are not retried` };
  if (notFoundSeen > NOT_FOUND_RETRIES) {
    return { retry: false, reason: `still not found after ${NOT_FOUND_RETRIES} retries` };
  }
  if (!retryOn.has(cls)) return { retry: false, reason: `"${cls}" is not in retry-on` };
  return { retry: true, reason: `${cls} failures are retried` };
}

/** A verdict after attempt `attempt` (1-based) of `attempts`: no retry after the last one. */
export function afterAttempt(verdict: Verdict, attempt: number, attempts: number): Verdict {
  if (!verdict.retry || attempt < attempts) return verdict;
  return { retry: false, reason: `max-attempts (${attempts}) reached` };
}
