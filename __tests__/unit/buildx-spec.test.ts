import { describe, expect, it } from 'vitest';

import { parseBuildxSpec, sourceOf } from '../../src/buildx/spec.js';
import { InputError } from '../../src/util/parse.js';

describe('parseBuildxSpec: every accepted form', () => {
  it.each([
    ['', { kind: 'runner' }],
    ['v0.36.1', { kind: 'release', tag: 'v0.36.1' }],
    ['0.36.1', { kind: 'release', tag: 'v0.36.1' }],
    ['v0.30.0-rc1', { kind: 'release', tag: 'v0.30.0-rc1' }],
    ['latest', { kind: 'latest' }],
    ['Latest', { kind: 'latest' }],
    ['>=0.30.1 <0.37', { kind: 'range', range: '>=0.30.1 <0.37' }],
    ['^0.36', { kind: 'range', range: '^0.36' }],
    ['0.36.x', { kind: 'range', range: '0.36.x' }],
    ['~0.30.1', { kind: 'range', range: '~0.30.1' }],
    ['0.36', { kind: 'range', range: '0.36' }],
    ['>=0.30.0-rc1 <0.31', { kind: 'range', range: '>=0.30.0-rc1 <0.31' }],
    ['0.30.x || 0.36.x', { kind: 'range', range: '0.30.x || 0.36.x' }],
    [
      'https://github.com/jedevc/buildx.git#imagetools-resolver-copy-dupe',
      {
        kind: 'git',
        url: 'https://github.com/jedevc/buildx.git',
        ref: 'imagetools-resolver-copy-dupe',
        host: 'github.com',
      },
    ],
    [
      'https://github.com/docker/buildx.git',
      { kind: 'git', url: 'https://github.com/docker/buildx.git', ref: 'HEAD', host: 'github.com' },
    ],
    [
      'https://github.com/docker/buildx.git#refs/pull/3504/head',
      {
        kind: 'git',
        url: 'https://github.com/docker/buildx.git',
        ref: 'refs/pull/3504/head',
        host: 'github.com',
      },
    ],
    [
      'https://github.com/docker/buildx#a1b2c3d',
      { kind: 'git', url: 'https://github.com/docker/buildx', ref: 'a1b2c3d', host: 'github.com' },
    ],
    [
      'git@github.com:owner/buildx.git#fix/x',
      { kind: 'git', url: 'git@github.com:owner/buildx.git', ref: 'fix/x', host: 'github.com' },
    ],
    [
      'file:///srv/git/buildx.git#v0.99.0',
      { kind: 'git', url: 'file:///srv/git/buildx.git', ref: 'v0.99.0', host: '' },
    ],
    [
      'https://example.com/tools/buildx-linux-amd64',
      { kind: 'url', url: 'https://example.com/tools/buildx-linux-amd64' },
    ],
    ['http://127.0.0.1:8080/files/buildx', { kind: 'url', url: 'http://127.0.0.1:8080/files/buildx' }],
    ['/opt/buildx/bin/buildx', { kind: 'path', path: '/opt/buildx/bin/buildx' }],
    ['./tools/buildx', { kind: 'path', path: './tools/buildx' }],
  ])('%j', (value, spec) => {
    expect(parseBuildxSpec(value)).toEqual(spec);
  });

  it.each([
    ['v0.36', 'release'],
    ['https://github.com/o/buildx.git#main', 'git'],
    ['latest', 'release'],
    ['', 'runner'],
  ])('%s comes from %s', (value, source) => {
    expect(sourceOf(parseBuildxSpec(value))).toBe(source);
  });
});

describe('parseBuildxSpec refuses everything else before any download, naming the input and the forms', () => {
  it.each([
    'newest',
    'buildx',
    'v0.36.1; rm -rf /',
    '$(curl evil)',
    'http://example.com/buildx',
    'https://user:pass@example.com/buildx',
    'https://github.com/o/buildx.git#--upload-pack=evil',
    'https://github.com/o/buildx.git#a..b',
    'https://github.com/o/buildx.git#a b',
    'ftp://example.com/buildx.git#main',
    '>=banana',
  ])('%j', (value) => {
    let err: unknown;
    try {
      parseBuildxSpec(value);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/^Input "buildx-version": /);
    expect((err as Error).message).toMatch(
      /Accepted forms: .*a semver range.*latest.*git ref.*https URL.*a path/,
    );
  });
});
