// The engine: computes the expected digest with --dry-run, pushes the tags in invocations of at
// most `max-concurrency` tags, classifies each failure, retries what is worth it with backoff
// (reading the tags back first, so only what is missing is pushed again), and verifies the end
// state by reading every tag back. I/O comes in through `EngineDeps`.

import { createHash } from 'node:crypto';

import { advice, adviceContext } from './advice.js';
import type { CredentialsKnown } from '../registry/client.js';
import { createArgs } from '../buildx/imagetools.js';
import type { Classification, FailureClass } from '../buildx/classify.js';
import type { Inputs } from '../inputs/inputs.js';
import { chooseSource, type Invocation, nextBatch } from './plan.js';
import type { ImageRef } from '../registry/reference.js';
import { backoffDelay } from '../util/retry.js';
import { shouldRetry } from './retry.js';
import { CancelledError, type ExecOutcome } from '../exec/buildx.js';

export interface EngineDeps {
  /** runs buildx with these arguments (after the buildx prefix) */
  exec(args: string[], label: string): Promise<ExecOutcome>;
  /** the digest a tag holds in the registry, null when it has none; throws when it cannot tell */
  readDigest(ref: ImageRef): Promise<string | null>;
  sleep(ms: number): Promise<void>;
  random?: () => number;
  info(message: string): void;
  /** something worth noticing in the log (not an annotation: the run's outcome is the one) */
  warning(message: string): void;
  /** whether the Docker config holds credentials for a registry host (asked after an authorization failure only) */
  credentialsFor?(host: string): Promise<CredentialsKnown>;
}

export interface AttemptRecord {
  /** 1-based, over the whole run */
  number: number;
  /** `oracle` for the --dry-run, else the invocation it belongs to (1-based) */
  invocation: number | 'oracle';
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
  /** tags that held the digest on read-back after this attempt failed */
  landed?: string[];
  /** the telling output lines of a failed attempt: around a crash, else the last ones (not in `result`) */
  tail?: string[];
}

export interface TagResult {
  tag: string;
  digest: string | null;
  verified: boolean;
  error?: string;
}

export interface Failure {
  class: FailureClass | 'verify' | 'oracle';
  signature: string;
  line: string;
  message: string;
  tags: string[];
}

export interface MergeResult {
  ok: boolean;
  digest?: string;
  /** the index bytes buildx will push (from --dry-run) */
  index?: string;
  attempts: AttemptRecord[];
  tags: TagResult[];
  panics: number;
  recovered: boolean;
  failure?: Failure;
}

const INDEX_TYPES = new Set([
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]);

/** The digest of the index `--dry-run` printed: sha256 of its bytes without the trailing newline. */
export function indexDigest(dryRunOutput: string): { digest: string; index: string } {
  const index = dryRunOutput.replace(/\r?\n$/, '');
  let parsed: { mediaType?: string; manifests?: unknown[] };
  try {
    parsed = JSON.parse(index) as typeof parsed;
  } catch {
    throw new Error(`--dry-run did not print an image index (${index.slice(0, 120) || 'no output'})`);
  }
  if (!Array.isArray(parsed.manifests) || (parsed.mediaType && !INDEX_TYPES.has(parsed.mediaType))) {
    throw new Error(
      `--dry-run printed JSON that is not an image index (mediaType ${parsed.mediaType ?? 'missing'})`,
    );
  }
  return { digest: `sha256:${createHash('sha256').update(index, 'utf8').digest('hex')}`, index };
}

