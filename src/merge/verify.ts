// The read-back: every tag, read from the registry, must hold the expected digest. Tags already
// read back holding it during the run are not asked again; the others, pushed by this run, are
// asked again up to lag-timeout (a registry can lag behind its own writes).

import type { ImageRef } from '../registry/reference.js';
import { verifyFailure } from './messages.js';
import { readBack } from './readback.js';
import type { Failure, RunView, TagResult } from './types.js';

/**
 * Reads every tag back (up to 8 at once); tags proven during the run are not asked again, and
 * only the tags in `only` are read when it is given. One request each, unless `written`: then a
 * tag not showing the index is asked again up to lag-timeout.
 */
export async function readBackTags(
  run: RunView,
  only?: readonly string[],
  written = false,
): Promise<TagResult[]> {
  const { tags } = run.options;
  const { digest } = run;
  const results: TagResult[] = new Array(tags.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tags.length) {
      const i = next++;
      const t = tags[i]!;
      if (run.isProven(t.original)) {
        results[i] = { tag: t.original, digest, verified: true };
        continue;
      }
      if (only && !only.includes(t.original)) {
        results[i] = { tag: t.original, digest: null, verified: false };
        continue;
      }
      const read = await readOne(run, t, written);
      results[i] = { tag: t.original, ...read, verified: read.digest === digest };
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, tags.length) }, worker));
  return results;
}

async function readOne(
  run: RunView,
  t: ImageRef,
  written: boolean,
): Promise<{ digest: string | null; error?: string; lagWaitMs?: number }> {
  if (written) {
    const { digest, error, waitedMs } = await (run.earlyRead(t.original) ?? readBack(run, t));
    return {
      digest,
      ...(error === undefined ? {} : { error }),
      ...(waitedMs > 0 ? { lagWaitMs: waitedMs } : {}),
    };
  }
  try {
    return { digest: await run.deps.readDigest(t) };
  } catch (err) {
    return { digest: null, error: (err as Error).message };
  }
}

/** The end state: every tag read back (with verify off, buildx's exit 0 is trusted, nothing is read). */
export async function verification(run: RunView): Promise<{ tags: TagResult[]; failure?: Failure }> {
  const { digest } = run;
  if (!run.options.verify)
    return { tags: run.options.tags.map((t) => ({ tag: t.original, digest, verified: false })) };
  const tags = await readBackTags(run, undefined, true);
  const wrong = tags.filter((t) => !t.verified);
  return { tags, failure: wrong.length > 0 ? verifyFailure(wrong, tags.length, digest) : undefined };
}
