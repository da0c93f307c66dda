// Tags by manifest PUT: once a repository holds the index (buildx created or copied it there),
// every other tag in that repository gets the same bytes, the --dry-run's index, by
// `PUT /v2/<name>/manifests/<tag>` through the registry client, up to puts-at-once at once.
// A repository that holds no tag yet gets one buildx copy first (it moves the blobs and child
// manifests). A registry that refuses such a PUT with an unexpected 4xx makes the rest of the run
// use buildx copies, with one warning. The planning and the decisions are pure.

import type { FailureClass } from '../buildx/classify.js';
import { OCI_INDEX } from '../registry/media-types.js';
import type { ImageRef } from '../registry/reference.js';
import { waitText } from '../retry/backoff.js';
import { answerVerdict } from '../retry/policy.js';
import { type Outcome, retrying } from '../retry/retrying.js';
import { readBack } from './readback.js';
import type { Failure, PutRetry, PutsResult, Readback, RunView } from './types.js';

const repoOf = (t: ImageRef): string => `${t.domain}/${t.path}`;

export interface PutPlan {
  /** tags in a repository that holds the index: written by PUT */
  byPut: ImageRef[];
  /** one tag per repository holding no tag yet: copied there by buildx first */
  seeds: ImageRef[];
  /** the other tags of those repositories: by PUT once their seed holds the index */
  later: ImageRef[];
}

/**
 * Which pending tags are PUT now (their repository holds the index, or every manifest it lists:
 * `content`), which repositories need a buildx copy first. Pure.
 */
export function planPuts(
  pending: readonly ImageRef[],
  holding: readonly ImageRef[],
  content: ReadonlyMap<string, unknown> = new Map(),
): PutPlan {
  const held = new Set([...holding.map(repoOf), ...content.keys()]);
  const seeded = new Set<string>();
  const plan: PutPlan = { byPut: [], seeds: [], later: [] };
  for (const t of pending) {
    const repo = repoOf(t);
    if (held.has(repo)) plan.byPut.push(t);
    else if (seeded.has(repo)) plan.later.push(t);
    else {
      seeded.add(repo);
      plan.seeds.push(t);
    }
  }
  return plan;
}

/** What a PUT's answer means: done, retried (with its class), fall back to buildx, or a failure. */
export type PutVerdict =
  | { kind: 'ok' }
  | { kind: 'retry'; cls: FailureClass }
  | { kind: 'fallback' }
  | { kind: 'fail'; line: string };

/**
 * Decides on one PUT: what the retry policy retries (src/retry/policy.ts: no answer, a network
 * error or a reset; 408, 429, 5xx) is transient; any other 4xx (400, 405, 415: the registry does
 * not take this PUT; 401, 403, 404 too: buildx, which authenticates its own way, gives the answer
 * that counts) falls back to buildx; a 2xx whose Docker-Content-Digest names another digest is a
 * failure, never retried. Pure.
 */
export function putVerdict(
  status: number | undefined,
  answered: string | null | undefined,
  digest: string,
): PutVerdict {
  if (answerVerdict(status).retry) return { kind: 'retry', cls: 'transient' };
  if (status === undefined || status >= 400) return { kind: 'fallback' };
  if (answered && answered !== digest) {
    return { kind: 'fail', line: `the registry stored ${answered}, not ${digest}` };
  }
  return { kind: 'ok' };
}

/** The media type of the index bytes (from its JSON). */
export function mediaTypeOf(index: string): string {
  const { mediaType } = JSON.parse(index) as { mediaType?: string };
  return mediaType ?? OCI_INDEX;
}

interface PutError {
  status?: number;
  retryAfterMs?: number;
  message: string;
}

type PutOutcome = 'ok' | { fallback: string } | { failed: string; cls: FailureClass };

/** A PUT answered with what is retried: its class, the registry's answer, the wait it asked for. */
interface PutFailure {
  class: FailureClass;
  answer: string;
  waitMs?: number;
}

