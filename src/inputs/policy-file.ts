// The version-pin policy: read from a file in the workspace (YAML or JSON) or inline YAML, checked
// key by key with positions, so that every mistake is reported with the file and line.

import { readFileSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';

import semver from 'semver';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type YAMLMap } from 'yaml';

import type { BuildxSource } from '../buildx/spec.js';

export type Mode = 'enforce' | 'warn';
export type Pin = 'exact' | 'range' | 'any';
export type AdvisoryMode = 'enforce' | 'warn' | 'off';

export interface Policy {
  mode: Mode;
  /** a semver range every resolved version must satisfy */
  versions?: string;
  /** versions or ranges never allowed */
  deny: string[];
  pin: Pin;
  /** allowed sources; undefined = all */
  sources?: BuildxSource[];
  /** allowed git repositories as `host/owner/name`; undefined = any */
  gitRepos?: string[];
  checksum: 'required' | 'optional';
  advisories: AdvisoryMode;
  /** Sigstore signatures of releases: required (only signed releases), optional (verified when there), off */
  signature: 'required' | 'optional' | 'off';
  /** where it came from: a workspace-relative path, `inline`, or `default` */
  origin: string;
}

/** No policy at all: advisories warn, everything else allowed. */
export const DEFAULT_POLICY: Policy = {
  mode: 'warn',
  deny: [],
  pin: 'any',
  checksum: 'optional',
  advisories: 'warn',
  signature: 'optional',
  origin: 'default',
};

export class PolicyError extends Error {
  constructor(
    readonly origin: string,
    readonly line: number | undefined,
    message: string,
  ) {
    super(`Input "policy": ${origin}${line ? `, line ${line}` : ''}: ${message}`);
    this.name = 'PolicyError';
  }
}

const SOURCES: readonly BuildxSource[] = ['runner', 'release', 'git', 'url', 'path'];
const TOP_KEYS = ['mode', 'buildx'];
const BUILDX_KEYS = [
  'versions',
  'deny',
  'pin',
  'sources',
  'git-repos',
  'checksum',
  'advisories',
  'signature',
];

