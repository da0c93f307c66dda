// Re-runs: before the first push, what each tag holds. A tag already holding the expected index
// is not pushed again, so re-running a merge pushes nothing (and a repository with immutable tags
// is never asked to overwrite one). One request per tag, never asked again: a tag absent before
// this run pushed anything is simply absent.

import type { ImageRef } from '../registry/reference.js';
import type { MergeOptions } from './options.js';
import { nextBatch } from './plan.js';
import type { EngineDeps } from './types.js';

/** The tags of the push that may start alongside the --dry-run (none with --append or a dry run). */
export function firstBatchOf(options: MergeOptions): ImageRef[] {
  if (options.dryRun || options.append || options.tags.length === 0) return [];
  // With annotations the --dry-run's index is checked for them first (merge/annotations-check.ts):
  // a push started alongside could land an index that dropped them before the check fails the run.
  if (options.annotations.length > 0) return [];
  return nextBatch(options.tags, options.tagsPerBuildx);
}

/** What `refs` hold now (up to 8 read at once): a digest, null (nothing), undefined (the read failed). */
export async function readBefore(
  deps: Pick<EngineDeps, 'readDigest' | 'info'>,
  refs: readonly ImageRef[],
): Promise<Map<string, string | null | undefined>> {
  const found = new Map<string, string | null | undefined>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < refs.length) {
      const t = refs[next++]!;
      try {
        found.set(t.original, await deps.readDigest(t));
      } catch (err) {
        found.set(t.original, undefined);
        deps.info(`Could not read ${t.original} before pushing (${(err as Error).message}): it is pushed`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, refs.length) }, worker));
  return found;
}

/** Once the digest is known: the tags that held it before this run (not pushed again). Pure. */
export function alreadyHolding(
  tags: readonly ImageRef[],
  heldBefore: (tag: string) => string | null | undefined,
  digest: string,
): ImageRef[] {
  return tags.filter((t) => heldBefore(t.original) === digest);
}
