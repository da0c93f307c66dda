// The state of one merge, in one object: the attempts so far, the index digest once known, which
// tags hold it, which are still to push and how many per invocation, and the failure that stops
// the run. The --dry-run, the pushes and the verification read and change it; nothing else is shared.

import type { Classification } from '../buildx/classify.js';
import type { ExecOutcome } from '../exec/buildx.js';
import { type ImageRef, repositoryOf } from '../registry/reference.js';
import { waitText } from '../retry/backoff.js';
import { classVerdict, READ_BACK_BACKOFF } from '../retry/policy.js';
import {
  type Outcome,
  retrying,
  type RetryHooks,
  type RetryPolicy,
  type RetryStep,
} from '../retry/retrying.js';
import { limit } from '../util/limit.js';
import { formatDuration } from '../util/parse.js';
import type { MergeOptions } from './options.js';
import { nextBatch } from './plan.js';
import type {
  Attempt,
  AttemptRecord,
  EngineDeps,
  Failure,
  MergeResult,
  PutStats,
  RepositoryContent,
  TagResult,
} from './types.js';

/** The classification of a failed outcome (every failed outcome has one; this is the fallback). */
export function classOf(out: ExecOutcome): Classification {
  return out.classification ?? { class: 'unknown', signature: 'failed', line: '' };
}

/**
 * The one mapping of an outcome to an attempt: ok when `failed` is not given, else its class
 * and its telling lines (the evidence around a crash, else the last 50).
 */
export function attemptOf(
  at: Pick<Attempt, 'invocation' | 'try' | 'tags' | 'sources'>,
  out: ExecOutcome,
  failed?: Classification,
  landed?: readonly ImageRef[],
): Attempt {
  return {
    ...at,
    ok: failed === undefined,
    class: failed?.class,
    signature: failed?.signature,
    line: failed?.line,
    exitCode: out.exitCode,
    signal: out.signal,
    killedBy: out.killedBy,
    durationMs: out.durationMs,
    landed: landed?.map((t) => t.original),
    ...(failed?.waitMs !== undefined ? { askedWaitMs: failed.waitMs } : {}),
    tail: failed ? (out.evidence?.length ? out.evidence : out.tail.slice(-50)) : undefined,
  };
}

/** What a tag's read-back found: the digest it holds, why it could not be read, the lag waited out. */
export interface Readback {
  digest: string | null;
  error?: string;
  waitedMs: number;
}

/** One read of a tag. */
type Read = Omit<Readback, 'waitedMs'>;

/** Read-backs in flight at once. */
export const READS_AT_ONCE = 8;

/** What the engine's retry policy reads off a failure: its class, `not found`, the wait asked for. */
export type Retryable = Pick<Classification, 'class' | 'notFound' | 'waitMs'>;

/** A read-back that does not show the index yet is asked again (the registry may lag behind). */
const LAG = { retry: true, reason: 'the registry may lag behind its write' };

export class MergeRun {
  readonly attempts: AttemptRecord[] = [];
  /** the index digest and bytes, once the --dry-run printed them */
  digest = '';
  index?: string;
  /** tags holding the index: the sources of further copies */
  readonly holding: ImageRef[] = [];
  /** tags read back holding the index during the run: verification need not ask again */
  readonly proven = new Set<string>();
  /** what each tag held before the first push (undefined: it could not be read) */
  readonly before = new Map<string, string | null | undefined>();
  /** tags that held the index before this run: not pushed */
  readonly already = new Set<string>();
  /** tags no invocation has taken yet */
  pending: ImageRef[];
  /** tags per invocation: tags-per-buildx, one after a crash */
  concurrency: number;
  invocations = 0;
  /** the first invocation that gave up; the run starts no more */
  failure?: Failure;
  /** an invocation needed more than one attempt, its tags were found already pushed, or a PUT was retried */
  recovered = false;
  /** tags written by manifest PUT */
  readonly put = new Set<string>();
  /** why manifest PUTs stopped (the registry refused one): buildx copies the rest */
  putRefused?: string;
  /** the manifest PUTs sent, once one was */
  putStats?: PutStats;
  /** how long the read-back of a tag waited out registry lag before it showed the index */
  readonly lagWaits = new Map<string, number>();
  /** `annotations` lines the --dry-run's index was checked to carry */
  annotationsChecked = 0;
  /** the first push, started while the --dry-run runs; its first attempt takes it */
  firstPush?: Promise<ExecOutcome>;
  /** read-backs started as soon as a tag was written by PUT: verification takes their answer */
  readonly earlyReads = new Map<string, Promise<Readback>>();
  /** the read-backs in flight at once */
  private readonly readSlots = limit(READS_AT_ONCE);
  /** target repositories holding every manifest the index lists (`host/path` -> how) */
  readonly content = new Map<string, RepositoryContent>();

