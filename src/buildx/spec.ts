// The forms of the `buildx-version` input, parsed once into a typed spec. Pure.

import semver from 'semver';

import { isLoopbackHost } from '../util/loopback.js';
import { InputError } from '../util/parse.js';

export type BuildxSpec =
  | { kind: 'runner' }
  | { kind: 'release'; tag: string }
  | { kind: 'range'; range: string }
  | { kind: 'latest' }
  | { kind: 'git'; url: string; ref: string; host: string }
  | { kind: 'url'; url: string }
  | { kind: 'path'; path: string };

export type BuildxSource = 'runner' | 'release' | 'git' | 'url' | 'path';

export const FORMS = [
  'empty (the runner\'s "docker buildx")',
  'a release: v0.36.1 or 0.36.1',
  'a semver range: ">=0.30.1 <0.37", ^0.36, 0.36.x, ~0.30.1',
  'latest',
  'a git ref to build: https://github.com/owner/buildx.git#branch, git@github.com:owner/buildx.git#ref, file:///path/buildx.git#ref',
  'an https URL of a binary (with buildx-checksum to verify it)',
  'a path: /abs/path/buildx or ./relative/to/workspace',
];

const VERSION_RE = /^v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)$/;
// A ref: a branch, tag, commit or refs/... path; never an option, never `..`.
const REF_RE = /^(?!-)(?!.*\.\.)(?!.*\/\/)[A-Za-z0-9._/+-]+$/;

function fail(value: string, why: string): never {
  throw new InputError('buildx-version', `"${value}" ${why}. Accepted forms: ${FORMS.join('; ')}`);
}

function gitSpec(value: string, url: string, ref: string): BuildxSpec {
  if (ref !== '' && !REF_RE.test(ref)) fail(value, `has "${ref}" after "#", which is not a git ref`);
  let host: string;
  const scp = url.match(/^[A-Za-z0-9._-]+@([A-Za-z0-9.-]+):(?!\/\/)[A-Za-z0-9._~/-]+$/);
  if (scp) {
    host = scp[1] as string;
  } else {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return fail(value, 'is not a git URL');
    }
    if (!['https:', 'http:', 'ssh:', 'git:', 'file:'].includes(parsed.protocol))
      fail(value, 'uses a scheme git URLs do not');
    if (parsed.username || parsed.password)
      fail(value, 'holds credentials; give them as github-token instead');
    if (parsed.protocol === 'http:' && !isLoopbackHost(parsed.hostname)) {
      fail(value, 'is plain http; use https');
    }
    if (/[\s;|&$`'"\\<>]/.test(decodeURIComponent(parsed.pathname)))
      fail(value, 'has characters a git URL does not');
    host = parsed.protocol === 'file:' ? '' : parsed.host;
  }
  return { kind: 'git', url, ref: ref === '' ? 'HEAD' : ref, host };
}

/** Parses `buildx-version`; throws an InputError naming the input and listing the accepted forms. */
export function parseBuildxSpec(input: string): BuildxSpec {
  const value = input.trim();
  if (value === '') return { kind: 'runner' };
  if (value.toLowerCase() === 'latest') return { kind: 'latest' };
  const version = value.match(VERSION_RE);
  if (version) return { kind: 'release', tag: `v${version[1]}` };
  if (value.startsWith('/') || value.startsWith('./') || value.startsWith('../'))
    return { kind: 'path', path: value };

  const hash = value.indexOf('#');
  const base = hash >= 0 ? value.slice(0, hash) : value;
  const ref = hash >= 0 ? value.slice(hash + 1) : '';
  const looksGit =
    /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:/.test(base) ||
    /^(ssh|git|file):\/\//.test(base) ||
    (/^https?:\/\//.test(base) && (/\.git\/?$/.test(base) || hash >= 0));
  if (looksGit) return gitSpec(value, base.replace(/\/$/, ''), ref);

  if (/^https?:\/\//.test(value)) {
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      return fail(value, 'is not a URL');
    }
    if (parsed.protocol === 'http:' && !isLoopbackHost(parsed.hostname))
      fail(value, 'is plain http; use https');
    if (parsed.username || parsed.password) fail(value, 'holds credentials');
    return { kind: 'url', url: value };
  }

  if (/^[0-9A-Za-z\s*^~<>=|.+-]+$/.test(value) && semver.validRange(value) !== null)
    return { kind: 'range', range: value };
  return fail(value, 'is not a buildx version, range, git ref, URL or path');
}

export function sourceOf(spec: BuildxSpec): BuildxSource {
  switch (spec.kind) {
    case 'release':
    case 'range':
    case 'latest':
      return 'release';
    default:
      return spec.kind;
  }
}

/** True when a range names a pre-release (so pre-releases may satisfy it). */
export function rangeNamesPrerelease(range: string): boolean {
  return /\d+\.\d+\.\d+-[0-9A-Za-z]/.test(range);
}

/** A buildx ready to run: how to spawn it and what it is. */
export interface Buildx {
  /** the executable spawned */
  file: string;
  /** arguments before buildx's own (`buildx` when run through the docker CLI) */
  prefix: string[];
  source: BuildxSource;
  /** the buildx binary itself, as far as it can be known */
  path: string;
}
