// The inputs the merge stage reads, and nothing else (no token, no policy, no install settings).

import type { FailureClass } from '../buildx/classify.js';
import type { Inputs } from '../inputs/inputs.js';
import type { ImageRef } from '../registry/reference.js';

export interface MergeOptions {
  sources: string[];
  tags: ImageRef[];
  annotations: string[];
  append: boolean;
  dryRun: boolean;
  maxConcurrency: number;
  parallelCopies: number;
  /** `put`: further tags by manifest PUT; `buildx`: by buildx copies only */
  tagMethod: 'put' | 'buildx';
  /** manifest PUTs at once */
  putConcurrency: number;
  maxAttempts: number;
  retryOn: ReadonlySet<FailureClass>;
  retryDelayMs: number;
  retryMaxDelayMs: number;
  /** how long a tag this run wrote is asked for again before it counts as not holding the index */
  readTimeoutMs: number;
  verify: boolean;
}

export function mergeOptions(inputs: Inputs): MergeOptions {
  return {
    sources: inputs.sources,
    tags: inputs.tags,
    annotations: inputs.annotations,
    append: inputs.append,
    dryRun: inputs.dryRun,
    maxConcurrency: inputs.maxConcurrency,
    parallelCopies: inputs.parallelCopies,
    tagMethod: inputs.tagMethod,
    putConcurrency: inputs.putConcurrency,
    maxAttempts: inputs.maxAttempts,
    retryOn: inputs.retryOn,
    retryDelayMs: inputs.retryDelayMs,
    retryMaxDelayMs: inputs.retryMaxDelayMs,
    readTimeoutMs: inputs.readTimeoutMs,
    verify: inputs.verify,
  };
}
