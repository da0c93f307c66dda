// What the merge stage is given (its I/O, as functions) and what it gives back: every attempt,
// every tag's read-back, and the failure it gave up on.

import type { Classification, FailureClass } from '../buildx/classify.js';
import type { ExecOutcome } from '../exec/buildx.js';
import type { CredentialsKnown } from '../registry/client.js';
import type { ImageRef } from '../registry/reference.js';

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