  constructor(
    readonly options: MergeOptions,
    readonly deps: EngineDeps,
  ) {
    this.pending = [...options.tags];
    this.concurrency = options.tagsPerBuildx;
  }

  /** Whether tags are written by the action's manifest PUT (tag-method: put) rather than by buildx. */
  get byPut(): boolean {
    return this.options.tagMethod === 'put' && this.deps.putManifest !== undefined;
  }

  /** Whether the repository of `ref` holds every manifest the index lists. */
  hasContent(ref: ImageRef): boolean {
    return this.content.has(repositoryOf(ref));
  }

  /** Records how repositories came to hold the content (the first word on each is kept). */
  noteContent(found: readonly RepositoryContent[]): void {
    for (const c of found) if (!this.content.has(c.repository)) this.content.set(c.repository, c);
  }

  get tagNames(): string[] {
    return this.options.tags.map((t) => t.original);
  }

  record(attempt: Attempt): AttemptRecord {
    const rec: AttemptRecord = { ...attempt, number: this.attempts.length + 1, waitMs: 0 };
    this.attempts.push(rec);
    return rec;
  }

  /**
   * The retry policy of the engine's attempts (buildx, the --dry-run, manifest PUTs): the classes
   * retry-on lists, up to max-attempts, `not found` on its budget, none once an invocation gave
   * up; retry-delay's backoff within retry-max-delay, at least the wait the registry asked for.
   */
  retryPolicy<F>(of: (failure: F) => Retryable): RetryPolicy<F> {
    const { maxAttempts, retryOn, retryDelayMs, retryMaxDelayMs } = this.options;
    return {
      attempts: maxAttempts,
      backoff: { baseMs: retryDelayMs, capMs: retryMaxDelayMs },
      random: this.deps.random,
      judge: (f, seen) =>
        this.failure
          ? { retry: false, reason: 'another invocation failed' }
          : classVerdict(of(f).class, retryOn, seen.filter((s) => of(s).notFound).length),
      askedWaitMs: (f) => of(f).waitMs,
    };
  }

  /**
   * The hooks of recorded attempts: each retry's wait kept on the failed attempt's record (the
   * time already spent on its read-back, `waitedMs`, counts towards it), and why in the log.
   */
  attemptHooks<F extends { rec: AttemptRecord; waitedMs?: number }>(
    say: (wait: string, step: RetryStep<F>) => string,
  ): RetryHooks<F> {
    return {
      sleep: (ms) => this.deps.sleep(ms),
      onRetry: (step) => {
        step.failure.rec.waitMs = Math.max(step.waitMs, step.failure.waitedMs ?? 0);
        this.deps.info(say(waitText(step.sleepMs, step.askedWaitMs), step));
      },
    };
  }

  /** The next invocation's tags, taken off `pending`. */
  takeBatch(): ImageRef[] {
    const batch = nextBatch(this.pending, this.concurrency);
    this.pending = this.pending.slice(batch.length);
    return batch;
  }

  /** An invocation gave up: the first failure stops the run, a later one adds its tags to it. */
  gaveUp(f: Failure): void {
    if (this.failure) this.failure.tags.push(...f.tags);
    else this.failure = f;
  }