export async function runMerge(inputs: Inputs, deps: EngineDeps): Promise<MergeResult> {
  const random = deps.random ?? Math.random;
  const attempts: AttemptRecord[] = [];
  let panics = 0;
  const backoff = { baseMs: inputs.retryDelayMs, capMs: inputs.retryMaxDelayMs };
  const tagNames = inputs.tags.map((t) => t.original);

  const record = (r: Omit<AttemptRecord, 'number' | 'waitMs'>): AttemptRecord => {
    const rec: AttemptRecord = { ...r, number: attempts.length + 1, waitMs: 0 };
    attempts.push(rec);
    if (r.class === 'panic') panics++;
    return rec;
  };

  const failed = (failure: Failure, digest?: string, index?: string, tags?: TagResult[]): MergeResult => ({
    ok: false,
    digest,
    index,
    attempts,
    tags: tags ?? tagNames.map((tag) => ({ tag, digest: null, verified: false })),
    panics,
    recovered: false,
    failure,
  });

  // 1. The oracle: what the index will be. It pushes nothing, and it runs while the first push is
  // in flight (when that push cannot change what the oracle reads: not with --append).
  const dryArgs = createArgs({
    sources: inputs.sources,
    tags: inputs.tags.length > 0 ? [inputs.tags[0]!.original] : [],
    annotations: inputs.annotations,
    append: inputs.append,
    dryRun: true,
  });
  const runOracle = async (): Promise<{ digest: string; index: string } | Failure> => {
    let notFound = 0;
    for (let n = 1; ; n++) {
      const out = await deps.exec(dryArgs, `expected digest (--dry-run), attempt ${n}`);
      let cls = out.classification;
      let oracle: { digest: string; index: string } | undefined;
      if (out.ok) {
        try {
          oracle = indexDigest(out.stdoutTruncated ? '' : out.stdout);
        } catch (err) {
          cls = { class: 'unknown', signature: 'no index from --dry-run', line: (err as Error).message };
        }
      }
      const rec = record({
        invocation: 'oracle',
        try: n,
        tags: [],
        sources: inputs.sources,
        ok: oracle !== undefined,
        class: oracle ? undefined : cls?.class,
        signature: oracle ? undefined : cls?.signature,
        line: oracle ? undefined : cls?.line,
        exitCode: out.exitCode,
        signal: out.signal,
        killedBy: out.killedBy,
        durationMs: out.durationMs,
        tail: oracle ? undefined : out.evidence?.length ? out.evidence : out.tail.slice(-50),
      });
      if (oracle) return oracle;
      const c = cls ?? { class: 'unknown' as const, signature: 'failed', line: '' };
      if (c.notFound) notFound++;
      const decision = shouldRetry(c.class, n, inputs.maxAttempts, inputs.retryOn, notFound);
      if (!decision.retry) {
        return {
          class: c.notFound ? 'permanent' : c.class,
          signature: c.signature,
          line: c.line,
          message: oracleFailureMessage(
            c,
            decision.reason,
            advice(c, await adviceContext(c, 'pull', inputs.sources, deps.credentialsFor)),
          ),
          tags: tagNames,
        };
      }
      rec.waitMs = backoffDelay(n, backoff, random);
      deps.info(`Retrying --dry-run in ${(rec.waitMs / 1000).toFixed(1)}s (${decision.reason})`);
      await deps.sleep(rec.waitMs);
    }
  };
  const pushArgs = (batch: readonly ImageRef[], inv: Invocation): string[] =>
    createArgs({
      sources: inv.sources,
      tags: batch.map((t) => t.original),
      annotations: inv.fromSources ? inputs.annotations : [],
      append: inv.fromSources && inputs.append,
    });
  const pushLabel = (batch: readonly ImageRef[], invocation: number, n: number): string =>
    `push ${batch.length === 1 ? batch[0]!.original : `${batch.length} tags`} (invocation ${invocation}, attempt ${n})`;

  const oraclePromise = runOracle();
  let early: Promise<ExecOutcome> | undefined;
  const earlyBatch = nextBatch(inputs.tags, inputs.maxConcurrency);
  const earlyInv = chooseSource(earlyBatch, [], inputs.sources, '');
  if (!inputs.dryRun && !inputs.append && inputs.tags.length > 0) {
    early = deps.exec(pushArgs(earlyBatch, earlyInv), pushLabel(earlyBatch, 1, 1));
    early.catch(() => undefined); // awaited below; never an unhandled rejection meanwhile
  }
  const oracle = await oraclePromise;
  if (!('digest' in oracle)) {
    if (!early) return failed(oracle);
    // The first push ran all the same: it is recorded, and what it pushed is not "not pushed".
    const rec = recordPush(record, await settle(early), earlyBatch, earlyInv.sources);
    if (!rec.ok) return failed(oracle);
    oracle.tags = oracle.tags.filter((t) => !rec.tags.includes(t));
    const tags = await readAll(inputs.tags, deps, '', new Set(), rec.tags);
    return failed(oracle, undefined, undefined, tags);
  }
  const { digest, index } = oracle;
  deps.info(`Expected index digest: ${digest}`);

  if (inputs.dryRun) {
    return { ok: true, digest, index, attempts, tags: [], panics, recovered: false };
  }

  // 2. Push, invocation by invocation.
  const holding: ImageRef[] = [];
  let pending = [...inputs.tags];
  let concurrency = inputs.maxConcurrency;
  let recovered = false;

  // Tags read back holding the index during the run: verification need not ask again.
  const proven = new Set<string>();
  const holds = async (ref: ImageRef): Promise<boolean> => {
    try {
      const ok = (await deps.readDigest(ref)) === digest;
      if (ok) proven.add(ref.original);
      return ok;
    } catch (err) {
      deps.warning(`Could not read ${ref.original} back: ${(err as Error).message}`);
      return false;
    }
  };

  let failure: Failure | undefined;

  /** One invocation with its retries; returns a Failure when it gives up. */
  const runInvocation = async (first: ImageRef[], invocation: number): Promise<Failure | undefined> => {
    let batch = first;
    let notFoundSeen = 0;
    for (let n = 1; ; n++) {
      const inv = chooseSource(batch, holding, inputs.sources, digest);
      const names = batch.map((t) => t.original);
      // the first attempt of the first invocation may already be under way
      const out = early
        ? await early
        : await deps.exec(pushArgs(batch, inv), pushLabel(batch, invocation, n));
      early = undefined;

      let cls: Classification | undefined = out.classification;
      let landed: ImageRef[] = [];
      if (out.ok) {
        // The first tag to hold the index becomes the source of the others: prove it holds it.
        const mustProve = holding.length === 0 && inputs.verify ? batch : [];
        const wrong: string[] = [];
        for (const t of mustProve) if (!(await holds(t))) wrong.push(t.original);
        if (wrong.length === 0) {
          record({
            invocation,
            try: n,
            tags: names,
            sources: inv.sources,
            ok: true,
            exitCode: out.exitCode,
            signal: out.signal,
            durationMs: out.durationMs,
          });
          if (n > 1) recovered = true;
          holding.push(...batch);
          return undefined;
        }
        landed = batch.filter((t) => !wrong.includes(t.original));
        cls = {
          class: 'unknown',
          signature: 'pushed tag does not hold the expected index',
          line: `${wrong.join(', ')} do not resolve to ${digest} after buildx exited 0`,
        };
      } else if (out.classification?.class !== 'permanent') {
        // Read back before deciding: a crash after the push landed leaves nothing to redo.
        for (const t of batch) if (await holds(t)) landed.push(t);
      }
      const c = cls ?? { class: 'unknown' as const, signature: 'failed', line: '' };
      const rec = record({
        invocation,
        try: n,
        tags: names,
        sources: inv.sources,
        ok: false,
        class: c.class,
        signature: c.signature,
        line: c.line,
        exitCode: out.exitCode,
        signal: out.signal,
        killedBy: out.killedBy,
        durationMs: out.durationMs,
        landed: landed.map((t) => t.original),
        tail: out.evidence?.length ? out.evidence : out.tail.slice(-50),
      });
      if (c.class === 'panic' && concurrency > 1) {
        concurrency = 1;
        deps.warning('buildx crashed: pushing one tag per invocation for the rest of this run');
      }
      holding.push(...landed);
      batch = batch.filter((t) => !landed.includes(t));
      if (batch.length === 0) {
        deps.info(`Every tag of this invocation already holds ${digest}: nothing left to push`);
        recovered = true;
        return undefined;
      }
      if (c.notFound) notFoundSeen++;
      const decision = shouldRetry(c.class, n, inputs.maxAttempts, inputs.retryOn, notFoundSeen);
      if (!decision.retry || failure) {
        return {
          class: c.notFound ? 'permanent' : c.class,
          signature: c.signature,
          line: c.line,
          message: `${describe(c)} while pushing ${names.join(', ')}; ${failure ? 'another invocation failed' : decision.reason}.${advice(c, await adviceContext(c, 'push', names, deps.credentialsFor))}`,
          tags: batch.map((t) => t.original),
        };
      }
      if (batch.length > concurrency) {
        pending = [...batch.slice(concurrency), ...pending];
        batch = batch.slice(0, concurrency);
      }
      rec.waitMs = backoffDelay(n, backoff, random);
      deps.info(
        `Retrying in ${(rec.waitMs / 1000).toFixed(1)}s: ${c.class} (${c.signature}), ${decision.reason}`,
      );
      await deps.sleep(rec.waitMs);
    }
  };

  // The first invocation creates the index from the sources, alone. Once a tag holds it, the
  // others are manifest-only copies by digest: separate buildx processes (no shared memory to
  // race on), up to parallel-copies at a time, each still pushing at most max-concurrency tags.
  let invocations = 0;
  const worker = async (): Promise<void> => {
    while (pending.length > 0 && !failure) {
      const batch = nextBatch(pending, concurrency);
      pending = pending.slice(batch.length);
      const f = await runInvocation(batch, ++invocations);
      const first = failure as Failure | undefined;
      if (f && first) first.tags.push(...f.tags);
      else if (f) failure = f;
    }
  };
  if (pending.length > 0) {
    const batch = nextBatch(pending, concurrency);
    pending = pending.slice(batch.length);
    failure = await runInvocation(batch, ++invocations);
  }
  if (!failure) {
    const workers = holding.length > 0 ? Math.max(1, Math.min(inputs.parallelCopies, pending.length)) : 1;
    await Promise.all(Array.from({ length: workers }, worker));
  }
  if (failure) {
    failure.tags.push(...pending.map((t) => t.original));
    return failed(failure, digest, index, await readAll(inputs.tags, deps, digest, proven));
  }

  // 3. Verify: every tag, read back from the registry, must hold the expected digest.
  const tags: TagResult[] = inputs.verify
    ? await readAll(inputs.tags, deps, digest, proven)
    : tagNames.map((tag) => ({ tag, digest, verified: false }));
  const wrong = tags.filter((t) => inputs.verify && !t.verified);
  if (wrong.length > 0) {
    return failed(
      {
        class: 'verify',
        signature: 'tag does not hold the expected index',
        line: wrong.map((t) => `${t.tag} -> ${t.digest ?? t.error ?? 'nothing'}`).join('; '),
        message: `${wrong.length} of ${tags.length} tags do not resolve to ${digest} after the push`,
        tags: wrong.map((t) => t.tag),
      },
      digest,
      index,
      tags,
    );
  }
  return { ok: true, digest, index, attempts, tags, panics, recovered };
}

