// Reading a tag back: what it holds, asked again with backoff while a registry that lags behind
// its own write does not show the index yet, up to lag-timeout. A read returns what it found; the
// caller's step returns it and the run records it (./run.ts).

import type { ImageRef } from '../registry/reference.js';
import { READ_BACK_BACKOFF } from '../retry/policy.js';
import { type Outcome, retrying } from '../retry/retrying.js';
import { formatDuration } from '../util/parse.js';
import type { Readback, RunView } from './types.js';

/** One read of a tag. */
type Read = Pick<Readback, 'digest' | 'error'>;

/** A read-back that does not show the index yet is asked again (the registry may lag behind). */
const LAG = { retry: true, reason: 'the registry may lag behind its write' };

/**
 * The read-back of a tag: what it holds once it holds the index, or after `waitLimitMs` of waits
 * (0: one read, for a tag this run cannot have written). Errors are logged and count as a miss.
 */
export async function readBack(
  run: RunView,
  ref: ImageRef,
  waitLimitMs = run.options.lagTimeoutMs,
): Promise<Readback> {
  const policy = {
    attempts: Infinity,
    backoff: READ_BACK_BACKOFF,
    budgetMs: waitLimitMs,
    random: run.deps.random,
    judge: () => LAG,
  };
  const got = await retrying(() => readOnce(run, ref), policy, {
    sleep: (ms) => run.deps.sleep(ms),
    onRetry: ({ failure, attempt }) => {
      if (attempt > 1) return;
      run.deps.info(
        `${ref.original} shows ${failure.digest ?? 'nothing'}, not ${run.digest} yet: asking again for up to ${formatDuration(waitLimitMs)} (lag-timeout)`,
      );
    },
  });
  const read = got.ok ? got.value : got.failure;
  return { tag: ref.original, ok: got.ok, ...read, waitedMs: got.waitedMs };
}

/** One read of a tag: it holds the index, or what it holds instead (an error is logged, a miss). */
async function readOnce(run: RunView, ref: ImageRef): Promise<Outcome<Read, Read>> {
  let got: Read;
  try {
    got = { digest: await run.deps.readDigest(ref) };
  } catch (err) {
    got = { digest: null, error: (err as Error).message };
    run.deps.info(`Could not read ${ref.original} back: ${got.error}`);
  }
  return got.digest === run.digest ? { ok: true, value: got } : { ok: false, failure: got };
}

/**
 * Reads tags back at once, waiting out lag for those this run may have written (`wrote`); the
 * tags that hold the index, every read, and the longest wait.
 */
export async function readBackAll(
  run: RunView,
  refs: readonly ImageRef[],
  wrote: (t: ImageRef) => boolean,
): Promise<{ held: ImageRef[]; reads: Readback[]; waitedMs: number }> {
  const reads = await Promise.all(refs.map((t) => readBack(run, t, wrote(t) ? run.options.lagTimeoutMs : 0)));
  return {
    held: refs.filter((_, i) => reads[i]!.ok),
    reads,
    waitedMs: Math.max(0, ...reads.map((r) => r.waitedMs)),
  };
}
