// The engine, one merge top-down: (1) the --dry-run gives the index digest while every tag is
// read and the first push runs alongside (when its tags hold nothing); (2) tags already holding
// the index are not pushed, repositories holding its content get no buildx push; (3) the other
// tags are pushed (./schedule.ts), each failure classified and retried when a retry fixes it;
// (4) every tag is read back. Each step returns what it found and is recorded in the MergeRun
// (./run.ts); I/O comes in through `EngineDeps`.

import type { ImageRef } from '../registry/reference.js';
import { alreadyHolding, firstBatchOf, readBefore } from './already.js';
import { findContent } from './content.js';
import { runDryRun } from './dry-run.js';
import { type FirstPush, movingInto, settleFirstPush, startFirstPush } from './first-push.js';
import type { MergeOptions } from './options.js';
import { MergeRun } from './run.js';
import { pushAll } from './schedule.js';
import type { EngineDeps, Failure, MergeResult } from './types.js';
import { readBackTags, verification } from './verify.js';

export type { AttemptRecord, EngineDeps, Failure, MergeResult, TagResult } from './types.js';
export { DRY_RUN_INVOCATION } from './types.js';
export { type MergeOptions, mergeOptions } from './options.js';

export async function runMerge(options: MergeOptions, deps: EngineDeps): Promise<MergeResult> {
  const run = new MergeRun(options, deps);
  // 1. The --dry-run; alongside it, every tag is read, and the first push starts when its tags
  // hold nothing (when it cannot change what the --dry-run reads).
  const firstTags = new Set(firstBatchOf(options).map((t) => t.original));
  const others = options.dryRun ? [] : options.tags.filter((t) => !firstTags.has(t.original));
  const [expected, started, before] = await Promise.all([
    runDryRun(run),
    startFirstPush(run),
    readBefore(deps, others),
  ]);
  run.readBefore(started.before);
  run.readBefore(before);
  if (!('digest' in expected)) return dryRunFailed(run, expected, started.first);
  run.indexKnown(expected);
  if (options.dryRun) return run.result(undefined, []);
  await deps.pushesAllowed; // throws the check's error: nothing is pushed

  // 2. What needs no push: tags holding the index, repositories holding its content.
  const already = alreadyHolding(options.tags, (t) => run.heldBefore(t), run.digest);
  run.alreadyHeld(already);
  const pending: ImageRef[] = options.tags.filter((t) => !already.includes(t));
  run.contentFound(await findContent(run, pending, movingInto(started.first)));

  // 3. Push: the first invocation from the sources, then PUTs and copies.
  await pushAll(run, pending, started.first);
  if (run.failure) return run.result(run.failure, await readBackTags(run));

  // 4. Verify: every tag, read back from the registry, must hold the expected digest.
  const { tags, failure } = await verification(run);
  return run.result(failure, tags);
}

/** The --dry-run gave up: the first push, when it ran all the same, is recorded, and what it pushed is not "not pushed". */
async function dryRunFailed(
  run: MergeRun,
  expected: Failure,
  first: FirstPush | undefined,
): Promise<MergeResult> {
  if (!first) return run.result(expected);
  const pushed = await settleFirstPush(run, first);
  if (pushed.length === 0) return run.result(expected);
  expected.tags = expected.tags.filter((t) => !pushed.includes(t));
  return run.result(expected, await readBackTags(run, pushed));
}
