// One invocation of buildx with its retries: each attempt's tags read back after a failure (so
// only what is missing is pushed again) and the first tag to hold the index proven; after a
// crash one tag at once; after a failure that left the content in its repository, the tags handed
// back to be written by PUT. It returns what it found (./run.ts records it).

import type { Classification } from '../buildx/classify.js';
import { createArgs } from '../buildx/imagetools.js';
import { CancelledError, type ExecOutcome } from '../exec/buildx.js';
import { type ImageRef, repositoryOf } from '../registry/reference.js';
import { type Outcome, retrying, type RetryPolicy } from '../retry/retrying.js';
import { advice, adviceContext } from './advice.js';
import { attemptOf, classOf } from './attempts.js';
import { contentAfterFailure } from './content.js';
import { failureOf, pushFailureMessage } from './messages.js';
import { chooseSource, type Invocation } from './plan.js';
import { readBackAll } from './readback.js';
import type { AttemptRecord, InvocationResult, Readback, RunView } from './types.js';

export function pushArgs(run: RunView, batch: readonly ImageRef[], inv: Invocation): string[] {
  return createArgs({
    sources: inv.sources,
    tags: batch.map((t) => t.original),
    annotations: inv.fromSources ? run.options.annotations : [],
    append: inv.fromSources && run.options.append,
  });
}

export function pushLabel(batch: readonly ImageRef[], invocation: number, n: number): string {
  const what = batch.length === 1 ? batch[0]!.original : `${batch.length} tags`;
  return `push ${what} (invocation ${invocation}, attempt ${n})`;
}

/** An attempt that ended: its outcome, or a failure to start it as one (never a cancellation). */
export async function settle(attempt: Promise<ExecOutcome>): Promise<ExecOutcome> {
  try {
    return await attempt;
  } catch (err) {
    if (err instanceof CancelledError) throw err;
    const line = err instanceof Error ? err.message : String(err);
    return {
      ok: false,
      classification: { class: 'unknown', signature: 'buildx did not run', line },
      exitCode: null,
      signal: null,
      durationMs: 0,
      stdout: '',
      stdoutTruncated: false,
      tail: [line],
    };
  }
}

/**
 * Whether a failed attempt's output shows buildx pushing the index (`pushing <digest> to <tag>`,
 * as 0.13.1 and 0.29.1 print it): then its tags may hold it, and a registry lagging behind the
 * write must be waited out before they count as missing. Pure.
 */
export function indexPushShown(out: Pick<ExecOutcome, 'tail' | 'evidence'>, digest: string): boolean {
  const shows = (l: string) => l.includes(`pushing ${digest} to `);
  return out.tail.some(shows) || (out.evidence ?? []).some(shows);
}

/**
 * The tags the registry refused before the index was written to them: their index PUT answered
 * with an error status (`failed commit on ref "index-<digest>": unexpected status from PUT request
 * to .../manifests/<tag>: 503 ...`), or the HEAD buildx sends before that PUT answered with one
 * (`unexpected status from HEAD request to .../manifests/<tag>: 504 ...`). There is no lag to wait
 * out for them. Pure.
 */
export function refusedIndexPuts(out: Pick<ExecOutcome, 'tail' | 'evidence'>, digest: string): Set<string> {
  const refused = new Set<string>();
  const marker = `"index-${digest}"`;
  for (const line of [...out.tail, ...(out.evidence ?? [])]) {
    const put = line.includes(marker) ? REFUSED_PUT.exec(line) : null;
    const m = put ?? REFUSED_HEAD.exec(line);
    if (m) refused.add(m[1]!);
  }
  return refused;
}
const REFUSED_PUT = /unexpected status from PUT request to \S+\/manifests\/([^/\s:]+): [1-5]\d\d\b/;
const REFUSED_HEAD = /unexpected status from HEAD request to \S+\/manifests\/([^/\s:@]+): [1-5]\d\d\b/;

/** Which tags a failed attempt may have written: the index push was shown, and not refused for them. */
function writtenBy(out: ExecOutcome, digest: string): (t: ImageRef) => boolean {
  if (!indexPushShown(out, digest)) return () => false;
  const refused = refusedIndexPuts(out, digest);
  return (t) => !(t.tag !== undefined && refused.has(t.tag));
}

/** What one attempt found: how it failed (undefined: the batch holds the index), its read-backs. */
interface Tried {
  out: ExecOutcome;
  failed?: Classification;
  /** tags of a failed attempt that hold the index all the same */
  landed: ImageRef[];
  reads: Readback[];
  /** time spent waiting for the read-back (it counts towards the backoff before a retry) */
  waitedMs: number;
}

/**
 * One attempt at a batch: buildx (or the push already under way, `started`), then the read-back:
 * after a success, of the first tags to hold the index (the source of the others: proven); after
 * a failure, of every tag (a crash after the push landed leaves nothing to redo).
 */
