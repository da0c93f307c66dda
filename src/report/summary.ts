// What the step says, as pure builders: the Markdown job summary, read top-down (what happened,
// the index, what to do, the tags, what ran, buildx and the policy, then the collapsed output),
// and the words of the final annotation (a failure, or a recovery), the things to do first.
// report/publish.ts writes them; summary-*.ts build the parts.

import { DRY_RUN_INVOCATION, type MergeResult } from '../merge/engine.js';
import { formatDuration } from '../util/parse.js';
import { type BuildxInfo, countAttempts, type PolicyInfo } from './report.js';
import { buildxTable, policyLines } from './summary-buildx.js';
import { headline, indexLine, type KnownFailure, toDo, toDoMarkdown, toDoText } from './summary-head.js';
import { attemptsTable, contentLine, putLine, ranLine } from './summary-ran.js';
import { tagTable } from './summary-tags.js';
import { absorbed, clip, esc, FAILED, plural, putSignature } from './words.js';

/** The job summary stays well under GitHub's 1 MiB limit, whatever buildx printed. */
export const SUMMARY_MAX_BYTES = 512 * 1024;

export interface Annotation {
  title: string;
  message: string;
}

/**
 * What became of the first push when the --dry-run failed while it ran alongside (empty when no
 * push ran that way): the run failed before the expected digest was known, yet buildx pushed.
 */
export function alongsideNote(r: MergeResult): string {
  if (r.ok || r.digest !== undefined) return '';
  const push = r.attempts.find((a) => a.invocation !== DRY_RUN_INVOCATION);
  if (!push) return '';
  const what = `The first push (${clip(push.tags.join(', '), 300)}) ran alongside the --dry-run and`;
  return push.ok
    ? `${what} succeeded: pushed, but not verified, as the expected digest is unknown.`
    : `${what} failed: ${push.class} (${push.signature}).`;
}

/** What the failure says happened, without its advice (said first, as a thing to do). */
function whatFailed(r: MergeResult): string {
  const f = r.failure;
  if (!f) return '';
  const { message, advice } = f;
  return advice && message.endsWith(advice) ? message.slice(0, -advice.length).trimEnd() : message;
}

/**
 * The one error annotation of a failed run: the class and signature in the title; in the message
 * what to do first, then what failed and on which tags, the output line that proves it, what was
 * tried. Never anything of a goroutine dump but its one telling line.
 */
export function failureAnnotation(r: MergeResult, dryRun: boolean, known?: KnownFailure): Annotation {
  const f = r.failure;
  const n = countAttempts(r, dryRun);
  const tries = n === 0 ? 'before any push' : plural(n, 'attempt');
  const cls = FAILED[f?.class ?? 'unknown'] ?? 'failed';
  const title = clip(`${cls}: ${f?.signature ?? 'unknown'} (${tries})`, 120);
  const parts = [...toDo(r, known).map((t) => clip(toDoText(t), 600)), clip(whatFailed(r) || 'failed', 600)];
  const alongside = alongsideNote(r);
  if (alongside) parts.push(alongside);
  if (f && f.tags.length > 0) parts.push(`Not pushed: ${clip(f.tags.join(', '), 500)}.`);
  if (f?.line) parts.push(`buildx said: ${clip(f.line, 300)}`);
  if (r.attempts.filter((a) => !a.ok).length > 1) {
    // the summary's counts: the --dry-run is not an attempt
    const waited = r.attempts.reduce((t, a) => t + a.waitMs, 0);
    const dry = r.attempts.filter((a) => a.invocation === DRY_RUN_INVOCATION).length;
    const ran = `Ran ${plural(dry, '--dry-run')} and ${plural(r.attempts.length - dry, 'push attempt')}`;
    parts.push(`${ran}, waiting ${formatDuration(waited)} in all: ${absorbed(r)}.`);
  }
  return { title, message: parts.join('\n') };
}

/** The one warning annotation of a run that succeeded only after retries: what to do first, if anything. */
export function recoveryAnnotation(r: MergeResult, known?: KnownFailure): Annotation {
  const failures = r.attempts.filter((a) => !a.ok);
  const putRetries = r.puts?.retries ?? [];
  const classes = [
    ...new Set([...failures.map((a) => a.class), ...putRetries.map((p) => `manifest PUT ${p.class}`)]),
  ].join(', ');
  const sig =
    failures.find((a) => a.class === 'panic')?.signature ??
    failures[0]?.signature ??
    (putRetries[0] ? `manifest PUT ${putSignature(putRetries[0].answer)}` : '');
  const pushes = r.attempts.filter((a) => a.invocation !== DRY_RUN_INVOCATION).length;
  const title = clip(`recovered from ${classes}: ${sig} (${plural(pushes, 'attempt')})`, 120);
  const message = [
    ...toDo(r, known).map(toDoText),
    `Pushed ${plural(r.tags.length, 'tag')} holding ${r.digest}, every one verified, after absorbing ${absorbed(r)}.`,
    ...(r.repositories?.some((c) => c.content === 'after-failure') ? [contentLine(r)!] : []),
  ].join('\n');
  return { title, message };
}

