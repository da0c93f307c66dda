import { describe, expect, it } from 'vitest';

import {
  dockerBuildArgs,
  gitEnv,
  gitVersionLabel,
  matchRef,
  parseLsRemote,
  versionLdflags,
} from '../../src/install/git.js';
import { safeUrl } from '../../src/install/http.js';
import {
  assetName,
  buildxArch,
  buildxOs,
  normaliseChecksum,
  parseChecksums,
  pickRelease,
  type Release,
  versionOf,
} from '../../src/buildx/release.js';
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

describe('asset names, as buildx publishes them', () => {
  it.each([
    ['x64', undefined, 'amd64'],
    ['arm64', undefined, 'arm64'],
    ['arm', '7', 'arm-v7'],
    ['arm', '6', 'arm-v6'],
    ['ppc64', undefined, 'ppc64le'],
    ['riscv64', undefined, 'riscv64'],
    ['s390x', undefined, 's390x'],
  ])('node arch %s (arm v%s) is %s', (nodeArch, arm, arch) => {
    expect(buildxArch(nodeArch, arm)).toBe(arch);
  });
  it('refuses an architecture buildx does not publish', () => {
    expect(() => buildxArch('mips')).toThrow(/no release binary/);
  });
  it.each([
    ['linux', 'linux'],
    ['darwin', 'darwin'],
    ['win32', 'windows'],
  ])('os %s is %s', (p, os) => expect(buildxOs(p)).toBe(os));
  it.each([
    ['v0.36.1', { os: 'linux', arch: 'amd64' }, 'buildx-v0.36.1.linux-amd64'],
    ['v0.36.1', { os: 'linux', arch: 'arm-v7' }, 'buildx-v0.36.1.linux-arm-v7'],
    ['v0.30.0-rc1', { os: 'darwin', arch: 'arm64' }, 'buildx-v0.30.0-rc1.darwin-arm64'],
    ['v0.36.1', { os: 'windows', arch: 'amd64' }, 'buildx-v0.36.1.windows-amd64.exe'],
  ])('%s on %j', (tag, platform, name) => expect(assetName(tag, platform)).toBe(name));
});

describe('checksums.txt', () => {
  const A = 'a'.repeat(64);
  const B = 'B'.repeat(64);
  it('reads both sha256sum forms, and nothing else', () => {
    const map = parseChecksums(
      `${A} *buildx-v0.36.1.linux-amd64\n${B}  buildx-v0.36.1.linux-arm64\n\nnot a line\n${'c'.repeat(63)} *short\n`,
    );
    expect([...map]).toEqual([
      ['buildx-v0.36.1.linux-amd64', A],
      ['buildx-v0.36.1.linux-arm64', B.toLowerCase()],
    ]);
  });
  it.each([
    [A, A],
    [`sha256:${B}`, B.toLowerCase()],
    [' abc ', undefined],
    [`sha512:${A}`, undefined],
  ])('buildx-checksum %j', (value, hex) => expect(normaliseChecksum(value)).toBe(hex));
});

describe('pickRelease: the highest allowed release, no drafts, pre-releases only when named', () => {
  const releases: Release[] = [
    { tag: 'v0.38.0', prerelease: false, draft: true },
    { tag: 'v0.37.0-rc1', prerelease: true },
    { tag: 'v0.36.1', prerelease: false },
    { tag: 'v0.36.0', prerelease: false },
    { tag: 'v0.31.1', prerelease: false },
    { tag: 'v0.30.1', prerelease: false },
    { tag: 'v0.30.0', prerelease: false },
    { tag: 'v0.30.0-rc2', prerelease: true },
    { tag: 'v0.29.1', prerelease: false },
    { tag: 'v0.13.1', prerelease: false },
    { tag: 'not-a-version', prerelease: false },
  ];
  it.each([
    [{ kind: 'latest' }, 'v0.36.1'],
    [{ kind: 'range', range: '>=0.30.1 <0.37' }, 'v0.36.1'],
    [{ kind: 'range', range: '^0.36' }, 'v0.36.1'],
    [{ kind: 'range', range: '0.36.x' }, 'v0.36.1'],
    [{ kind: 'range', range: '~0.30.0' }, 'v0.30.1'],
    [{ kind: 'range', range: '>=0.30.0 <0.31' }, 'v0.30.1'],
    [{ kind: 'range', range: '0.30.0-rc1 - 0.30.0-rc9' }, 'v0.30.0-rc2'],
    [{ kind: 'range', range: '>=0.37.0-rc1' }, 'v0.37.0-rc1'],
    [{ kind: 'range', range: '>=0.38' }, undefined],
    [{ kind: 'range', range: '<0.13' }, undefined],
  ] as const)('%j -> %s', (want, tag) => {
    expect(pickRelease(releases, want)).toBe(tag);
  });
  it('skips what a policy does not allow', () => {
    expect(pickRelease(releases, { kind: 'range', range: '>=0.30.0 <0.31' }, (t) => t !== 'v0.30.1')).toBe(
      'v0.30.0',
    );
  });
  it.each([
    ['v0.13.1', '0.13.1'],
    ['0.13.1+ds1', '0.13.1'],
    ['v0.30.0-rc1', '0.30.0-rc1'],
  ])('versionOf %s', (v, s) => expect(versionOf(v)).toBe(s));
});

