import { describe, expect, it } from 'vitest';

import {
  assetName,
  buildxArch,
  buildxOs,
  normaliseChecksum,
  parseChecksums,
  pickRelease,
  type Release,
  versionOf,
} from '../../src/buildx/release-assets.js';

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