/** One PUT: its outcome (done, refused, a wrong digest: none is retried), or a transient failure. */
async function putOnce(
  run: RunView,
  t: ImageRef,
  body: Buffer,
  type: string,
): Promise<Outcome<PutOutcome, PutFailure>> {
  let verdict: PutVerdict;
  let err: PutError | undefined;
  try {
    verdict = putVerdict(200, await run.deps.putManifest!(t, body, type), run.digest);
  } catch (e) {
    err = e as PutError;
    verdict = putVerdict(err.status, undefined, run.digest);
  }
  const answer = err?.message ?? '';
  if (verdict.kind === 'ok') return { ok: true, value: 'ok' };
  if (verdict.kind === 'fallback') return { ok: true, value: { fallback: answer } };
  if (verdict.kind === 'fail') {
    return { ok: true, value: { failed: `manifest PUT of ${t.original}: ${verdict.line}`, cls: 'unknown' } };
  }
  const asked = err?.retryAfterMs;
  return {
    ok: false,
    failure: { class: verdict.cls, answer, ...(asked !== undefined ? { waitMs: asked } : {}) },
  };
}

/** One tag by PUT with its retries: how it ended, the retries it took, a read of it. */
async function putOne(
  run: RunView,
  t: ImageRef,
  body: Buffer,
  type: string,
): Promise<{ outcome: PutOutcome; retries: PutRetry[]; read?: Readback }> {
  const retries: PutRetry[] = [];
  const got = await retrying(
    () => putOnce(run, t, body, type),
    run.retryPolicy((f: PutFailure) => f),
    {
      sleep: (ms) => run.deps.sleep(ms),
      onRetry: ({ failure: f, waitMs, askedWaitMs }) => {
        const asked = askedWaitMs !== undefined ? { askedWaitMs } : {};
        retries.push({ tag: t.original, class: f.class, answer: f.answer, waitMs, ...asked });
        run.deps.info(
          `Retrying the manifest PUT of ${t.original} in ${waitText(waitMs, askedWaitMs)}: ${f.answer}`,
        );
      },
    },
  );
  if (got.ok) return { outcome: got.value, retries };
  // A reset after the registry took the PUT leaves the tag written: read it once before giving up.
  const read = await readBack(run, t, 0);
  if (read.ok) return { outcome: 'ok', retries, read };
  const failed = `manifest PUT of ${t.original} failed: ${got.failure.answer} (${got.reason})`;
  return { outcome: { failed, cls: got.failure.class }, retries, read };
}

/**
 * Writes `tags` by PUT, up to puts-at-once at once, each read back as soon as its PUT returned.
 * Stops at a refusal (the tags not written go back) or a failure (they fail with it).
 */
export async function putAll(run: RunView, tags: readonly ImageRef[]): Promise<PutsResult> {
  const got: PutsResult = { written: [], back: [], reading: new Map(), reads: [], retries: [], atOnce: 0 };
  if (tags.length === 0) return got;
  const body = Buffer.from(run.index!, 'utf8');
  const type = mediaTypeOf(run.index!);
  const queue = [...tags];
  let inFlight = 0;
  const stopped = (): boolean => !!(run.failure ?? got.failure) || got.refused !== undefined;
  const worker = async (): Promise<void> => {
    while (queue.length > 0 && !stopped()) {
      const t = queue.shift()!;
      got.atOnce = Math.max(got.atOnce, ++inFlight);
      const one = await putOne(run, t, body, type).finally(() => inFlight--);
      got.retries.push(...one.retries);
      if (one.read) got.reads.push(one.read);
      if (one.outcome === 'ok') {
        got.written.push(t);
        if (run.options.verify && !one.read)
          got.reading.set(
            t.original,
            run.readSlot(() => readBack(run, t)),
          );
      } else if ('fallback' in one.outcome) {
        got.back.push(t);
        got.refused ??= refusal(one.outcome.fallback);
      } else {
        got.failure = mergeFailure(got.failure, putFailure(one.outcome, t.original));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(run.options.putsAtOnce, tags.length) }, worker));
  if (got.refused !== undefined) got.back.push(...queue);
  else if (got.failure) got.failure.tags.push(...queue.map((t) => t.original));
  return got;
}

function refusal(answer: string): string {
  return `The registry refused a manifest PUT (${answer}): the other tags are copied by buildx (tag-method: buildx keeps this way)`;
}

function putFailure({ failed, cls }: { failed: string; cls: FailureClass }, tag: string): Failure {
  return { class: cls, signature: 'manifest PUT failed', line: failed, message: failed, tags: [tag] };
}

/** The first failure of a round stands; a later one adds its tags to it. */
function mergeFailure(first: Failure | undefined, next: Failure): Failure {
  if (!first) return next;
  first.tags.push(...next.tags);
  return first;
}
