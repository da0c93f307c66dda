// The planner's two pure functions as the engine calls them: nextBatch takes the next invocation's
// tags (the engine passes tags-per-buildx, then 1 after a crash), chooseSource picks where they are
// copied from (the user's sources while no tag holds the index, else the index by digest).
import { describe, expect, it } from 'vitest';

import { chooseSource, nextBatch } from '../../src/merge/plan.js';
import { parseTag } from '../../src/registry/reference.js';

const D = 'sha256:9a9aebe7452ef57aa2eac0adc21f040334c5db86ec6a0486c8effd0adbf310e0';
const SRC = ['r:5000/src/app:amd64', 'r:5000/src/app:arm64'];
const tags = (...names: string[]) => names.map(parseTag);
const FIVE = ['r:5000/a:1', 'r:5000/a:2', 'r:5000/a:3', 'r:5000/a:4', 'r:5000/a:5'];

describe('nextBatch', () => {
  it.each([
    // [pending, concurrency, the batch]
    [['r:5000/a:1'], 1, ['r:5000/a:1']],
    [FIVE, 1, ['r:5000/a:1']],
    [FIVE, 3, ['r:5000/a:1', 'r:5000/a:2', 'r:5000/a:3']],
    // after a crash the engine asks for one tag per invocation, whatever tags-per-buildx was
    [['r:5000/a:1', 'r:5000/a:2', 'r:5000/a:3'], 1, ['r:5000/a:1']],
    [['r:5000/a:1', 'r:5000/a:2'], 10, ['r:5000/a:1', 'r:5000/a:2']],
    [['r:5000/a:1', 'r:5000/a:2'], 0, ['r:5000/a:1']], // never fewer than one tag
    [[], 3, []],
  ] as [string[], number, string[]][])('%j by %d -> %j', (pending, conc, batch) => {
    expect(nextBatch(tags(...pending), conc).map((t) => t.original)).toEqual(batch);
  });
});

describe('chooseSource', () => {
  it.each([
    // [batch, tags holding the index, the sources, from the user's sources]
    [['r:5000/a:1'], [], SRC, true],
    [['r:5000/a:1', 'r:5000/a:2'], [], SRC, true],
    [['r:5000/a:2'], ['r:5000/a:1'], [`r:5000/a@${D}`], false],
    [['r:5000/a:2', 'r:5000/a:3'], ['r:5000/a:1'], [`r:5000/a@${D}`], false],
    // a tag in another repository copies from the first holder
    [['ghcr.io/o/b:1'], ['r:5000/a:1'], [`r:5000/a@${D}`], false],
    // a tag in a repository that already holds the index copies from there (manifest only, no blobs)
    [['ghcr.io/o/b:2'], ['r:5000/a:1', 'ghcr.io/o/b:1'], [`ghcr.io/o/b@${D}`], false],
    [['r:5000/a:2'], ['r:5000/a:1', 'ghcr.io/o/b:1', 'ghcr.io/o/b:2'], [`r:5000/a@${D}`], false],
    [['alpine:2'], ['alpine'], [`docker.io/library/alpine@${D}`], false],
  ] as [string[], string[], string[], boolean][])(
    '%j holding %j -> %j',
    (batch, holding, sources, fromSources) => {
      const inv = chooseSource(tags(...batch), tags(...holding), SRC, D);
      expect(inv).toEqual({ tags: tags(...batch), sources, fromSources });
    },
  );
});