async function attempt(
  run: RunView,
  batch: ImageRef[],
  sources: { inv: Invocation; held: readonly ImageRef[] },
  label: string,
  started?: Promise<ExecOutcome>,
): Promise<Tried> {
  const out = await (started ?? run.deps.exec(pushArgs(run, batch, sources.inv), label));
  if (out.ok) {
    const first = run.holding.length === 0 && sources.held.length === 0;
    const mustProve = first && run.options.verify ? batch : [];
    const { held, reads, waitedMs } = await readBackAll(run, mustProve, () => true);
    const wrong = mustProve.filter((t) => !held.includes(t)).map((t) => t.original);
    if (wrong.length === 0) return { out, landed: [], reads, waitedMs };
    const line = `${wrong.join(', ')} do not resolve to ${run.digest} after buildx exited 0`;
    const failed = {
      class: 'unknown' as const,
      signature: 'pushed tag does not hold the expected index',
      line,
    };
    return { out, failed, landed: batch.filter((t) => !wrong.includes(t.original)), reads, waitedMs };
  }
  if (out.classification?.class === 'permanent')
    return { out, failed: classOf(out), landed: [], reads: [], waitedMs: 0 };
  const { held, reads, waitedMs } = await readBackAll(run, batch, writtenBy(out, run.digest));
  return { out, failed: classOf(out), landed: held, reads, waitedMs };
}

/** A failed attempt of an invocation: how, its record, the names of its batch, the read-back's wait. */
interface PushFailure {
  failed: Classification;
  rec: AttemptRecord;
  names: string[];
  waitedMs: number;
}

/** An invocation as it goes: the tags still to push, and what it found so far. */
type Going = Omit<InvocationResult, 'failure'> & { batch: ImageRef[] };

/**
 * One invocation with its retries, on `batch`; `started`: its first attempt, already under way
 * (the first push, started alongside the --dry-run).
 */
export async function runInvocation(
  run: RunView,
  batch: ImageRef[],
  invocation: number,
  started?: Promise<ExecOutcome>,
): Promise<InvocationResult> {
  const going: Going = { batch, holding: [], reads: [], content: [], back: [] };
  const hooks = run.attemptHooks<PushFailure>(
    (s, { failure: { failed }, reason }) =>
      `Retrying in ${s}: ${failed.class} (${failed.signature}), ${reason}`,
  );
  const got = await retrying(
    (n) => pushOnce(run, going, invocation, n, n === 1 ? started : undefined),
    pushPolicy(run),
    {
      ...hooks,
      onRetry: (step) => {
        // After a crash (here or in another invocation), one tag at once: the rest go back.
        going.back.push(...going.batch.slice(run.concurrency));
        going.batch = going.batch.slice(0, run.concurrency);
        hooks.onRetry?.(step);
      },
    },
  );
  const { batch: left, ...found } = going;
  if (got.ok) return found;
  const { failed, names } = got.failure;
  const adviceText = advice(failed, await adviceContext(failed, 'push', names, run.deps.credentialsFor));
  const message = pushFailureMessage(failed, names, got.reason, adviceText);
  return {
    ...found,
    failure: failureOf(
      failed,
      message,
      left.map((t) => t.original),
      adviceText,
    ),
  };
}

/** The engine's policy, the time spent on a failed attempt's read-back counting towards the wait. */
function pushPolicy(run: RunView): RetryPolicy<PushFailure> {
  return { ...run.retryPolicy((f: PushFailure) => f.failed), waitedMs: (f: PushFailure) => f.waitedMs };
}

/**
 * Attempt `n` of an invocation on `going.batch`: done when the batch holds the index (or what is
 * left of it goes back, to be written by PUT), else the failure; the batch keeps only the tags
 * still to push.
 */
async function pushOnce(
  run: RunView,
  going: Going,
  invocation: number,
  n: number,
  started?: Promise<ExecOutcome>,
): Promise<Outcome<void, PushFailure>> {
  const batch = going.batch;
  const inv = chooseSource(batch, [...run.holding, ...going.holding], run.options.sources, run.digest);
  const names = batch.map((t) => t.original);
  const label = pushLabel(batch, invocation, n);
  const tried = await attempt(run, batch, { inv, held: going.holding }, label, started);
  const { out, failed, landed, waitedMs } = tried;
  going.reads.push(...tried.reads.filter((r) => r.ok));
  const rec = run.attempted(
    attemptOf({ invocation, try: n, tags: names, sources: inv.sources }, out, failed, failed && landed),
  );
  if (!failed) {
    going.holding.push(...batch);
    if (run.byPut)
      going.content.push(...batch.map((t) => ({ repository: repositoryOf(t), content: 'buildx' as const })));
    return { ok: true, value: undefined };
  }
  going.holding.push(...landed);
  going.batch = batch.filter((t) => !landed.includes(t));
  if (going.batch.length === 0) {
    run.deps.info(`Every tag of this invocation already holds ${run.digest}: nothing left to push`);
    return { ok: true, value: undefined };
  }
  if (failed.class !== 'permanent') going.batch = await completeByPut(run, going);
  if (going.batch.length === 0) return { ok: true, value: undefined };
  return { ok: false, failure: { failed, rec, names, waitedMs } };
}

/**
 * After a failed attempt: the tags of the batch whose repository holds the content now go back,
 * to be written by PUT (a recovery); the tags still to push with buildx are returned.
 */
async function completeByPut(run: RunView, going: Going): Promise<ImageRef[]> {
  const { content, done } = await contentAfterFailure(run, going.batch);
  if (done.length === 0) return going.batch;
  going.content.push(...content);
  going.back.push(...done);
  const repos = [...new Set(done.map(repositoryOf))].join(', ');
  run.deps.info(
    `${repos} holds every manifest the index lists now: ${done.length === 1 ? 'its tag is' : `${done.length} tags are`} completed by manifest PUT, not pushed again`,
  );
  return going.batch.filter((t) => !done.includes(t));
}