describe('git', () => {
  const S1 = '1'.repeat(40);
  const S2 = '2'.repeat(40);
  const S3 = '3'.repeat(40);
  const S4 = '4'.repeat(40);
  const ls = `${S1}\tHEAD\n${S1}\trefs/heads/main\n${S2}\trefs/heads/fix/x\n${S3}\trefs/tags/v0.99.0\n${S4}\trefs/tags/v0.99.0^{}\n${S2}\trefs/pull/7/head\n`;
  it.each([
    ['main', S1],
    ['HEAD', S1],
    ['fix/x', S2],
    ['v0.99.0', S4], // the peeled commit, not the tag object
    ['refs/pull/7/head', S2],
    ['refs/heads/main', S1],
    ['5'.repeat(40), '5'.repeat(40)],
    ['abc1234', undefined],
    ['nope', undefined],
  ])('%s', (ref, commit) => {
    expect(matchRef(parseLsRemote(ls), ref)?.commit).toBe(commit);
  });
  it('sets the version ldflags buildx reads', () => {
    expect(versionLdflags('github.com/docker/buildx', 'fix/x', S2)).toBe(
      `-s -w -X github.com/docker/buildx/version.Version=fix/x -X github.com/docker/buildx/version.Revision=${S2} -X github.com/docker/buildx/version.Package=github.com/docker/buildx`,
    );
    expect(gitVersionLabel('refs/heads/fix/x', S2)).toBe('fix/x');
    expect(gitVersionLabel('HEAD', S2)).toBe('2222222');
    expect(gitVersionLabel('abc1234', S2)).toBe('2222222');
  });
  it('builds with Docker from the repository at the commit', () => {
    expect(dockerBuildArgs('https://github.com/o/buildx.git', S2, '/out')).toEqual([
      'buildx',
      'build',
      '--target',
      'binaries',
      '--platform',
      'local',
      '--output',
      'type=local,dest=/out',
      `https://github.com/o/buildx.git#${S2}`,
    ]);
  });
  it('gives a token to git through its environment, only for https URLs of the token host', () => {
    const env = gitEnv('https://github.com/o/private-buildx.git', {
      token: 'ghs_secret',
      tokenHost: 'github.com',
      env: {},
    });
    expect(env.GIT_CONFIG_KEY_0).toBe('http.https://github.com/.extraheader');
    expect(
      Buffer.from(
        (env.GIT_CONFIG_VALUE_0 as string).replace('AUTHORIZATION: basic ', ''),
        'base64',
      ).toString(),
    ).toBe('x-access-token:ghs_secret');
    expect(env.GIT_TERMINAL_PROMPT).toBe('0');
    for (const url of [
      'https://gitlab.com/o/buildx.git',
      'git@github.com:o/buildx.git',
      'file:///x/buildx.git',
    ]) {
      expect(
        gitEnv(url, { token: 'ghs_secret', tokenHost: 'github.com', env: {} }).GIT_CONFIG_COUNT,
      ).toBeUndefined();
    }
  });
});

describe('safeUrl', () => {
  it('drops the query, where signed URLs carry credentials', () => {
    expect(safeUrl('https://objects.example.com/buildx?X-Amz-Signature=abc&token=t')).toBe(
      'https://objects.example.com/buildx',
    );
  });
});
