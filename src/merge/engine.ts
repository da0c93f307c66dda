// The engine: the --dry-run gives the index digest while every tag is read and the first push
// runs alongside (when its tags hold nothing); tags already holding the index are not pushed;
// then the other tags are pushed, the first invocation from the sources, the others copied by digest,
// each failure classified and retried when a retry fixes it; then every tag is read back.
// The state of the run is one MergeRun; I/O comes in through `EngineDeps`.

import type { MergeOptions } from './options.js';
import { firstBatchOf, readBefore, takeAlready } from './already.js';
import { findContent } from './content.js';
import { type DryRunIndex, runDryRun } from './dry-run.js';
import { pushAll, settleFirstPush, startFirstPush } from './push.js';
import { MergeRun } from './run.js';
import type { EngineDeps, Failure, MergeResult } from './types.js';
import { readBackTags, verification } from './verify.js';

export type { AttemptRecord, EngineDeps, Failure, MergeResult, TagResult } from './types.js';
export { DRY_RUN_INVOCATION } from './types.js';
export { type MergeOptions, mergeOptions } from './options.js';

export async function runMerge(options: MergeOptions, deps: EngineDeps): Promise<MergeResult> {
  const run = new MergeRun(options, deps);
  // 1. The --dry-run; alongside it, every tag is read, and the first push starts when its tags
  // hold nothing (when it cannot change what the --dry-run reads).
  const expectedRun = runDryRun(run);
  const firstRun = startFirstPush(run);
  const firstTags = new Set(firstBatchOf(options).map((t) => t.original));
  const others = options.dryRun ? [] : options.tags.filter((t) => !firstTags.has(t.original));
  const reads = readBefore(run, others);
  const expected: DryRunIndex | Failure = await expectedRun;
  const first = await firstRun;
  await reads;
  if (!('digest' in expected)) {
    if (!first) return run.result(expected);
    // The first push ran all the same: it is recorded, and what it pushed is not "not pushed".
    const pushed = await settleFirstPush(run, first);
    if (pushed.length === 0) return run.result(expected);
    expected.tags = expected.tags.filter((t) => !pushed.includes(t));
    return run.result(expected, await readBackTags(run, pushed));
  }
  run.digest = expected.digest;
  run.index = expected.index;
  deps.info(`Expected index digest: ${expected.digest}`);
  if (options.dryRun) return run.result(undefined, []);
  await deps.pushesAllowed; // throws the check's error: nothing is pushed
  takeAlready(run);
  await findContent(run);

  // 2. Push: the first invocation from the sources, then the copies.
  await pushAll(run);
  if (run.failure) {
    run.failure.tags.push(...run.pending.map((t) => t.original));
    return run.result(run.failure, await readBackTags(run));
  }

  // 3. Verify: every tag, read back from the registry, must hold the expected digest.
  const { tags, failure } = await verification(run);
  return run.result(failure, tags);
}
