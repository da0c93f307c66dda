// The one retry loop: runs an attempt until it ends with a value, or its failure is not worth
// another attempt (the policy's verdict, ./policy.ts), the attempts are spent, the wait budget is
// spent, or a cancellation came; waits retryWait (./backoff.ts) between attempts, never after the
// last. The caller's records and log lines are hooks. nextStep, the decision, is pure.

import { type BackoffOptions, retryWait } from './backoff.js';
import { afterAttempt, type Verdict } from './policy.js';

/** How an attempt ended: a value (no retry: the answer) or a failure for the policy to judge. */
export type Outcome<T, F> = { ok: true; value: T } | { ok: false; failure: F };

export interface RetryPolicy<F> {
  /** attempts in all, the first included (Infinity: only the budget ends them) */
  attempts: number;
  backoff: BackoffOptions;
  /** whether a failure is worth another attempt (`seen`: every failure so far, this one last) */
  judge(failure: F, seen: readonly F[]): Verdict;
  /** the wait the failure asked for (Retry-After, the wait in the registry's text): the least wait */
  askedWaitMs?(failure: F): number | undefined;
  /** time already spent waiting since the failure (a read-back): it counts towards the wait */
  waitedMs?(failure: F): number;
  /** the most the waits may add up to (lag-timeout); once spent, no more attempts */
  budgetMs?: number;
  /** the jitter's random source, in [0, 1) (default Math.random) */
  random?: () => number;
}

/** A retry about to wait: the failure, the attempt that failed (1-based), the waits. */
export interface RetryStep<F> {
  failure: F;
  attempt: number;
  reason: string;
  /** the wait before attempt + 1: the backoff, at least the asked wait, within the cap and budget */
  waitMs: number;
  /** what is slept: waitMs less the time already waited */
  sleepMs: number;
  askedWaitMs?: number;
}

export interface RetryHooks<F> {
  /** before each wait: the log line, the records */
  onRetry?(step: RetryStep<F>): void;
  /** default: a timer that `signal` cuts short */
  sleep?(ms: number): Promise<void>;
  /** a cancellation stops the retrying: the wait rejects with its reason, no attempt follows */
  signal?: AbortSignal;
}

/** The end of the attempts: the value, or the last failure and why it was not retried. */
export type Retried<T, F> = ({ ok: true; value: T } | { ok: false; failure: F; reason: string }) & {
  attempts: number;
  /** the waits between the attempts, added up */
  waitedMs: number;
};

/** What follows failed attempt `attempt`, after `waitedMs` of waits: a retry and its wait, or why not. */
export function nextStep<F>(
  policy: RetryPolicy<F>,
  seen: readonly F[],
  attempt: number,
  waitedMs = 0,
  aborted = false,
): ({ retry: true } & RetryStep<F>) | { retry: false; reason: string } {
  const failure = seen[seen.length - 1] as F;
  if (aborted) return { retry: false, reason: 'cancelled' };
  const verdict = afterAttempt(policy.judge(failure, seen), attempt, policy.attempts);
  if (!verdict.retry) return { retry: false, reason: verdict.reason };
  const left = (policy.budgetMs ?? Infinity) - waitedMs;
  if (left <= 0) return { retry: false, reason: 'the time to wait is spent' };
  const asked = policy.askedWaitMs?.(failure);
  const waitMs = retryWait(attempt, policy.backoff, policy.random ?? Math.random, asked, left);
  const sleepMs = Math.max(0, waitMs - (policy.waitedMs?.(failure) ?? 0));
  return {
    retry: true,
    failure,
    attempt,
    reason: verdict.reason,
    waitMs,
    sleepMs,
    ...(asked !== undefined ? { askedWaitMs: asked } : {}),
  };
}

/** Runs `task(n)` (n = 1, 2, ...) under `policy`; see the top of this file. */
export async function retrying<T, F>(
  task: (attempt: number) => Promise<Outcome<T, F>>,
  policy: RetryPolicy<F>,
  hooks: RetryHooks<F> = {},
): Promise<Retried<T, F>> {
  const seen: F[] = [];
  const pause = hooks.sleep ?? ((ms: number) => sleep(ms, hooks.signal));
  let waitedMs = 0;
  for (let n = 1; ; n++) {
    const got = await task(n);
    if (got.ok) return { ...got, attempts: n, waitedMs };
    seen.push(got.failure);
    const step = nextStep(policy, seen, n, waitedMs, hooks.signal?.aborted);
    if (!step.retry) return { ok: false, failure: got.failure, reason: step.reason, attempts: n, waitedMs };
    hooks.onRetry?.(step);
    waitedMs += step.waitMs;
    if (step.sleepMs > 0) await pause(step.sleepMs);
  }
}

/** retrying for a task that throws its failures: the value, or the last failure thrown as it is. */
export async function retryingThrows<T>(
  task: (attempt: number) => Promise<T>,
  policy: RetryPolicy<unknown>,
  hooks: RetryHooks<unknown> = {},
): Promise<T> {
  const caught = async (n: number): Promise<Outcome<T, unknown>> => {
    try {
      return { ok: true, value: await task(n) };
    } catch (failure) {
      return { ok: false, failure };
    }
  };
  const got = await retrying(caught, policy, hooks);
  if (got.ok) return got.value;
  throw got.failure;
}

/** A sleep that a cancellation cuts short (it rejects with the signal's reason). */
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
