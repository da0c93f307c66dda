// The push schedule: which tags go how, in which order, and the one place where what the
// invocations and the PUTs found is recorded. The first invocation creates the index from the
// sources, alone (with tags by PUT and a repository holding the content already, the PUTs go
// first: no buildx push). With tags by PUT, the tags of repositories holding the index or its
// content are PUT; one buildx copy moves the content into each other repository, then its tags
// are PUT too. Otherwise, or once the registry refused a PUT, copies by digest: separate buildx
// processes (no shared memory to race on), up to buildx-at-once at a time, each pushing at most
// tags-per-buildx tags (one once buildx crashed).

import type { ImageRef } from '../registry/reference.js';
import type { FirstPush } from './first-push.js';
import { nextBatch } from './plan.js';
import { runInvocation } from './push.js';
import { planPuts, putAll } from './put.js';
import type { MergeRun } from './run.js';

/** The tags no invocation or PUT has taken yet. */
class Queue {
  private invocations = 0;
  constructor(
    private readonly run: MergeRun,
    public tags: ImageRef[],
  ) {}

  get empty(): boolean {
    return this.tags.length === 0;
  }

  /** The next invocation's tags. */
  take(size = this.run.concurrency): ImageRef[] {
    const batch = nextBatch(this.tags, size);
    this.tags = this.tags.slice(batch.length);
    return batch;
  }

  /** Runs one invocation on `batch` and records what it found; its handed-back tags come first. */
  async invoke(batch: ImageRef[], first?: FirstPush): Promise<void> {
    const got = await runInvocation(this.run, batch, ++this.invocations, first?.outcome);
    this.run.invocationEnded(got);
    this.tags = [...got.back, ...this.tags];
  }
}

/**
 * Pushes `pending` (every tag that does not hold the index already); `first`, the first push,
 * when it started alongside the --dry-run. Ends with `run.failure` set when one gave up (then the
 * tags no one took are recorded as not pushed).
 */
export async function pushAll(run: MergeRun, pending: ImageRef[], first?: FirstPush): Promise<void> {
  const queue = new Queue(run, pending);
  const putFirst = run.byPut && run.contentKnown && first === undefined;
  // The first invocation: the first push's tags, when it started alongside the --dry-run.
  if (!queue.empty && !putFirst) await queue.invoke(queue.take(), first);
  if (!run.failure && run.byPut && run.index) await fanOut(run, queue);
  if (!run.failure) {
    const workers =
      run.holding.length > 0 ? Math.max(1, Math.min(run.options.buildxAtOnce, queue.tags.length)) : 1;
    await Promise.all(Array.from({ length: workers }, () => copies(run, queue)));
  }
  if (run.failure) run.notPushed(queue.tags);
}

/**
 * Tags by manifest PUT: the tags of repositories holding the index or its content; one buildx
 * copy into each other repository (single-tag invocations, up to buildx-at-once at once), then
 * their tags by PUT too. Stops at a refusal (the copies take the rest) or a failure.
 */
async function fanOut(run: MergeRun, queue: Queue): Promise<void> {
  while (!queue.empty && !run.failure && run.putRefused === undefined) {
    const plan = planPuts(queue.tags, run.holding, run.repositories);
    const puts = await putAll(run, plan.byPut);
    run.putsEnded(puts);
    if (run.failure || run.putRefused !== undefined || plan.seeds.length === 0) {
      queue.tags = [...puts.back, ...plan.seeds, ...plan.later];
      return;
    }
    queue.tags = plan.later;
    const seeds = plan.seeds.map((t) => [t]);
    const worker = async (): Promise<void> => {
      for (let s = seeds.shift(); s && !run.failure; s = seeds.shift()) await queue.invoke(s);
    };
    await Promise.all(Array.from({ length: Math.min(run.options.buildxAtOnce, seeds.length) }, worker));
    queue.tags = [...seeds.flat(), ...queue.tags];
  }
}

/** A copies worker: takes batches until none is left or the run stopped. */
async function copies(run: MergeRun, queue: Queue): Promise<void> {
  while (!queue.empty && !run.failure) await queue.invoke(queue.take());
}
