// The top of the job summary, as pure builders: the heading (what happened, in one short line),
// the index digest (the one place it is printed), and what to do when something needs doing. The
// final annotation (report/summary.ts) puts the same things to do first.

import semver from 'semver';

import knownReleases from '../install/known-releases.json' with { type: 'json' };
import type { MergeResult } from '../merge/engine.js';
import { ADVISORIES, lowestUnflagged } from '../policy/advisories.js';
import { countAttempts, type PolicyFinding, type PolicyInfo } from './report.js';
import { esc, FAILED, failedBriefly, plural } from './words.js';

/** An advisory of the running buildx whose signature a failed attempt printed. */
export interface KnownFailure {
  /** the version that ran, as it reports itself */
  version: string;
  /** crashes (a Go panic) or fails otherwise */
  crash: boolean;
  issue: string;
  url: string;
  fixed: string | null;
}

/** The one-line heading: what happened, without the digest. */
export function headline(r: MergeResult, dryRun: boolean): string {
  if (!r.ok) {
    const f = r.failure;
    if (f?.class === 'verify') {
      return `Failed: ${f.tags.length} of ${plural(r.tags.length, 'tag')} do not hold the index`;
    }
    const when = !dryRun && countAttempts(r, false) === 0 ? ' before any push' : '';
    return `Failed${when}: ${FAILED[f?.class ?? 'unknown'] ?? 'failed'} (${f?.signature ?? 'unknown'})`;
  }
  if (dryRun) return 'Dry run: nothing pushed';
  const n = r.tags.length;
  const already = r.tags.filter((t) => t.state === 'already').length;
  if (already === n) return `Nothing pushed: ${plural(n, 'tag')} already held the index`;
  const what =
    already === 0
      ? `Pushed ${plural(n, 'tag')}`
      : `Pushed ${n - already} of ${plural(n, 'tag')} (${already} already held the index)`;
  const read = r.tags.every((t) => t.verified) ? 'every one verified' : 'not read back (verify: false)';
  return `${what}, ${read}${r.recovered ? `, after ${failedBriefly(r)}` : ''}`;
}

/** The index digest, printed once, and the annotations checked in it. */
export function indexLine(r: MergeResult): string | undefined {
  if (!r.digest) return undefined;
  const what = r.ok ? 'Index' : 'Expected index';
  const kept = r.annotations ? `, with the ${plural(r.annotations, 'annotation')} asked for` : '';
  return `${what} \`${r.digest}\`${kept}`;
}

/** Something to do: the action first (one sentence), then why. */
export interface ToDo {
  action: string;
  why?: string;
  /** an issue named in `why`, linked in Markdown */
  link?: { text: string; url: string };
}

const BY_CLASS: Record<string, ToDo> = {
  panic: {
    action: 'Pin a buildx release without this crash (buildx-version), or allow more attempts (max-attempts)',
  },
  transient: {
    action: "Check the registry's status, or allow more attempts (max-attempts) and a longer retry-max-delay",
    why: 'The registry kept failing',
  },
  timeout: {
    action: 'Check the registry, or raise buildx-idle-timeout or buildx-timeout',
    why: 'buildx went silent or ran too long',
  },
  verify: {
    action:
      'Check what else writes these tags, or raise lag-timeout if the registry is slow to show its writes',
  },
};

const RELEASES = (knownReleases as { releases: { tag: string }[] }).releases.map((r) => r.tag);

/**
 * The release to advise: the lowest known one past every fix a known failure or a flagged advisory
 * names that no advisory flags and none of theirs affects (the highest fix itself may be flagged by
 * another), else the highest fix; undefined when none names a fix.
 */
function target(known: KnownFailure | undefined, flagged: PolicyFinding[]): string | undefined {
  const fixes = [known?.fixed, ...flagged.map((f) => f.advisory?.fixed)].filter(
    (v): v is string => typeof v === 'string' && semver.valid(v) !== null,
  );
  const highest = fixes.sort(semver.rcompare)[0];
  if (!highest) return undefined;
  const issues = [known?.issue, ...flagged.map((f) => f.advisory?.issue)].filter((i): i is string => !!i);
  return lowestUnflagged(highest, RELEASES, ADVISORIES, issues) ?? highest;
}

/** The newer buildx to use, and why. */
function upgrade(version: string, known?: KnownFailure, flagged: PolicyFinding[] = []): ToDo | undefined {
  const others = flagged.filter((f) => f.advisory?.issue !== known?.issue).length;
  const more = others > 0 ? `; ${plural(others, 'more known issue')} below` : '';
  const why = known
    ? `buildx ${known.version} is known to ${known.crash ? 'crash' : 'fail'} this way: ${known.issue}${more}`
    : `buildx ${version} has ${plural(others, 'known issue')}, listed below`;
  const link = known ? { text: known.issue, url: known.url } : undefined;
  if (known && !known.fixed) {
    return { action: 'Use a buildx release this does not affect (buildx-version)', why, link };
  }
  const to = target(known, flagged);
  if (!to) return undefined;
  return { action: `Use buildx ${to} or later (buildx-version)`, why, ...(link ? { link } : {}) };
}

/**
 * What to do, most pressing first: the fix of a known failure, what the failure itself asks for
 * (its advice, else by class), then a newer buildx when the policy flagged the running one.
 */
export function toDo(r: MergeResult, known?: KnownFailure, policy?: PolicyInfo, version = ''): ToDo[] {
  const flagged = (policy?.findings ?? []).filter((f) => f.advisory);
  const out: ToDo[] = [];
  const up = known || flagged.length > 0 ? upgrade(known?.version ?? version, known, flagged) : undefined;
  if (up && known) out.push(up);
  const f = r.failure;
  if (f?.advice) out.push({ action: f.advice.replace(/\.$/, '') });
  else if (f && !(known && f.class === 'panic') && BY_CLASS[f.class]) out.push(BY_CLASS[f.class]!);
  if (up && !known) out.push(up);
  return out;
}

/** A thing to do in an annotation: plain text. */
export const toDoText = (t: ToDo): string => `${t.action}.${t.why ? ` ${t.why}.` : ''}`;

/** A thing to do in the summary: the action in bold, the issue linked. */
export function toDoMarkdown(t: ToDo): string {
  let why = t.why ? ` ${esc(t.why)}.` : '';
  if (t.link) why = why.replace(esc(t.link.text), `[${esc(t.link.text)}](${t.link.url})`);
  return `**${esc(t.action)}.**${why}`;
}
