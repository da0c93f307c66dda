// The read-back: every tag, read from the registry, must hold the expected digest. Tags already
// read back holding it during the run are not asked again.

import { verifyFailure } from './messages.js';
import type { MergeRun } from './run.js';
import type { Failure, TagResult } from './types.js';

/**
 * Reads every tag back (one request each, up to 8 at once); tags proven during the run are not
 * asked again, and only the tags in `only` are read when it is given.
 */
export async function readAll(run: MergeRun, only?: readonly string[]): Promise<TagResult[]> {
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
      try {
        const d = await run.deps.readDigest(t);
        results[i] = { tag: t.original, digest: d, verified: d === digest };
      } catch (err) {
        results[i] = { tag: t.original, digest: null, verified: false, error: (err as Error).message };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, tags.length) }, worker));
  return results;
}

/** The end state: every tag read back (with verify off, buildx's exit 0 is trusted, nothing is read). */
export async function verification(run: MergeRun): Promise<{ tags: TagResult[]; failure?: Failure }> {
  const { digest } = run;
  if (!run.options.verify) return { tags: run.tagNames.map((tag) => ({ tag, digest, verified: false })) };
  const tags = await readAll(run);
  const wrong = tags.filter((t) => !t.verified);
  return { tags, failure: wrong.length > 0 ? verifyFailure(wrong, tags.length, digest) : undefined };
}
