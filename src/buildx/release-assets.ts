// What a buildx release publishes, and which release a spec means; pure: the platform and file
// name of each release asset, checksums.txt, the version a tag names, the release a range or
// `latest` picks, and where release binaries are downloaded from by default.

import semver from 'semver';

import { rangeNamesPrerelease } from './spec.js';

export interface Release {
  tag: string;
  prerelease: boolean;
  draft?: boolean;
}

export interface Platform {
  os: string;
  arch: string;
}

/** buildx's name for this machine's architecture, as its release assets spell it. */
export function buildxArch(nodeArch: string = process.arch, armVersion?: string): string {
  switch (nodeArch) {
    case 'x64':
      return 'amd64';
    case 'arm64':
      return 'arm64';
    case 'arm':
      return (armVersion ?? armFromNode()) === '6' ? 'arm-v6' : 'arm-v7';
    case 'ppc64':
      return 'ppc64le';
    case 'riscv64':
      return 'riscv64';
    case 's390x':
      return 's390x';
    case 'ia32':
      return '386';
    default:
      throw new Error(`buildx publishes no release binary for the architecture "${nodeArch}"`);
  }
}

function armFromNode(): string | undefined {
  const vars = (process.config as { variables?: { arm_version?: string } }).variables;
  return vars?.arm_version;
}

export function buildxOs(platform: string = process.platform): string {
  switch (platform) {
    case 'linux':
    case 'darwin':
    case 'freebsd':
    case 'openbsd':
    case 'netbsd':
      return platform;
    case 'win32':
      return 'windows';
    default:
      throw new Error(`buildx publishes no release binary for the OS "${platform}"`);
  }
}

export function currentPlatform(): Platform {
  return { os: buildxOs(), arch: buildxArch() };
}

/** `buildx-v0.36.1.linux-amd64`, `buildx-v0.36.1.windows-arm64.exe` */
export function assetName(tag: string, p: Platform): string {
  return `buildx-${tag}.${p.os}-${p.arch}${p.os === 'windows' ? '.exe' : ''}`;
}

/** Parses `checksums.txt` (`<sha256> *<file>` or `<sha256>  <file>`) into file -> hash. */
export function parseChecksums(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const m = line.trim().match(/^([0-9a-fA-F]{64})\s+\*?(\S+)$/);
    if (m) map.set(m[2] as string, (m[1] as string).toLowerCase());
  }
  return map;
}

/** Normalises `sha256:<hex>` or `<hex>` (any case) to lower-case hex, or undefined. */
export function normaliseChecksum(value: string): string | undefined {
  const m = value.trim().match(/^(?:sha256:)?([0-9a-fA-F]{64})$/);
  return m ? (m[1] as string).toLowerCase() : undefined;
}

/** The semver of a release tag or a reported version (`v0.13.1`, `0.13.1+ds1` -> `0.13.1`). */
export function versionOf(tagOrVersion: string): string | undefined {
  const v =
    semver.valid(semver.clean(tagOrVersion) ?? '') ??
    semver.coerce(tagOrVersion, { includePrerelease: true })?.version;
  return v ?? undefined;
}

/**
 * The highest release a range or `latest` means: no drafts; pre-releases only when the range names
 * one (`latest` never picks one). `allowed` filters out what a policy forbids.
 */
export function pickRelease(
  releases: readonly Release[],
  want: { kind: 'latest' } | { kind: 'range'; range: string },
  allowed: (tag: string) => boolean = () => true,
): string | undefined {
  const includePrerelease = want.kind === 'range' && rangeNamesPrerelease(want.range);
  let best: { tag: string; version: string } | undefined;
  for (const r of releases) {
    if (r.draft) continue;
    const version = semver.valid(semver.clean(r.tag) ?? '');
    if (!version) continue;
    const pre = semver.prerelease(version) !== null;
    if (
      want.kind === 'latest'
        ? pre || r.prerelease
        : !semver.satisfies(version, want.range, { includePrerelease })
    )
      continue;
    if (!includePrerelease && (pre || r.prerelease)) continue;
    if (!allowed(r.tag)) continue;
    if (!best || semver.gt(version, best.version)) best = { tag: r.tag, version };
  }
  return best?.tag;
}

/** Where release binaries are downloaded from unless `buildx-mirror` says otherwise. */
export const DEFAULT_MIRROR = 'https://github.com/docker/buildx/releases/download';
