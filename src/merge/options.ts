// The inputs the merge stage reads, and nothing else (no token, no policy, no install settings).

import type { Inputs } from '../inputs/inputs.js';

const MERGE_KEYS = [
  'sources',
  'tags',
  'annotations',
  'append',
  'dryRun',
  'tagsPerBuildx',
  'buildxAtOnce',
  'tagMethod',
  'putsAtOnce',
  'maxAttempts',
  'retryOn',
  'retryDelayMs',
  'retryMaxDelayMs',
  'lagTimeoutMs',
  'verify',
] as const satisfies readonly (keyof Inputs)[];

/** The merge stage's inputs, as `Inputs` declares and documents them. */
export type MergeOptions = Pick<Inputs, (typeof MERGE_KEYS)[number]>;

export function mergeOptions(inputs: Inputs): MergeOptions {
  return Object.fromEntries(MERGE_KEYS.map((k) => [k, inputs[k]])) as MergeOptions;
}