  /**
   * Whether `ref` holds the index, read back after this run wrote it (or may have: `wrote`). A
   * registry can answer `not found` (or the old digest) for a moment after a write: then a miss is
   * asked again with backoff, up to lag-timeout of waiting, before it counts. A tag this run
   * cannot have written is read once. Errors are logged and count as a miss.
   */
  async holds(ref: ImageRef, wrote: boolean): Promise<{ ok: boolean; waitedMs: number }> {
    const got = await this.readWritten(ref, wrote ? this.options.lagTimeoutMs : 0);
    return { ok: got.digest === this.digest, waitedMs: got.waitedMs };
  }

  /**
   * Starts the read-back of a tag just written (when verify is on), without waiting for it: it
   * runs while the other tags are written, and verification takes its answer.
   */
  readSoon(ref: ImageRef): void {
    if (!this.options.verify || this.earlyReads.has(ref.original)) return;
    this.earlyReads.set(
      ref.original,
      this.readSlots(() => this.readWritten(ref)),
    );
  }

  /** The read-back of a tag: what it holds once it holds the index, or after `waitLimitMs` of waits. */
  async readWritten(ref: ImageRef, waitLimitMs = this.options.lagTimeoutMs): Promise<Readback> {
    const { random } = this.deps;
    const policy = {
      attempts: Infinity,
      backoff: READ_BACK_BACKOFF,
      budgetMs: waitLimitMs,
      random,
      judge: () => LAG,
    };
    const got = await retrying(() => this.readOnce(ref), policy, {
      sleep: (ms) => this.deps.sleep(ms),
      onRetry: ({ failure, attempt }) => {
        if (attempt > 1) return;
        this.deps.info(
          `${ref.original} shows ${failure.digest ?? 'nothing'}, not ${this.digest} yet: asking again for up to ${formatDuration(waitLimitMs)} (lag-timeout)`,
        );
      },
    });
    if (!got.ok) return { ...got.failure, waitedMs: got.waitedMs };
    this.proven.add(ref.original);
    if (got.waitedMs > 0) this.lagWaits.set(ref.original, got.waitedMs);
    return { ...got.value, waitedMs: got.waitedMs };
  }

  /** One read of a tag: it holds the index, or what it holds instead (an error is logged, a miss). */
  private async readOnce(ref: ImageRef): Promise<Outcome<Read, Read>> {
    let got: Read;
    try {
      got = { digest: await this.deps.readDigest(ref) };
    } catch (err) {
      got = { digest: null, error: (err as Error).message };
      this.deps.info(`Could not read ${ref.original} back: ${got.error}`);
    }
    return got.digest === this.digest ? { ok: true, value: got } : { ok: false, failure: got };
  }

  /** A tag's read-back with what the run knows of it: held the index already, written by PUT, lag waited out. */
  private tagResult(t: TagResult): TagResult {
    const state = this.already.has(t.tag) ? 'already' : this.put.has(t.tag) ? 'put' : undefined;
    const lag = t.verified ? this.lagWaits.get(t.tag) : undefined;
    return { ...t, ...(state ? { state } : {}), ...(lag ? { lagWaitMs: lag } : {}) };
  }

  /** The run's result: ok without `failure`; the tags unread (not pushed) unless given. */
  result(failure: Failure | undefined, tags?: TagResult[]): MergeResult {
    return {
      ok: failure === undefined,
      digest: this.digest || undefined,
      index: this.index,
      attempts: this.attempts,
      tags: (tags ?? this.tagNames.map((tag) => ({ tag, digest: null, verified: false }))).map((t) =>
        this.tagResult(t),
      ),
      ...(this.putStats ? { puts: this.putStats } : {}),
      ...(this.content.size > 0 ? { repositories: [...this.content.values()] } : {}),
      ...(this.annotationsChecked > 0 ? { annotations: this.annotationsChecked } : {}),
      ...(this.putRefused !== undefined ? { warning: this.putRefused } : {}),
      panics: this.attempts.filter((a) => a.class === 'panic').length,
      recovered: failure === undefined && this.recovered,
      failure,
    };
  }
}
