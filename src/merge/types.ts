// What the merge stage is given (its I/O, as functions) and what it gives back: every attempt,
// every tag's read-back, and the failure it gave up on.

import type { Classification, FailureClass } from '../buildx/classify.js';
import type { ExecOutcome } from '../exec/buildx.js';
import type { CredentialsKnown } from '../registry/client.js';
import type { ImageRef } from '../registry/reference.js';
import type { RetryHooks, RetryPolicy, RetryStep } from '../retry/retrying.js';
import type { MergeOptions } from './options.js';

export interface EngineDeps {
  /** runs buildx with these arguments (after the buildx prefix) */
  exec(args: string[], label: string): Promise<ExecOutcome>;
  /** the digest a tag holds in the registry, null when it has none; throws when it cannot tell */
  readDigest(ref: ImageRef): Promise<string | null>;
  sleep(ms: number): Promise<void>;
  random?: () => number;
  /** a line for the log (retries, read-back errors, the drop to one tag per invocation) */
  info(message: string): void;
  /**
   * writes manifest bytes to a tag by PUT (push scope), returns the registry's
   * Docker-Content-Digest (null when none); throws with `status` and `retryAfterMs` when refused
   */
  putManifest?(ref: ImageRef, body: Buffer, mediaType: string): Promise<string | null>;
  /** whether the Docker config holds credentials for a registry host (asked after an authorization failure only) */
  credentialsFor?(host: string): Promise<CredentialsKnown>;
  /**
   * settles when pushes may start: the check of buildx still running alongside the --dry-run.
   * Rejected, nothing is pushed and the run ends with its error.
   */
  pushesAllowed?: Promise<unknown>;
}

/** The `invocation` of the --dry-run's attempts, as the `result` output spells it (workflows read it). */
export const DRY_RUN_INVOCATION = 'oracle' as const;

export interface AttemptRecord {
  /** 1-based, over the whole run */
  number: number;
  /** DRY_RUN_INVOCATION for the --dry-run, else the invocation it belongs to (1-based) */
  invocation: number | typeof DRY_RUN_INVOCATION;
  /** 1-based within its invocation */
  try: number;
  tags: string[];
  sources: string[];
  ok: boolean;
  class?: FailureClass;
  signature?: string;
  line?: string;
  exitCode: number | null;
  signal: string | null;
  killedBy?: string;
  durationMs: number;
  /** the wait after this attempt, before the next one */
  waitMs: number;
  /** the wait the registry asked for in its answer (Retry-After), when it asked: the least wait */
  askedWaitMs?: number;
  /** tags that held the digest on read-back after this attempt failed */
  landed?: string[];
  /** the telling output lines of a failed attempt: around a crash, else the last ones (not in `result`) */
  tail?: string[];
}

/** An attempt as the engine knows it before it is numbered and its wait is chosen. */
export type Attempt = Omit<AttemptRecord, 'number' | 'waitMs'>;

export interface TagResult {
  tag: string;
  digest: string | null;
  verified: boolean;
  /**
   * `already`: the tag held the expected index before this run, and was not pushed; `put`: written
   * by manifest PUT (no buildx invocation, not in `attempts`)
   */
  state?: 'already' | 'put';
  /** how long its read-back waited for the registry to show what was just written (read-after-write lag) */
  lagWaitMs?: number;
  error?: string;
}

/** A manifest PUT that failed and was tried again. */
export interface PutRetry {
  tag: string;
  class: FailureClass;
  /** the registry's answer, or the network error */
  answer: string;
  /** the wait before the next try */
  waitMs: number;
  /** the wait the registry asked for (Retry-After), when it asked */
  askedWaitMs?: number;
}

export interface Failure {
  class: FailureClass | 'verify';
  signature: string;
  line: string;
  message: string;
  tags: string[];
  /** what to do about it, when there is something to say (the end of `message` too) */
  advice?: string;
}

/** Tags written by manifest PUT: how many at once, and the retries (their count is `TagResult.state`). */
export interface PutStats {
  /** the most PUTs in flight at once */
  atOnce: number;
  /** each PUT sent again after a transient answer */
  retries: PutRetry[];
}

/**
 * How a target repository came to hold every manifest the index lists: `sources`, every source
 * is in it (no request needed); `found`, each listed manifest answered a HEAD there; `buildx`, a
 * buildx push moved the content there; `after-failure`, found there after a failed buildx push
 * (the tags it left were completed by manifest PUT).
 */
