// The built-in database of known-bad buildx versions (advisories.json beside this file).

import semver from 'semver';

import { versionOf } from '../buildx/release-assets.js';
import data from './advisories.json' with { type: 'json' };

export interface Advisory {
  id: string;
  issue: string;
  url: string;
  /** semver range of affected versions, pre-releases included */
  affected: string;
  fixed: string | null;
  summary: string;
  /** what happens, in a few words (at most 60 characters): the line a report shows */
  short: string;
  /** the few words of the line it prints, as the classifier names it; null when nothing telling */
  signature: string | null;
  class: 'panic' | 'transient' | 'silent';
  retryHelps: boolean;
  severity: string;
  verified: boolean;
  sources: string[];
  note?: string;
}

export const ADVISORIES: readonly Advisory[] = (data as { advisories: Advisory[] }).advisories;

/**
 * Whether an advisory marks a version as known-bad before anything runs: crashes and wrong results
 * do; `flaky` ones (intermittent, absorbed by this action's retries and reduced concurrency) are
 * only named when a run actually fails their way.
 */
export function flagsVersion(a: Advisory): boolean {
  return a.severity !== 'flaky';
}

/** The advisories a version is affected by (`v0.30.0`, `0.30.0-rc1`, Debian's `0.13.1+ds1` all work). */
export function advisoriesFor(
  version: string,
  db: readonly Advisory[] = ADVISORIES,
  all = false,
): Advisory[] {
  const v = versionOf(version);
  if (!v) return [];
  return db.filter((a) => (all || flagsVersion(a)) && affects(a, v));
}

/** Whether an advisory's range holds a (clean) version, pre-releases included. */
function affects(a: Advisory, v: string): boolean {
  return semver.satisfies(v, a.affected, { includePrerelease: true });
}

/**
 * The release to advise moving to: the lowest stable one in `releases` (tags or versions) at or
 * above `atLeast` (the highest fix) that no advisory flags and none of `avoid` (issues already in
 * play, e.g. a known failure's, flaky or not) affects. Undefined when the list has none.
 */
export function lowestUnflagged(
  atLeast: string,
  releases: readonly string[],
  db: readonly Advisory[] = ADVISORIES,
  avoid: readonly string[] = [],
): string | undefined {
  const floor = versionOf(atLeast);
  if (!floor) return undefined;
  const bad = (v: string) => db.some((a) => (flagsVersion(a) || avoid.includes(a.issue)) && affects(a, v));
  return releases
    .map((t) => versionOf(t))
    .filter((v): v is string => !!v && semver.prerelease(v) === null && semver.gte(v, floor))
    .sort(semver.compare)
    .find((v) => !bad(v));
}

/** An advisory of this version whose signature is the one a failed attempt printed. */
export function advisoryForFailure(
  version: string,
  signature: string,
  db: readonly Advisory[] = ADVISORIES,
): Advisory | undefined {
  return advisoriesFor(version, db, true).find(
    (a) => a.signature !== null && signature.includes(a.signature),
  );
}

/** "buildx 0.30.0 is known to crash this way: docker/buildx#3503, fixed in 0.30.1" */
export function describeKnownFailure(version: string, a: Advisory): string {
  const how = a.class === 'panic' ? 'crash this way' : 'fail this way';
  return `buildx ${version} is known to ${how}: ${a.issue}${a.fixed ? `, fixed in ${a.fixed}` : ' (not fixed yet)'}`;
}

/** One line about an advisory affecting a version. */
export function describeAdvisory(version: string, a: Advisory): string {
  return `buildx ${version} is affected by ${a.issue}: ${a.summary}${a.fixed ? `; fixed in ${a.fixed}` : '; no fixed release yet'} (${a.url})`;
}
