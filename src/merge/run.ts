// The record of one merge. The steps (the --dry-run, the reads before, the invocations, the PUTs,
// the read-back) read it through `RunView` and return what they found; the engine and the push
// schedule (./schedule.ts) record those findings here, with the methods below, and nowhere else.
// Attempts alone are journaled as they end (`attempted`): their numbers are the order they ended
// in, and a crash makes every later batch one tag at once.

import { type ImageRef, repositoryOf } from '../registry/reference.js';
import { waitText } from '../retry/backoff.js';
import { classVerdict } from '../retry/policy.js';
import type { RetryHooks, RetryPolicy, RetryStep } from '../retry/retrying.js';
import { limit } from '../util/limit.js';
import type { MergeOptions } from './options.js';
import {
  type Attempt,
  type AttemptRecord,
  DRY_RUN_INVOCATION,
  type DryRunIndex,
  type EngineDeps,
  type Failure,
  type InvocationResult,
  type MergeResult,
  type PutsResult,
  type PutStats,
  type Readback,
  type RepositoryContent,
  type Retryable,
  type RunView,
  type TagResult,
} from './types.js';

/** Read-backs in flight at once (RunView.readSlot). */
export const READS_AT_ONCE = 8;

export class MergeRun implements RunView {
  private readonly attempts: AttemptRecord[] = [];
  private known?: DryRunIndex;
  private readonly held: ImageRef[] = [];
  /** tags read back holding the index during the run (-> the lag waited out): not asked again */
  private readonly proven = new Map<string, number>();
  /** what each tag held before the first push (undefined: it could not be read) */
  private readonly before = new Map<string, string | null | undefined>();
  private readonly already = new Set<string>();
  private readonly written = new Set<string>();
  private readonly content = new Map<string, RepositoryContent>();
  private readonly early = new Map<string, Promise<Readback>>();
  private puts?: PutStats;
  private refused?: string;
  private stopped?: Failure;
  private putRecovered = false;
  readonly readSlot = limit(READS_AT_ONCE);

  constructor(
    readonly options: MergeOptions,
    readonly deps: EngineDeps,
  ) {}

  get digest(): string {
    return this.known?.digest ?? '';
  }
  get index(): string | undefined {
    return this.known?.index;
  }
  get holding(): readonly ImageRef[] {
    return this.held;
  }
  get failure(): Failure | undefined {
    return this.stopped;
  }
  get putRefused(): string | undefined {
    return this.refused;
  }
  get concurrency(): number {
    return this.attempts.some(crashedPush) ? 1 : this.options.tagsPerBuildx;
  }
  /** Whether tags are written by the action's manifest PUT (tag-method: put) rather than by buildx. */
  get byPut(): boolean {
    return this.options.tagMethod === 'put' && this.deps.putManifest !== undefined;
  }
  get contentKnown(): boolean {
    return this.content.size > 0;
  }
  get tagNames(): string[] {
    return this.options.tags.map((t) => t.original);
  }
  /** Whether the repository of `ref` holds every manifest the index lists. */
  hasContent(ref: ImageRef): boolean {
    return this.content.has(repositoryOf(ref));
  }
  /** The target repositories holding the content (`host/path` -> how). */
  get repositories(): ReadonlyMap<string, RepositoryContent> {
    return this.content;
  }
  /** What a tag held before the first push: a digest, null (nothing), undefined (not read). */
  heldBefore(tag: string): string | null | undefined {
    return this.before.get(tag);
  }
  /** A tag read back holding the index during the run. */
  isProven(tag: string): boolean {
    return this.proven.has(tag);
  }
  /** The read-back of a tag written by PUT, started as soon as its PUT returned. */
  earlyRead(tag: string): Promise<Readback> | undefined {
    return this.early.get(tag);
  }

  // The journal of attempts.

