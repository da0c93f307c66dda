// The --dry-run: it prints the index buildx will push, and its digest is the digest every tag must
// hold. It pushes nothing; it is retried like a push (what it reads is the sources).

import { createHash } from 'node:crypto';

import type { Classification } from '../buildx/classify.js';
import { createArgs } from '../buildx/imagetools.js';
import type { ExecOutcome } from '../exec/buildx.js';
import { INDEX_TYPES } from '../registry/media-types.js';
import { type Outcome, retrying } from '../retry/retrying.js';
import { advice, adviceContext } from './advice.js';
import { droppedAnnotations, droppedAnnotationsMessage } from './annotations-check.js';
import { dryRunFailureMessage, failureOf } from './messages.js';
import { attemptOf, classOf } from './attempts.js';
import {
  type AttemptRecord,
  DRY_RUN_INVOCATION,
  type DryRunIndex,
  type Failure,
  type RunView,
} from './types.js';

/** The digest of the index `--dry-run` printed: sha256 of its bytes without the trailing newline. */
export function indexDigest(dryRunOutput: string): DryRunIndex {
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

/** The index a --dry-run printed, or how it failed (printing no index is a failure too). */
function printedIndex(out: ExecOutcome): DryRunIndex | Classification {
  if (!out.ok) return classOf(out);
  try {
    return indexDigest(out.stdoutTruncated ? '' : out.stdout);
  } catch (err) {
    return { class: 'unknown', signature: 'no index from --dry-run', line: (err as Error).message };
  }
}

/**
 * The index, or a Failure when it lacks annotations asked for: buildx would push it without them
 * and exit 0. (No push has started: see startFirstPush.)
 */
function annotationsKept(
  printed: DryRunIndex,
  annotations: readonly string[],
  tags: string[],
): DryRunIndex | Failure {
  if (annotations.length === 0) return printed;
  const dropped = droppedAnnotations(printed.index, annotations);
  if (dropped.length === 0) return printed;
  const { mediaType } = JSON.parse(printed.index) as { mediaType?: string };
  const cause = {
    class: 'permanent' as const,
    signature: 'annotations dropped by buildx',
    line: `--dry-run printed a ${mediaType ?? 'index'} without ${dropped.map((r) => r.line).join('; ')}`,
  };
  return failureOf(cause, droppedAnnotationsMessage(dropped, mediaType), tags);
}

/** A failed --dry-run: how it failed, and its record. */
interface DryRunFailure {
  failed: Classification;
  rec: AttemptRecord;
}

/** Runs the --dry-run, with its retries: the index, or the Failure it gave up on. */
export async function runDryRun(run: RunView): Promise<DryRunIndex | Failure> {
  const { options, deps } = run;
  const tagNames = options.tags.map((t) => t.original);
  const args = createArgs({
    sources: options.sources,
    tags: options.tags.length > 0 ? [options.tags[0]!.original] : [],
    annotations: options.annotations,
    append: options.append,
    dryRun: true,
  });
  const once = async (n: number): Promise<Outcome<DryRunIndex, DryRunFailure>> => {
    const out = await deps.exec(args, `expected digest (--dry-run), attempt ${n}`);
    const got = printedIndex(out);
    const at = { invocation: DRY_RUN_INVOCATION, try: n, tags: [], sources: options.sources };
    if ('digest' in got) {
      run.attempted(attemptOf(at, out));
      return { ok: true, value: got };
    }
    return { ok: false, failure: { failed: got, rec: run.attempted(attemptOf(at, out, got)) } };
  };
  const hooks = run.attemptHooks<DryRunFailure>((s, step) => `Retrying --dry-run in ${s} (${step.reason})`);
  const got = await retrying(
    once,
    run.retryPolicy((f: DryRunFailure) => f.failed),
    hooks,
  );
  if (got.ok) {
    const kept = annotationsKept(got.value, options.annotations, tagNames);
    return 'digest' in kept ? { ...kept, annotations: options.annotations.length } : kept;
  }
  const c = got.failure.failed;
  const adviceText = advice(c, await adviceContext(c, 'pull', options.sources, deps.credentialsFor));
  const message = dryRunFailureMessage(c, got.reason, adviceText);
  return failureOf(c, message, tagNames, adviceText);
}