/** `https://github.com/Owner/buildx.git`, `git@github.com:owner/buildx`, `github.com/owner/buildx` -> `github.com/owner/buildx` */
export function normaliseRepo(url: string): string {
  let s = url.trim().replace(/#.*$/, '');
  const scp = s.match(/^[^@/]+@([^:]+):(.+)$/);
  if (scp) s = `${scp[1]}/${scp[2]}`;
  s = s.replace(/^[a-z+]+:\/\//i, '').replace(/^[^@/]+@/, '');
  return s
    .replace(/\.git\/?$/, '')
    .replace(/\/+$/, '')
    .toLowerCase();
}

function isRangeOk(range: string): boolean {
  return semver.validRange(range, { includePrerelease: true }) !== null;
}

/** The checks on a policy's nodes, each failing with the node's line. */
class Reader {
  constructor(
    private readonly origin: string,
    private readonly lc: LineCounter,
  ) {}

  lineOf(node: Node | null | undefined): number | undefined {
    return node?.range ? this.lc.linePos(node.range[0]).line : undefined;
  }

  fail(node: unknown, message: string): never {
    throw new PolicyError(this.origin, this.lineOf(node as Node), message);
  }

  str(node: unknown, key: string): string {
    if (!isScalar(node) || typeof node.value !== 'string') return this.fail(node, `${key} must be a string`);
    return node.value;
  }

  strList(node: unknown, key: string): { value: string; node: Node }[] {
    if (isScalar(node) && typeof node.value === 'string') return [{ value: node.value, node }];
    if (!isSeq(node)) return this.fail(node, `${key} must be a list of strings`);
    return node.items.map((item) => ({ value: this.str(item, key), node: item as Node }));
  }

  oneOf<T extends string>(node: unknown, key: string, allowed: readonly T[]): T {
    const v = this.str(node, key);
    if (!(allowed as readonly string[]).includes(v))
      this.fail(node, `${key} must be one of ${allowed.join(', ')}, not "${v}"`);
    return v as T;
  }
}

/**
 * Parses a policy's text. `origin` names it in errors (a path or `inline`). Throws PolicyError with
 * the line of the offending key or value.
 */
export function parsePolicy(text: string, origin: string): Policy {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new PolicyError(
      origin,
      lc.linePos(e.pos[0]).line,
      `not valid YAML or JSON: ${e.message.split('\n')[0]}`,
    );
  }
  const r = new Reader(origin, lc);
  const root = doc.contents;
  if (!isMap(root)) return r.fail(root, 'expected a mapping with mode: and buildx:');

  const policy: Policy = { ...DEFAULT_POLICY, mode: 'enforce', deny: [], origin };
  for (const pair of (root as YAMLMap).items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    if (!TOP_KEYS.includes(key)) r.fail(pair.key, `unknown key "${key}" (expected ${TOP_KEYS.join(', ')})`);
    if (key === 'mode') policy.mode = r.oneOf(pair.value, 'mode', ['enforce', 'warn'] as const);
    if (key === 'buildx') {
      if (!isMap(pair.value)) r.fail(pair.value ?? pair.key, 'buildx must be a mapping');
      for (const p of (pair.value as YAMLMap).items) {
        const k = isScalar(p.key) ? String(p.key.value) : '';
        buildxKey(r, policy, k, p.key as Node, p.value as Node);
      }
    }
  }
  return policy;
}

/** One key under `buildx:`, checked and set on the policy. */
function buildxKey(r: Reader, policy: Policy, k: string, key: Node, v: Node): void {
  switch (k) {
    case 'versions': {
      const range = r.str(v, 'buildx.versions');
      if (!isRangeOk(range)) r.fail(v, `buildx.versions "${range}" is not a semver range`);
      policy.versions = range;
      break;
    }
    case 'deny':
      for (const d of r.strList(v, 'buildx.deny')) {
        if (!isRangeOk(d.value)) r.fail(d.node, `buildx.deny "${d.value}" is not a version or semver range`);
        policy.deny.push(d.value);
      }
      break;
    case 'pin':
      policy.pin = r.oneOf(v, 'buildx.pin', ['exact', 'range', 'any'] as const);
      break;
    case 'sources':
      policy.sources = r.strList(v, 'buildx.sources').map((s) => {
        if (!(SOURCES as readonly string[]).includes(s.value)) {
          r.fail(s.node, `buildx.sources: "${s.value}" is not one of ${SOURCES.join(', ')}`);
        }
        return s.value as BuildxSource;
      });
      break;
    case 'git-repos':
      policy.gitRepos = r.strList(v, 'buildx.git-repos').map((s) => normaliseRepo(s.value));
      break;
    case 'checksum':
      policy.checksum = r.oneOf(v, 'buildx.checksum', ['required', 'optional'] as const);
      break;
    case 'advisories':
      policy.advisories = r.oneOf(v, 'buildx.advisories', ['enforce', 'warn', 'off'] as const);
      break;
    case 'signature':
      policy.signature = r.oneOf(v, 'buildx.signature', ['required', 'optional', 'off'] as const);
      break;
    default:
      r.fail(key, `unknown key "buildx.${k}" (expected ${BUILDX_KEYS.join(', ')})`);
  }
}

/**
 * Reads the `policy` input: empty for the default, a path relative to the workspace (YAML or
 * JSON), or inline YAML (anything with a newline or a `key:`).
 */
export function loadPolicy(input: string, workspace: string): Policy {
  const value = input.trim();
  if (value === '') return DEFAULT_POLICY;
  const inline = value.includes('\n') || /^[\w-]+\s*:(\s|$)/.test(value) || value.startsWith('{');
  if (inline) return parsePolicy(value, 'policy (inline)');
  const path = isAbsolute(value) ? value : resolve(workspace, value);
  const shown = isAbsolute(value) ? value : relative(workspace, path) || value;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new PolicyError(
      shown,
      undefined,
      `cannot read the policy file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  return parsePolicy(text, shown);
}
