// The planner: the next invocation's tags (at most `tags-per-buildx`, one after a crash: the
// engine's run state says how many), and each invocation's source: the user's sources while no
// tag holds the index, then the index itself, `<repo>@<digest>` of a tag already holding it (a
// manifest-only copy). Pure.

import { formatReference, type ImageRef } from '../registry/reference.js';

export interface Invocation {
  tags: ImageRef[];
  /** the sources given to buildx */
  sources: string[];
  /** true when the sources are the user's (annotations and append apply) */
  fromSources: boolean;
}

/** The next batch of pending tags: at most `concurrency`, in the given order. */
export function nextBatch(pending: readonly ImageRef[], concurrency: number): ImageRef[] {
  return pending.slice(0, Math.max(1, concurrency));
}

/**
 * Chooses where a batch is copied from. With no tag holding the index yet, the user's sources;
 * else the index by digest, from a tag in the batch's own repository when there is one
 * (no blobs to copy), or from the first tag holding it.
 */
export function chooseSource(
  batch: readonly ImageRef[],
  holding: readonly ImageRef[],
  userSources: readonly string[],
  digest: string,
): Invocation {
  if (holding.length === 0) return { tags: [...batch], sources: [...userSources], fromSources: true };
  const target = batch[0];
  const sameRepo = target
    ? holding.find((h) => h.domain === target.domain && h.path === target.path)
    : undefined;
  const from = sameRepo ?? (holding[0] as ImageRef);
  return {
    tags: [...batch],
    sources: [formatReference({ domain: from.domain, path: from.path, digest })],
    fromSources: false,
  };
}