export interface RepositoryContent {
  /** `host/path` */
  repository: string;
  content: 'sources' | 'found' | 'buildx' | 'after-failure';
}

/** What a Failure is built from: a classification, or the engine's own finding (`verify`). */
export type FailureCause = Omit<Classification, 'class'> & { class: Failure['class'] };

export interface MergeResult {
  ok: boolean;
  digest?: string;
  /** the index bytes buildx will push (from --dry-run) */
  index?: string;
  attempts: AttemptRecord[];
  tags: TagResult[];
  panics: number;
  recovered: boolean;
  /** present when a manifest PUT was sent: at most how many at once, each PUT retried */
  puts?: PutStats;
  /** the target repositories that held the content, and how they came to (none: buildx pushed every tag) */
  repositories?: RepositoryContent[];
  /** how many `annotations` lines the --dry-run's index was checked to carry (the index every tag is verified against) */
  annotations?: number;
  /** the run fell back from manifest PUTs to buildx copies: why (the registry's answer) */
  warning?: string;
  failure?: Failure;
}

// What the steps of a run find (they return it; ./run.ts records it), and what they may read of the run.

/** What a --dry-run printed: the index and its digest. */
export interface DryRunIndex {
  digest: string;
  /** the index bytes */
  index: string;
  /** how many `annotations` lines it was checked to carry */
  annotations?: number;
}

/** What a tag's read-back found: whether it holds the index, what it holds, why it could not be read, the lag waited out. */
export interface Readback {
  tag: string;
  ok: boolean;
  digest: string | null;
  error?: string;
  waitedMs: number;
}

/** What an invocation found. */
export interface InvocationResult {
  /** the tags it left holding the index: pushed, or found holding it after a failed attempt */
  holding: ImageRef[];
  /** its read-backs that showed the index */
  reads: Readback[];
  /** the repositories it found holding the content (buildx moved it there) */
  content: RepositoryContent[];
  /** tags it did not push: after a crash (one tag at once), or to be written by PUT */
  back: ImageRef[];
  /** how it gave up, when it did (its tags: the batch left) */
  failure?: Failure;
}

/** What a round of PUTs did. */
export interface PutsResult {
  /** the tags written */
  written: ImageRef[];
  /** the tags not written and not failed: back to the queue (after a refusal) */
  back: ImageRef[];
  /** the read-backs started as each PUT returned (when verify is on) */
  reading: Map<string, Promise<Readback>>;
  /** reads done to decide on a PUT that failed */
  reads: Readback[];
  retries: PutRetry[];
  /** the most PUTs in flight at once */
  atOnce: number;
  /** why the registry refused a PUT: buildx copies the other tags */
  refused?: string;
  failure?: Failure;
}

/** What the engine's retry policy reads off a failure: its class, `not found`, the wait asked for. */
export type Retryable = Pick<Classification, 'class' | 'notFound' | 'waitMs'>;

/** What a step may read of the run, and the journal of attempts it adds to. */
export interface RunView {
  readonly options: MergeOptions;
  readonly deps: EngineDeps;
  /** the index digest and bytes, once the --dry-run printed them ('' before) */
  readonly digest: string;
  readonly index: string | undefined;
  /** tags holding the index: the sources of further copies */
  readonly holding: readonly ImageRef[];
  /** tags per invocation: tags-per-buildx, one once buildx crashed in this run */
  readonly concurrency: number;
  /** the failure that stopped the run, once one did */
  readonly failure: Failure | undefined;
  /** why manifest PUTs stopped, once the registry refused one */
  readonly putRefused: string | undefined;
  readonly byPut: boolean;
  hasContent(ref: ImageRef): boolean;
  /** whether a tag was read back holding the index during the run (not asked again) */
  isProven(tag: string): boolean;
  /** the read-back of a tag written by PUT, started as soon as its PUT returned */
  earlyRead(tag: string): Promise<Readback> | undefined;
  /** a read-back slot: a few read-backs run at once (run.ts READS_AT_ONCE) */
  readSlot<T>(read: () => Promise<T>): Promise<T>;
  attempted(attempt: Attempt): AttemptRecord;
  retryPolicy<F>(of: (failure: F) => Retryable): RetryPolicy<F>;
  attemptHooks<F extends { rec: AttemptRecord; waitedMs?: number }>(
    say: (wait: string, step: RetryStep<F>) => string,
  ): RetryHooks<F>;
}
