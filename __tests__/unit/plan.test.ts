import { describe, expect, it } from 'vitest';

import { chooseSource, nextBatch, planInvocations } from '../../src/merge/plan.js';
import { parseTag } from '../../src/registry/reference.js';

const D = 'sha256:9a9aebe7452ef57aa2eac0adc21f040334c5db86ec6a0486c8effd0adbf310e0';
const SRC = ['r:5000/src/app:amd64', 'r:5000/src/app:arm64'];
const tags = (...names: string[]) => names.map(parseTag);

describe('planInvocations', () => {
  it.each([
    // [tags, concurrency, expected: [tags per invocation, source per invocation]]
    [['r:5000/a:1'], 1, [[['r:5000/a:1'], SRC]]],
    [
      ['r:5000/a:1', 'r:5000/a:2', 'r:5000/a:3'],
      1,
      [
        [['r:5000/a:1'], SRC],
        [['r:5000/a:2'], [`r:5000/a@${D}`]],
        [['r:5000/a:3'], [`r:5000/a@${D}`]],
      ],
    ],
    [
      ['r:5000/a:1', 'r:5000/a:2', 'r:5000/a:3'],
      2,
      [
        [['r:5000/a:1', 'r:5000/a:2'], SRC],
        [['r:5000/a:3'], [`r:5000/a@${D}`]],
      ],
    ],
    [['r:5000/a:1', 'r:5000/a:2'], 10, [[['r:5000/a:1', 'r:5000/a:2'], SRC]]],
    [
      // a tag in another repository copies from the first holder; a tag in a repository that
      // already holds the index copies from there (manifest only, no blobs)
      ['r:5000/a:1', 'ghcr.io/o/b:1', 'ghcr.io/o/b:2', 'r:5000/a:2'],
      1,
      [
        [['r:5000/a:1'], SRC],
        [['ghcr.io/o/b:1'], [`r:5000/a@${D}`]],
        [['ghcr.io/o/b:2'], [`ghcr.io/o/b@${D}`]],
        [['r:5000/a:2'], [`r:5000/a@${D}`]],
      ],
    ],
    [
      ['alpine', 'alpine:2'],
      1,
      [
        [['alpine'], SRC],
        [['alpine:2'], [`docker.io/library/alpine@${D}`]],
      ],
    ],
  ] as [string[], number, [string[], string[]][]][])('%j by %d', (names, conc, expected) => {
    const plan = planInvocations(tags(...names), SRC, D, conc);
    expect(plan.map((i) => [i.tags.map((t) => t.original), i.sources])).toEqual(expected);
    // no invocation pushes more than max-concurrency tags, and every tag is pushed once
    expect(plan.every((i) => i.tags.length <= conc)).toBe(true);
    expect(plan.flatMap((i) => i.tags.map((t) => t.original))).toEqual(names);
    expect(plan.map((i) => i.fromSources)).toEqual(expected.map((_, n) => n === 0));
  });
});

describe('nextBatch and chooseSource', () => {
  it('never takes fewer than one tag', () => {
    expect(nextBatch(tags('r/a:1', 'r/a:2'), 0)).toHaveLength(1);
  });
  it('uses the user sources while no tag holds the index', () => {
    expect(chooseSource(tags('r/a:1'), [], SRC, D)).toMatchObject({ sources: SRC, fromSources: true });
  });
});
