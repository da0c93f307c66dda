// The read-back: every tag, read from the registry, must hold the expected digest. Tags already
// read back holding it during the run are not asked again; the others, pushed by this run, are
// asked again up to lag-timeout (a registry can lag behind its own writes).

import type { ImageRef } from '../registry/reference.js';
import { verifyFailure } from './messages.js';
import type { MergeRun } from './run.js';
import type { Failure, TagResult } from './types.js';

/**
 * Reads every tag back (up to 8 at once); tags proven during the run are not asked again, and
 * only the tags in `only` are read when it is given. One request each, unless `written`: then a
 * tag not showing the index is asked again up to lag-timeout.
 */
export async function readBackTags(
  run: MergeRun,
  only?: readonly string[],
  written = false,
): Promise<TagResult[]> {
  const { tags } = run.options;
  const { digest, proven } = run;
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
      results[i] = { tag: t.original, ...(await readOne(run, t, written)), verified: false };
      results[i].verified = results[i].digest === digest;
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, tags.length) }, worker));
  return results;
}

async function readOne(
  run: MergeRun,
  t: ImageRef,
  written: boolean,
): Promise<{ digest: string | null; error?: string }> {
  if (written) {
    const { digest, error } = await (run.earlyReads.get(t.original) ?? run.readWritten(t));
    return error === undefined ? { digest } : { digest, error };
  }
  try {
    return { digest: await run.deps.readDigest(t) };
  } catch (err) {
    return { digest: null, error: (err as Error).message };
  }
}

/** The end state: every tag read back (with verify off, buildx's exit 0 is trusted, nothing is read). */
export async function verification(run: MergeRun): Promise<{ tags: TagResult[]; failure?: Failure }> {
  const { digest } = run;
  if (!run.options.verify) return { tags: run.tagNames.map((tag) => ({ tag, digest, verified: false })) };
  const tags = await readBackTags(run, undefined, true);
  const wrong = tags.filter((t) => !t.verified);
  return { tags, failure: wrong.length > 0 ? verifyFailure(wrong, tags.length, digest) : undefined };
}
