// Evaluates a policy, purely, at its three moments:
//   1. on the spec, before anything is downloaded or built (pin style, source, git repository,
//      explicit versions, checksum);
//   2. during resolution: which releases a range or `latest` may pick;
//   3. on what actually runs: the version `buildx version` reports.

import semver from 'semver';

import { versionOf } from '../buildx/release-assets.js';
import type { BuildxSpec } from '../buildx/spec.js';
import { sourceOf } from '../buildx/spec.js';
import { type Advisory, ADVISORIES, advisoriesFor, describeAdvisory } from './advisories.js';
import { normaliseRepo, type Policy } from '../inputs/policy-file.js';
import { FIRST_SIGNED } from '../buildx/signing.js';

export type Rule =
  'versions' | 'deny' | 'pin' | 'sources' | 'git-repos' | 'checksum' | 'signature' | 'advisory';

export interface Finding {
  rule: Rule;
  /** error: the step stops before any push; warning: reported, the step goes on */
  severity: 'error' | 'warning';
  message: string;
  /** the input whose workflow line the annotation goes on */
  input: 'buildx-version' | 'policy' | 'buildx-checksum';
  advisory?: Advisory;
  /**
   * What the finding is about, the same whichever moment found it: the rule, what it matched (an
   * advisory's id, a deny range) and the version it judged (`advisory:buildx-2232@0.13.1`).
   */
  key: string;
}

const sat = (version: string, range: string): boolean =>
  semver.satisfies(version, range, { includePrerelease: true });

function finding(
  policy: Policy,
  rule: Rule,
  message: string,
  input: Finding['input'] = 'buildx-version',
  key: string = rule,
): Finding {
  return { rule, severity: policy.mode === 'enforce' ? 'error' : 'warning', message, input, key };
}

function advisoryFindings(policy: Policy, version: string, db: readonly Advisory[]): Finding[] {
  if (policy.advisories === 'off') return [];
  const v = versionOf(version);
  return advisoriesFor(version, db).map((a) => ({
    rule: 'advisory' as const,
    severity: policy.advisories === 'enforce' ? ('error' as const) : ('warning' as const),
    message: describeAdvisory(version, a),
    input: 'buildx-version' as const,
    advisory: a,
    key: `advisory:${a.id}@${v}`,
  }));
}

/** The version rules (versions, deny, advisories) on one version. */
export function checkVersion(
  policy: Policy,
  version: string,
  what: string,
  db: readonly Advisory[] = ADVISORIES,
): Finding[] {
  const v = versionOf(version);
  if (!v) return [];
  const out: Finding[] = [];
  if (policy.versions && !sat(v, policy.versions)) {
    out.push(
      finding(
        policy,
        'versions',
        `${what} ${version} is outside the allowed versions "${policy.versions}" (${policy.origin})`,
        'buildx-version',
        `versions@${v}`,
      ),
    );
  }
  const denied = policy.deny.find((d) => sat(v, d));
  if (denied) {
    const message = `${what} ${version} is denied by "${denied}" (${policy.origin})`;
    out.push(finding(policy, 'deny', message, 'buildx-version', `deny:${denied}@${v}`));
  }
  return [...out, ...advisoryFindings(policy, version, db)];
}

/** How exactly a spec pins buildx. */
export function pinOf(spec: BuildxSpec, checksum: boolean): 'exact' | 'range' | 'floating' {
  switch (spec.kind) {
    case 'release':
      return 'exact';
    case 'range':
      return 'range';
    case 'git':
      return /^[0-9a-f]{40}$/.test(spec.ref) ? 'exact' : 'range';
    case 'url':
    case 'path':
      return checksum ? 'exact' : 'range';
    default:
      return 'floating'; // latest, the runner's
  }
}

