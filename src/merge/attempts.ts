// An attempt as the record keeps it: the one mapping of a buildx outcome to an attempt. Pure.

import type { Classification } from '../buildx/classify.js';
import type { ExecOutcome } from '../exec/buildx.js';
import type { ImageRef } from '../registry/reference.js';
import type { Attempt } from './types.js';

/** The classification of a failed outcome (every failed outcome has one; this is the fallback). */
export function classOf(out: ExecOutcome): Classification {
  return out.classification ?? { class: 'unknown', signature: 'failed', line: '' };
}

/**
 * An outcome as an attempt: ok when `failed` is not given, else its class and its telling lines
 * (the evidence around a crash, else the last 50).
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