  attempted(attempt: Attempt): AttemptRecord {
    const rec: AttemptRecord = { ...attempt, number: this.attempts.length + 1, waitMs: 0 };
    const first = crashedPush(rec) && !this.attempts.some(crashedPush);
    this.attempts.push(rec);
    if (first && this.options.tagsPerBuildx > 1)
      this.deps.info('buildx crashed: pushing one tag per invocation for the rest of this run');
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
        this.stopped
          ? { retry: false, reason: 'another invocation failed' }
          : classVerdict(of(f).class, retryOn, seen.filter((s) => of(s).notFound).length),
      askedWaitMs: (f) => of(f).waitMs,
    };
  }

  /**
   * The hooks of journaled attempts: each retry's wait kept on the failed attempt's record (the
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

  // What the steps found, recorded.

  /** The --dry-run's index: the digest every tag must hold. */
  indexKnown(found: DryRunIndex): void {
    this.known = found;
    this.deps.info(`Expected index digest: ${found.digest}`);
  }

  /** What the tags held before the first push. */
  readBefore(found: ReadonlyMap<string, string | null | undefined>): void {
    for (const [tag, digest] of found) this.before.set(tag, digest);
  }

  /** Tags holding the index before this run: not pushed, and the first sources of copies. */
  alreadyHeld(tags: readonly ImageRef[]): void {
    for (const t of tags) {
      this.already.add(t.original);
      this.proven.set(t.original, 0);
      this.held.push(t);
    }
    if (tags.length === 0) return;
    const n = tags.length;
    this.deps.info(`${n} of ${this.options.tags.length} tags already hold ${this.digest}: not pushed again`);
  }

  /** Repositories found holding the content (the first word on each is kept). */
  contentFound(found: readonly RepositoryContent[]): void {
    for (const c of found) if (!this.content.has(c.repository)) this.content.set(c.repository, c);
  }

  /** Read-backs that showed the index (and how long each waited out the registry's lag). */
  readsDone(reads: readonly Readback[]): void {
    for (const r of reads) if (r.ok && !this.proven.has(r.tag)) this.proven.set(r.tag, r.waitedMs);
  }

  /** An invocation ended: the tags it left holding the index, and its failure when it gave up. */
  invocationEnded(got: InvocationResult): void {
    this.held.push(...got.holding);
    this.readsDone(got.reads);
    this.contentFound(got.content);
    if (got.failure) this.gaveUp(got.failure);
  }

  /** A round of manifest PUTs ended: the tags written, the retries, a refusal, a failure. */
  putsEnded(got: PutsResult): void {
    const stats = (this.puts ??= { atOnce: 0, retries: [] });
    stats.atOnce = Math.max(stats.atOnce, got.atOnce);
    stats.retries.push(...got.retries);
    if (got.retries.length > 0) this.putRecovered = true;
    this.held.push(...got.written);
    for (const t of got.written) this.written.add(t.original);
    for (const [tag, read] of got.reading) this.early.set(tag, read);
    this.readsDone(got.reads);
    if (got.refused !== undefined && this.refused === undefined) {
      this.refused = got.refused;
      this.deps.info(got.refused);
    }
    if (got.failure) this.gaveUp(got.failure);
  }

  /** The first failure stops the run; a later one adds its tags to it. */
  gaveUp(f: Failure): void {
    if (this.stopped) this.stopped.tags.push(...f.tags);
    else this.stopped = { ...f, tags: [...f.tags] };
  }

  /** Tags no invocation took before the run stopped: not pushed. */
  notPushed(tags: readonly ImageRef[]): void {
    this.stopped?.tags.push(...tags.map((t) => t.original));
  }

  // The result.

  /** A tag's read-back with what the run knows of it: held the index already, written by PUT, lag waited out. */
  private tagResult(t: TagResult): TagResult {
    const state = this.already.has(t.tag) ? 'already' : this.written.has(t.tag) ? 'put' : undefined;
    const lag = t.verified ? (t.lagWaitMs ?? this.proven.get(t.tag)) : undefined;
    const { lagWaitMs: _, ...rest } = t;
    return { ...rest, ...(state ? { state } : {}), ...(lag ? { lagWaitMs: lag } : {}) };
  }

  /**
   * Recovered: the run succeeded after a push failed (a retry, a crash whose tags had landed,
   * tags completed by PUT) or after a PUT was sent again.
   */
  private get recovered(): boolean {
    return this.putRecovered || this.attempts.some((a) => !a.ok && a.invocation !== DRY_RUN_INVOCATION);
  }

  /** The run's result: ok without `failure`; the tags unread (not pushed) unless given. */
  result(failure: Failure | undefined, tags?: TagResult[]): MergeResult {
    const annotations = this.known?.annotations ?? 0;
    return {
      ok: failure === undefined,
      digest: this.digest || undefined,
      index: this.index,
      attempts: this.attempts,
      tags: (tags ?? this.tagNames.map((tag) => ({ tag, digest: null, verified: false }))).map((t) =>
        this.tagResult(t),
      ),
      ...(this.puts ? { puts: this.puts } : {}),
      ...(this.content.size > 0 ? { repositories: [...this.content.values()] } : {}),
      ...(annotations > 0 ? { annotations } : {}),
      ...(this.refused !== undefined ? { warning: this.refused } : {}),
      panics: this.attempts.filter((a) => a.class === 'panic').length,
      recovered: failure === undefined && this.recovered,
      failure,
    };
  }
}

/** A buildx push (not the --dry-run) that crashed. */
function crashedPush(a: AttemptRecord): boolean {
  return a.class === 'panic' && a.invocation !== DRY_RUN_INVOCATION;
}
