// Whether a failed attempt is retried: never a permanent error, `not found` on a short budget
// only, the classes retry-on lists, up to max-attempts. Pure.

import type { FailureClass } from '../buildx/classify.js';

/** How many `not found` failures are retried before they count as permanent. */
export const NOT_FOUND_RETRIES = 2;

export interface RetryDecision {
  retry: boolean;
  reason: string;
}

/**
 * Decides whether attempt `attempt` (1-based) that failed with `cls` is retried.
 * No retry after the last attempt, never for permanent errors, and `not found` only on its budget.
 */
export function shouldRetry(
  cls: FailureClass,
  attempt: number,
  maxAttempts: number,
  retryOn: ReadonlySet<FailureClass>,
  notFoundSeen = 0,
): RetryDecision {
  if (cls === 'permanent') return { retry: false, reason: 'permanent errors are not retried' };
  if (notFoundSeen > NOT_FOUND_RETRIES) {
    return { retry: false, reason: `still not found after ${NOT_FOUND_RETRIES} retries` };
  }
  if (!retryOn.has(cls)) return { retry: false, reason: `"${cls}" is not in retry-on` };
  if (attempt >= maxAttempts) return { retry: false, reason: `max-attempts (${maxAttempts}) reached` };
  return { retry: true, reason: `${cls} failures are retried` };
}