/** Everything above the collapsed output, as Markdown blocks (paragraphs and tables). */
function blocks(
  r: MergeResult,
  buildx: BuildxInfo,
  dryRun: boolean,
  policy?: PolicyInfo,
  known?: KnownFailure,
): string[] {
  const out: string[] = [`### safe-imagetools: ${esc(headline(r, dryRun))}`];
  const index = indexLine(r);
  if (index) out.push(index);
  out.push(...toDo(r, known, policy, buildx.version).map(toDoMarkdown));
  // the digest is on the index line: here it is "the index"
  const said = [whatFailed(r), alongsideNote(r)].filter(Boolean).join(' ');
  if (said) out.push(esc(r.digest ? said.replaceAll(r.digest, 'the index') : said));
  const tags = tagTable(r);
  if (tags.length > 0) out.push(tags.join('\n'));
  out.push(ranLine(r));
  const attempts = attemptsTable(r);
  if (attempts.length > 0) out.push(attempts.join('\n'));
  const puts = putLine(r);
  if (puts) out.push(puts);
  out.push(buildxTable(buildx).join('\n'));
  if (policy) out.push(policyLines(policy).join('\n'));
  return out;
}

/** `2`, `2 and 3`, `2, 3 and 4`. */
const listed = (ns: number[]): string =>
  ns.length === 1 ? String(ns[0]) : `${ns.slice(0, -1).join(', ')} and ${ns[ns.length - 1]}`;

/** The failed attempts with telling lines, grouped by identical lines (a crash repeated prints one block). */
function tailGroups(
  r: MergeResult,
): { numbers: number[]; head: string; tail: string; plain: [string, string] }[] {
  const groups = new Map<
    string,
    { numbers: number[]; head: string; tail: string; plain: [string, string] }
  >();
  for (const a of r.attempts) {
    if (a.ok || !a.tail || a.tail.length === 0) continue;
    const tail = a.tail
      .slice(-50)
      .map((l) => clip(l, 300))
      .join('\n')
      .replace(/```/g, "'''");
    const head = `${a.class === 'panic' ? 'The crash' : 'Last lines'}`;
    const why = `${a.class}: ${esc(a.signature ?? '')}`;
    const key = `${why}\n${tail}`;
    const plain: [string, string] = [head, `${a.class}: ${a.signature ?? ''}`];
    const g = groups.get(key) ?? { numbers: [], head: `${head}|${why}`, tail, plain };
    g.numbers.push(a.number);
    groups.set(key, g);
  }
  return [...groups.values()];
}

/** The telling lines of each failed attempt as plain text, for a log that shows no summary. Pure. */
export function tellingLines(r: MergeResult): string[] {
  return tailGroups(r).flatMap((g) => {
    const [head, why] = g.plain;
    const which = g.numbers.length === 1 ? `attempt ${g.numbers[0]}` : `attempts ${listed(g.numbers)}`;
    return [`${head} of ${which} (${why}):`, ...g.tail.split('\n').map((l) => `  ${l}`)];
  });
}

/**
 * The telling lines of each failed attempt, collapsed; attempts that printed the same lines share
 * one block. Newest first while they fit in `room` bytes.
 */
function details(r: MergeResult, room: number): string {
  const shown: string[] = [];
  let used = 0;
  let skipped = 0;
  const groups = tailGroups(r).sort((x, y) => y.numbers.at(-1)! - x.numbers.at(-1)!);
  for (const g of groups) {
    const [head, why] = g.head.split('|') as [string, string];
    const which =
      g.numbers.length === 1
        ? `attempt ${g.numbers[0]}`
        : `attempts ${listed(g.numbers)}, the same lines each time`;
    const block =
      `\n<details><summary>${head} of ${which} (${why})</summary>\n\n` +
      `\`\`\`\n${g.tail}\n\`\`\`\n\n</details>\n`;
    const size = Buffer.byteLength(block);
    if (used + size > room) {
      skipped += g.numbers.length;
      continue;
    }
    used += size;
    shown.unshift(block);
  }
  const more =
    skipped > 0 ? `\n(${plural(skipped, 'more failed attempt')} not shown here; the log has them.)\n` : '';
  return shown.join('') + more;
}

/** The Markdown job summary, bounded by SUMMARY_MAX_BYTES whatever the child printed. */
export function summaryMarkdown(
  r: MergeResult,
  buildx: BuildxInfo,
  dryRun: boolean,
  policy?: PolicyInfo,
  known?: KnownFailure,
): string {
  let text = `${blocks(r, buildx, dryRun, policy, known).join('\n\n')}\n`;
  text += details(r, SUMMARY_MAX_BYTES - 1024 - Buffer.byteLength(text));
  if (Buffer.byteLength(text) > SUMMARY_MAX_BYTES) {
    text = `${Buffer.from(text)
      .subarray(0, SUMMARY_MAX_BYTES - 200)
      .toString('utf8')}\n\n(summary cut at ${SUMMARY_MAX_BYTES} bytes)\n`;
  }
  return text;
}
