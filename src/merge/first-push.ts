// The first push, started while the --dry-run runs when it cannot change what the --dry-run reads
// and cannot overwrite the index. It is a promise of buildx's outcome that the engine hands to
// the first invocation as that invocation's first attempt (or records alone when the --dry-run
// gave up).

import type { ExecOutcome } from '../exec/buildx.js';
import { type ImageRef, repositoryOf } from '../registry/reference.js';
import { firstBatchOf, readBefore } from './already.js';
import { attemptOf, classOf } from './attempts.js';
import { repositoryOfSources, sourcesPresent } from './content.js';
import { chooseSource, type Invocation } from './plan.js';
import { pushArgs, pushLabel, settle } from './push.js';
import type { RunView } from './types.js';

/** The first push under way: its invocation and buildx's outcome to come. */
export interface FirstPush {
  inv: Invocation;
  outcome: Promise<ExecOutcome>;
}

/**
 * Reads the first batch's tags and starts the first push when those tags hold nothing, content
 * must move (with tags by PUT: a source's manifest is missing in a target repository), no
 * --append and pushes are allowed (not when the check of buildx failed). What the tags held, and
 * the push when it started.
 */
export async function startFirstPush(
  run: RunView,
): Promise<{ before: Map<string, string | null | undefined>; first?: FirstPush }> {
  const batch = firstBatchOf(run.options);
  if (batch.length === 0) return { before: new Map() };
  const [before, lacking] = await Promise.all([readBefore(run.deps, batch), contentMayLack(run, batch)]);
  if (!lacking) return { before }; // the --dry-run's index tells whether the action writes every tag
  if (batch.some((t) => before.get(t.original) !== null)) return { before }; // after the --dry-run
  const allowed = await run.deps.pushesAllowed?.then(
    () => true,
    () => false,
  );
  if (allowed === false) return { before }; // the engine stops with the check's error
  const inv = chooseSource(batch, [], run.options.sources, '');
  const outcome = run.deps.exec(pushArgs(run, batch, inv), pushLabel(batch, 1, 1));
  outcome.catch(() => undefined); // awaited later; never an unhandled rejection meanwhile
  return { before, first: { inv, outcome } };
}

/**
 * Whether a repository of `batch` may lack the content, so buildx must move it: with tags by
 * PUT, unless every source is in it or the sources' manifests are there already.
 */
async function contentMayLack(run: RunView, batch: readonly ImageRef[]): Promise<boolean> {
  if (!run.byPut) return true;
  const fromSources = repositoryOfSources(run.options);
  const others = batch.filter((t) => repositoryOf(t) !== fromSources);
  const present = await Promise.all(others.map((t) => sourcesPresent(run.deps, t, run.options.sources)));
  return present.includes(false);
}

/** The repositories the first push moves the content into. */
export function movingInto(first: FirstPush | undefined): Set<string> {
  return new Set(first ? first.inv.tags.map(repositoryOf) : []);
}

/**
 * After the --dry-run gave up: journals the first push that ran alongside (not acted on: no
 * read-back, no retry) and returns the tags it pushed.
 */
export async function settleFirstPush(run: RunView, first: FirstPush): Promise<string[]> {
  const out = await settle(first.outcome);
  const at = {
    invocation: 1,
    try: 1,
    tags: first.inv.tags.map((t) => t.original),
    sources: first.inv.sources,
  };
  const rec = run.attempted(attemptOf(at, out, out.ok ? undefined : classOf(out)));
  return rec.ok ? rec.tags : [];
}
