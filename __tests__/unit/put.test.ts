// Tags by manifest PUT, the pure parts: which tags are PUT, which repositories need a buildx copy
// first; what a PUT's answer means (done, retried, fall back to buildx, a failure); the input.
import { describe, expect, it } from 'vitest';

import { parseTagMethod } from '../../src/inputs/inputs.js';
import { mediaTypeOf, planPuts, putVerdict } from '../../src/merge/put.js';
import { parseTag } from '../../src/registry/reference.js';

const refs = (names: string[]) => names.map(parseTag);
const names = (list: { original: string }[]) => list.map((t) => t.original);

describe('planPuts', () => {
  it.each([
    {
      name: 'one repository holding the index: every pending tag by PUT',
      pending: ['r/a:2', 'r/a:3'],
      holding: ['r/a:1'],
      byPut: ['r/a:2', 'r/a:3'],
      seeds: [],
      later: [],
    },
    {
      name: 'a second repository: one buildx copy there first, its other tags later',
      pending: ['r/a:2', 'r/b:1', 'r/b:2', 'r/b:3'],
      holding: ['r/a:1'],
      byPut: ['r/a:2'],
      seeds: ['r/b:1'],
      later: ['r/b:2', 'r/b:3'],
    },
    {
      name: 'same path on another registry is another repository',
      pending: ['other.io/r/a:2'],
      holding: ['r/a:1'],
      byPut: [],
      seeds: ['other.io/r/a:2'],
      later: [],
    },
    {
      name: 'two other repositories, interleaved: one seed each, in order',
      pending: ['r/c:1', 'r/b:1', 'r/c:2', 'r/b:2'],
      holding: ['r/a:1'],
      byPut: [],
      seeds: ['r/c:1', 'r/b:1'],
      later: ['r/c:2', 'r/b:2'],
    },
    { name: 'nothing pending', pending: [], holding: ['r/a:1'], byPut: [], seeds: [], later: [] },
  ])('$name', ({ pending, holding, byPut, seeds, later }) => {
    const plan = planPuts(refs(pending), refs(holding));
    expect({ byPut: names(plan.byPut), seeds: names(plan.seeds), later: names(plan.later) }).toEqual({
      byPut,
      seeds,
      later,
    });
  });
});

const D = `sha256:${'a'.repeat(64)}`;
const OTHER = `sha256:${'b'.repeat(64)}`;

describe('putVerdict', () => {
  it.each([
    { status: 201, answered: D, kind: 'ok' },
    { status: 201, answered: null, kind: 'ok' },
    { status: 201, answered: OTHER, kind: 'fail' },
    { status: undefined, answered: undefined, kind: 'retry' }, // a reset, a refused connection
    { status: 500, answered: undefined, kind: 'retry' },
    { status: 503, answered: undefined, kind: 'retry' },
    { status: 408, answered: undefined, kind: 'retry' },
    { status: 429, answered: undefined, kind: 'retry' },
    { status: 400, answered: undefined, kind: 'fallback' },
    { status: 405, answered: undefined, kind: 'fallback' },
    { status: 415, answered: undefined, kind: 'fallback' },
    { status: 401, answered: undefined, kind: 'fallback' },
    { status: 403, answered: undefined, kind: 'fallback' },
    { status: 404, answered: undefined, kind: 'fallback' },
  ])('$status with digest $answered: $kind', ({ status, answered, kind }) => {
    expect(putVerdict(status, answered, D).kind).toBe(kind);
  });
});

describe('mediaTypeOf', () => {
  it.each([
    ['{"mediaType":"application/vnd.oci.image.index.v1+json"}', 'application/vnd.oci.image.index.v1+json'],
    [
      '{"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json"}',
      'application/vnd.docker.distribution.manifest.list.v2+json',
    ],
    ['{"schemaVersion":2}', 'application/vnd.oci.image.index.v1+json'],
  ])('%s', (index, type) => expect(mediaTypeOf(index)).toBe(type));
});

describe('parseTagMethod', () => {
  it.each([
    ['', 'put'],
    ['put', 'put'],
    [' BUILDX ', 'buildx'],
  ])('%j -> %s', (v, want) => expect(parseTagMethod(v)).toBe(want));
  it('refuses anything else, naming the input', () => {
    expect(() => parseTagMethod('crane')).toThrow(/tag-method.*"put" or "buildx".*crane/);
  });
});
