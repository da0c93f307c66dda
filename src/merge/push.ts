// The pushes: one invocation with its retries (reading its tags back after a failure, so only what
// is missing is pushed again, and proving the first tag holds the index), the first push started
// alongside the --dry-run, and the copies to further tags by digest, up to buildx-at-once at once.

import type { Classification } from '../buildx/classify.js';
import { createArgs } from '../buildx/imagetools.js';
import { CancelledError, type ExecOutcome } from '../exec/buildx.js';
import { type ImageRef, repositoryOf } from '../registry/reference.js';
import { type Outcome, retrying, type RetryPolicy } from '../retry/retrying.js';
import { advice, adviceContext } from './advice.js';
import { contentAfterFailure, repositoryOfSources, sourcesPresent } from './content.js';
import { failureOf, pushFailureMessage } from './messages.js';
import { firstBatchOf, readBefore } from './already.js';
import { chooseSource, type Invocation } from './plan.js';
import { planPuts, putAll } from './put.js';
import { attemptOf, classOf, type MergeRun } from './run.js';
import type { AttemptRecord, Failure } from './types.js';

function pushArgs(run: MergeRun, batch: readonly ImageRef[], inv: Invocation): string[] {
  return createArgs({
    sources: inv.sources,
    tags: batch.map((t) => t.original),
    annotations: inv.fromSources ? run.options.annotations : [],
    append: inv.fromSources && run.options.append,
  });
}

function pushLabel(batch: readonly ImageRef[], invocation: number, n: number): string {
  const what = batch.length === 1 ? batch[0]!.original : `${batch.length} tags`;
  return `push ${what} (invocation ${invocation}, attempt ${n})`;
}

/**
 * Starts the first push while the --dry-run runs, when that push cannot change what the
 * --dry-run reads (not with --append) and cannot overwrite the index: only when its tags, read
 * first, hold nothing, and once pushes are allowed (not when the check of buildx failed). Its
 * first attempt takes it up. The invocation, if started.
 */
export async function startFirstPush(run: MergeRun): Promise<Invocation | undefined> {
  const batch = firstBatchOf(run.options);
  if (batch.length === 0) return undefined;
  const [, lacking] = await Promise.all([readBefore(run, batch), contentMayLack(run, batch)]);
  if (!lacking) return undefined; // the --dry-run's index tells whether the action writes every tag
  if (batch.some((t) => run.before.get(t.original) !== null)) return undefined; // after the --dry-run
  const allowed = await run.deps.pushesAllowed?.then(
    () => true,
    () => false,
  );
  if (allowed === false) return undefined; // the engine stops with the check's error
  const inv = chooseSource(batch, [], run.options.sources, '');
  run.firstPush = run.deps.exec(pushArgs(run, batch, inv), pushLabel(batch, 1, 1));
  run.firstPush.catch(() => undefined); // awaited later; never an unhandled rejection meanwhile
  return inv;
}

/**
 * Whether a repository of `batch` may lack the content, so buildx must move it: with tags by
 * PUT, unless every source is in it or the sources' manifests are there already.
 */
async function contentMayLack(run: MergeRun, batch: readonly ImageRef[]): Promise<boolean> {
  if (!run.byPut) return true;
  const fromSources = repositoryOfSources(run.options);
  const others = batch.filter((t) => repositoryOf(t) !== fromSources);
  const present = await Promise.all(others.map((t) => sourcesPresent(run.deps, t, run.options.sources)));
  return present.includes(false);
}

/**
 * After the --dry-run gave up: records the first push that ran alongside (not acted on: no
 * read-back, no retry) and returns the tags it pushed.
 */
export async function settleFirstPush(run: MergeRun, inv: Invocation): Promise<string[]> {
  const out = await settle(run.firstPush!);
  run.firstPush = undefined;
  const at = { invocation: 1, try: 1, tags: inv.tags.map((t) => t.original), sources: inv.sources };
  const rec = run.record(attemptOf(at, out, out.ok ? undefined : classOf(out)));
  return rec.ok ? rec.tags : [];
}