function describe(c: Classification): string {
  if (c.notFound) return `a source was not found (${c.signature})`;
  switch (c.class) {
    case 'panic':
      return `buildx crashed (${c.signature})`;
    case 'permanent':
      return `a permanent error (${c.signature})`;
    case 'transient':
      return `a registry or network error (${c.signature})`;
    case 'timeout':
      return `buildx was stopped by the ${c.signature}`;
    default:
      return `buildx failed (${c.signature})`;
  }
}

/** Signatures of a registry refusing to let buildx read: the sources could not be read. */
const READ_REFUSED = new Set([
  '401 Unauthorized',
  'unauthorized',
  '403 Forbidden',
  'denied',
  'TLS configuration',
]);

/**
 * What a --dry-run that gave up says. "Could not read the sources" only when that is what
 * happened (a source not found, a registry or network error, access refused); otherwise how the
 * --dry-run failed, buildx's own line being added by the report ("buildx said: ...").
 */
export function oracleFailureMessage(c: Classification, reason: string, adviceText: string): string {
  const reading = c.notFound || c.class === 'transient' || READ_REFUSED.has(c.signature);
  const what = reading
    ? 'buildx could not read the sources to compute the index'
    : 'the --dry-run that computes the index failed';
  return `${what}: ${describe(c)}; ${reason}.${adviceText}`;
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

/** Records a push attempt whose outcome the engine does not act on (no read-back, no retry). */
function recordPush(
  record: (r: Omit<AttemptRecord, 'number' | 'waitMs'>) => AttemptRecord,
  out: ExecOutcome,
  batch: readonly ImageRef[],
  sources: string[],
): AttemptRecord {
  const c = out.ok ? undefined : (out.classification ?? { class: 'unknown', signature: 'failed', line: '' });
  return record({
    invocation: 1,
    try: 1,
    tags: batch.map((t) => t.original),
    sources,
    ok: out.ok,
    class: c?.class,
    signature: c?.signature,
    line: c?.line,
    exitCode: out.exitCode,
    signal: out.signal,
    killedBy: out.killedBy,
    durationMs: out.durationMs,
    tail: out.ok ? undefined : out.evidence?.length ? out.evidence : out.tail.slice(-50),
  });
}

/**
 * Reads every tag back (one request each); tags already read back holding `digest` are not asked
 * again, and only the tags in `only` are read when it is given.
 */
async function readAll(
  tags: readonly ImageRef[],
  deps: EngineDeps,
  digest: string,
  proven: ReadonlySet<string> = new Set(),
  only?: readonly string[],
): Promise<TagResult[]> {
  const results: TagResult[] = new Array(tags.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tags.length) {
      const i = next++;
      const t = tags[i]!;
      if (proven.has(t.original)) {
        results[i] = { tag: t.original, digest, verified: true };
        continue;
      }
      if (only && !only.includes(t.original)) {
        results[i] = { tag: t.original, digest: null, verified: false };
        continue;
      }
      try {
        const d = await deps.readDigest(t);
        results[i] = { tag: t.original, digest: d, verified: d === digest };
      } catch (err) {
        results[i] = { tag: t.original, digest: null, verified: false, error: (err as Error).message };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, tags.length) }, worker));
  return results;
}