/** 1. Before anything is downloaded or built. */
export function checkSpec(
  policy: Policy,
  spec: BuildxSpec,
  checksumGiven: boolean,
  db: readonly Advisory[] = ADVISORIES,
): Finding[] {
  const out: Finding[] = [];
  const source = sourceOf(spec);
  const pin = pinOf(spec, checksumGiven);
  if (policy.pin === 'exact' && pin !== 'exact') {
    out.push(
      finding(
        policy,
        'pin',
        `buildx-version must pin an exact version (pin: exact in ${policy.origin}): give a release like v0.36.1, a full git commit, or a URL or path with buildx-checksum`,
      ),
    );
  } else if (policy.pin === 'range' && pin === 'floating') {
    out.push(
      finding(
        policy,
        'pin',
        `buildx-version must pin at least a range (pin: range in ${policy.origin}), not ${spec.kind === 'latest' ? 'latest' : "the runner's buildx"}`,
      ),
    );
  }
  if (policy.sources && !policy.sources.includes(source)) {
    out.push(
      finding(
        policy,
        'sources',
        `buildx from "${source}" is not allowed: sources are ${policy.sources.join(', ')} (${policy.origin})`,
      ),
    );
  }
  if (spec.kind === 'git' && policy.gitRepos) {
    const repo = normaliseRepo(spec.url);
    if (!policy.gitRepos.includes(repo)) {
      out.push(
        finding(
          policy,
          'git-repos',
          `git repository ${repo} is not allowed: git-repos are ${policy.gitRepos.join(', ')} (${policy.origin})`,
        ),
      );
    }
  }
  if (policy.checksum === 'required' && spec.kind === 'url' && !checksumGiven) {
    out.push(
      finding(
        policy,
        'checksum',
        `a URL install needs buildx-checksum (checksum: required in ${policy.origin})`,
        'buildx-checksum',
      ),
    );
  }
  const unsigned = policy.signature === 'required' ? unsignable(spec) : undefined;
  if (unsigned) {
    const message = `${unsigned} has no Sigstore signature to check (signature: required in ${policy.origin}): use a release from v${FIRST_SIGNED} on, by version, range or latest`;
    out.push(finding(policy, 'signature', message));
  }
  if (spec.kind === 'release') out.push(...checkVersion(policy, spec.tag, 'buildx', db));
  return out;
}

/** What a spec installs that no Sigstore bundle can prove, if it does: a git build, a URL, a path, an old release. Pure. */
export function unsignable(spec: BuildxSpec): string | undefined {
  if (spec.kind === 'runner') return "the runner's buildx";
  if (spec.kind === 'git') return 'a buildx built from git';
  if (spec.kind === 'url') return 'a buildx downloaded from a URL';
  if (spec.kind === 'path') return 'a buildx from a path';
  if (spec.kind === 'release' && semver.lt(versionOf(spec.tag) ?? '0.0.0', FIRST_SIGNED))
    return `buildx ${spec.tag} (releases are signed from v${FIRST_SIGNED} on)`;
  return undefined;
}

/**
 * 2. Which releases a range or `latest` may pick: allowed by `versions` and `deny`, and not
 * known-bad unless advisories are off.
 */
export function allowedRelease(
  policy: Policy,
  db: readonly Advisory[] = ADVISORIES,
): (tag: string) => boolean {
  return (tag) => {
    const v = versionOf(tag);
    if (!v) return false;
    if (policy.versions && !sat(v, policy.versions)) return false;
    if (policy.deny.some((d) => sat(v, d))) return false;
    if (policy.advisories !== 'off' && advisoriesFor(v, db).length > 0) return false;
    if (policy.signature === 'required' && semver.lt(v, FIRST_SIGNED)) return false;
    return true;
  };
}

/**
 * 3. On what actually runs. Git builds report a ref, not a version: version rules skip them. What
 * the spec check already found (`found`) is not found again: `buildx-version: v0.13.1` running a
 * binary that reports `0.13.1+ds1` is one version, each of its advisories one finding.
 */
export function checkActual(
  policy: Policy,
  reportedVersion: string,
  source: string,
  db: readonly Advisory[] = ADVISORIES,
  found: readonly Finding[] = [],
): Finding[] {
  if (source === 'git') return [];
  const what = source === 'runner' ? "the runner's buildx" : 'buildx';
  const known = new Set(found.map((f) => f.key));
  return checkVersion(policy, reportedVersion, what, db).filter((f) => !known.has(f.key));
}

/**
 * Whether a finding on the version `buildx version` reports can stop the step: a `versions` or
 * `deny` rule under mode enforce, or advisories: enforce. When none can, the check of what runs
 * may go alongside the --dry-run: its findings are warnings whatever the version.
 */
export function versionCanStop(policy: Policy): boolean {
  const rules = policy.versions !== undefined || policy.deny.length > 0;
  return (policy.mode === 'enforce' && rules) || policy.advisories === 'enforce';
}

/** True when any finding stops the step. */
export function blocking(findings: readonly Finding[]): boolean {
  return findings.some((f) => f.severity === 'error');
}