/** An attempt that ended: its outcome, or a failure to start it as one (never a cancellation). */
async function settle(attempt: Promise<ExecOutcome>): Promise<ExecOutcome> {
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

interface Tried {
  out: ExecOutcome;
  /** how it failed; undefined when the batch holds the index */
  failed?: Classification;
  /** tags of a failed attempt that hold the index all the same */
  landed: ImageRef[];
  /** time spent waiting for the read-back (it counts towards the backoff before a retry) */
  waitedMs: number;
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

/** Reads a batch back, its tags at once (waiting out lag for those it may have written). */
async function readBack(
  run: MergeRun,
  batch: ImageRef[],
  mayHaveWritten: (t: ImageRef) => boolean,
): Promise<{ held: ImageRef[]; waitedMs: number }> {
  const reads = await Promise.all(batch.map((t) => run.holds(t, mayHaveWritten(t))));
  return {
    held: batch.filter((_, i) => reads[i]!.ok),
    waitedMs: Math.max(0, ...reads.map((r) => r.waitedMs)),
  };
}

/** Which tags a failed attempt may have written: the index push was shown, and not refused for them. */
function writtenBy(out: ExecOutcome, digest: string): (t: ImageRef) => boolean {
  if (!indexPushShown(out, digest)) return () => false;
  const refused = refusedIndexPuts(out, digest);
  return (t) => !(t.tag !== undefined && refused.has(t.tag));
}

/** One attempt at a batch: buildx (or the first push, already under way), then the read-back. */
async function attempt(run: MergeRun, batch: ImageRef[], inv: Invocation, label: string): Promise<Tried> {
  const started = run.firstPush;
  run.firstPush = undefined;
  const out = await (started ?? run.deps.exec(pushArgs(run, batch, inv), label));
  if (out.ok) {
    // The first tag to hold the index becomes the source of the others: prove it holds it.
    const mustProve = run.holding.length === 0 && run.options.verify ? batch : [];
    const { held, waitedMs } = await readBack(run, mustProve, () => true);
    const wrong = mustProve.filter((t) => !held.includes(t)).map((t) => t.original);
    if (wrong.length === 0) return { out, landed: [], waitedMs };
    const line = `${wrong.join(', ')} do not resolve to ${run.digest} after buildx exited 0`;
    return {
      out,
      failed: { class: 'unknown', signature: 'pushed tag does not hold the expected index', line },
      landed: batch.filter((t) => !wrong.includes(t.original)),
      waitedMs,
    };
  }
  // Read back before deciding: a crash after the push landed leaves nothing to redo.
  const { held, waitedMs } =
    out.classification?.class === 'permanent'
      ? { held: [], waitedMs: 0 }
      : await readBack(run, batch, writtenBy(out, run.digest));
  return { out, failed: classOf(out), landed: held, waitedMs };
}

/** A failed attempt of an invocation: how, its record, the names of its batch, the read-back's wait. */
interface PushFailure {
  failed: Classification;
  rec: AttemptRecord;
  names: string[];
  waitedMs: number;
}

/** One invocation with its retries; returns a Failure when it gives up. */
async function runInvocation(
  run: MergeRun,
  first: ImageRef[],
  invocation: number,
): Promise<Failure | undefined> {
  const state = { batch: first };
  const hooks = run.attemptHooks<PushFailure>(
    (s, { failure: { failed }, reason }) =>
      `Retrying in ${s}: ${failed.class} (${failed.signature}), ${reason}`,
  );
  const got = await retrying((n) => pushOnce(run, state, invocation, n), pushPolicy(run), {
    ...hooks,
    onRetry: (step) => {
      if (state.batch.length > run.concurrency) {
        run.pending = [...state.batch.slice(run.concurrency), ...run.pending];
        state.batch = state.batch.slice(0, run.concurrency);
      }
      hooks.onRetry?.(step);
    },
  });
  if (got.ok) return undefined;
  const { failed, names } = got.failure;
  const adviceText = advice(failed, await adviceContext(failed, 'push', names, run.deps.credentialsFor));
  const left = state.batch.map((t) => t.original);
  return failureOf(failed, pushFailureMessage(failed, names, got.reason, adviceText), left, adviceText);
}

/** The engine's policy, the time spent on a failed attempt's read-back counting towards the wait. */
function pushPolicy(run: MergeRun): RetryPolicy<PushFailure> {
  return { ...run.retryPolicy((f: PushFailure) => f.failed), waitedMs: (f: PushFailure) => f.waitedMs };
}

/**
 * Attempt `n` of an invocation on `state.batch`: done when the batch holds the index (or what is
 * left of it is completed by PUT), else the failure; the batch keeps only the tags still to push.
 */
async function pushOnce(
  run: MergeRun,
  state: { batch: ImageRef[] },
  invocation: number,
  n: number,
): Promise<Outcome<void, PushFailure>> {
  const batch = state.batch;
  const inv = chooseSource(batch, run.holding, run.options.sources, run.digest);
  const names = batch.map((t) => t.original);
  const { out, failed, landed, waitedMs } = await attempt(run, batch, inv, pushLabel(batch, invocation, n));
  const at = { invocation, try: n, tags: names, sources: inv.sources };
  const rec = run.record(attemptOf(at, out, failed, failed && landed));
  if (!failed) {
    if (n > 1) run.recovered = true;
    run.holding.push(...batch);
    if (run.byPut) run.noteContent(batch.map((t) => ({ repository: repositoryOf(t), content: 'buildx' })));
    return { ok: true, value: undefined };
  }
  if (failed.class === 'panic' && run.concurrency > 1) {
    run.concurrency = 1;
    run.deps.info('buildx crashed: pushing one tag per invocation for the rest of this run');
  }
  run.holding.push(...landed);
  state.batch = batch.filter((t) => !landed.includes(t));
  if (state.batch.length === 0) {
    run.deps.info(`Every tag of this invocation already holds ${run.digest}: nothing left to push`);
    run.recovered = true;
    return { ok: true, value: undefined };
  }
  if (failed.class !== 'permanent') state.batch = await completeByPut(run, state.batch);
  if (state.batch.length === 0) return { ok: true, value: undefined };
  return { ok: false, failure: { failed, rec, names, waitedMs } };
}

/**
 * After a failed attempt: the tags of the batch whose repository holds the content now go back
 * to `pending`, for manifest PUTs (a recovery); the tags still to push with buildx are returned.
 */
async function completeByPut(run: MergeRun, batch: ImageRef[]): Promise<ImageRef[]> {
  const done = await contentAfterFailure(run, batch);
  if (done.length === 0) return batch;
  run.pending = [...done, ...run.pending];
  run.recovered = true;
  const repos = [...new Set(done.map(repositoryOf))].join(', ');
  run.deps.info(
    `${repos} holds every manifest the index lists now: ${done.length === 1 ? 'its tag is' : `${done.length} tags are`} completed by manifest PUT, not pushed again`,
  );
  return batch.filter((t) => !done.includes(t));
}

/**
 * Pushes every tag: the first invocation creates the index from the sources, alone. Once a tag
 * holds it, the others are manifest-only copies by digest: separate buildx processes (no shared
 * memory to race on), up to buildx-at-once at a time, each still pushing at most
 * tags-per-buildx tags. Ends with `run.failure` set when an invocation gave up.
 */
export async function pushAll(run: MergeRun): Promise<void> {
  // With tags by PUT and a repository holding the content, the PUTs go first (no buildx push).
  const putFirst = run.byPut && run.content.size > 0 && run.firstPush === undefined;
  if (run.pending.length > 0 && !putFirst) {
    const f = await runInvocation(run, run.takeBatch(), ++run.invocations);
    if (f) return run.gaveUp(f);
  }
  if (run.byPut && run.index) await fanOut(run);
  if (run.failure) return;
  const { buildxAtOnce } = run.options;
  const workers = run.holding.length > 0 ? Math.max(1, Math.min(buildxAtOnce, run.pending.length)) : 1;
  await Promise.all(Array.from({ length: workers }, () => copies(run)));
}

/**
 * Tags by manifest PUT (merge/put.ts): the tags of repositories holding the index; one buildx
 * copy into each other repository (single-tag invocations, up to buildx-at-once at once), then
 * their tags by PUT too. Stops at a refusal (the copies workers take the rest) or a failure.
 */
async function fanOut(run: MergeRun): Promise<void> {
  while (run.pending.length > 0 && !run.failure && run.putRefused === undefined) {
    const plan = planPuts(run.pending, run.holding, run.content);
    run.pending = [...plan.seeds, ...plan.later];
    await putAll(run, plan.byPut);
    if (run.failure || run.putRefused !== undefined || plan.seeds.length === 0) return;
    run.pending = plan.later;
    const seeds = plan.seeds.map((t) => [t]);
    const worker = async (): Promise<void> => {
      for (let s = seeds.shift(); s && !run.failure; s = seeds.shift()) {
        const f = await runInvocation(run, s, ++run.invocations);
        if (f) run.gaveUp(f);
      }
    };
    await Promise.all(Array.from({ length: Math.min(run.options.buildxAtOnce, seeds.length) }, worker));
    (run.failure as Failure | undefined)?.tags.push(...seeds.flat().map((t) => t.original));
  }
}

/** A copies worker: takes batches until none is left or an invocation gave up. */
async function copies(run: MergeRun): Promise<void> {
  while (run.pending.length > 0 && !run.failure) {
    const f = await runInvocation(run, run.takeBatch(), ++run.invocations);
    if (f) run.gaveUp(f);
  }
}
