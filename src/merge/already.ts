// Re-runs: before the first push, what each tag holds. A tag already holding the expected index
// is not pushed again, so re-running a merge pushes nothing (and a repository with immutable tags
// is never asked to overwrite one). One request per tag, never asked again: a tag absent before
// this run pushed anything is simply absent.

import type { ImageRef } from '../registry/reference.js';
import type { MergeOptions } from './options.js';
import { nextBatch } from './plan.js';
import type { MergeRun } from './run.js';

/** The tags of the push that may start alongside the --dry-run (none with --append or a dry run). */
export function firstBatchOf(options: MergeOptions): ImageRef[] {
  if (options.dryRun || options.append || options.tags.length === 0) return [];
  // With annotations the --dry-run's index is checked for them first (merge/annotations-check.ts):
  // a push started alongside could land an index that dropped them before the check fails the run.
  if (options.annotations.length > 0) return [];
  return nextBatch(options.tags, options.tagsPerBuildx);
}

/** Reads what `refs` hold now into `run.before` (up to 8 at once); a read that fails is `undefined`. */
export async function readBefore(run: MergeRun, refs: readonly ImageRef[]): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < refs.length) {
      const t = refs[next++]!;
      try {
        run.before.set(t.original, await run.deps.readDigest(t));
      } catch (err) {
        run.before.set(t.original, undefined);
        run.deps.info(
          `Could not read ${t.original} before pushing (${(err as Error).message}): it is pushed`,
        );
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, refs.length) }, worker));
}

/** Once the digest is known: tags already holding it leave `pending` and can be copied from. */
export function takeAlready(run: MergeRun): void {
  for (const t of run.options.tags) {
    if (run.before.get(t.original) !== run.digest) continue;
    run.already.add(t.original);
    run.proven.add(t.original);
    run.holding.push(t);
  }
  if (run.already.size === 0) return;
  run.pending = run.pending.filter((t) => !run.already.has(t.original));
  const n = run.already.size;
  run.deps.info(`${n} of ${run.options.tags.length} tags already hold ${run.digest}: not pushed again`);
}
