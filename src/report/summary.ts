// What the step says, as pure builders: the Markdown job summary and the words of the final
// annotation (a failure, or a recovery). report/publish.ts writes them.

import type { AttemptRecord, MergeResult } from '../merge/engine.js';
import { formatDuration } from '../util/parse.js';
import { type BuildxInfo, countAttempts, type PolicyInfo } from './report.js';

const esc = (s: string): string => s.replace(/[|\\`*_<>[\]]/g, (c) => `\\${c}`).replace(/\r?\n/g, ' ');
const clip = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n - 3)}...` : s);
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The job summary stays well under GitHub's 1 MiB limit, whatever buildx printed. */
export const SUMMARY_MAX_BYTES = 512 * 1024;

export interface Annotation {
  title: string;
  message: string;
}

const HEADLINE: Record<string, string> = {
  panic: 'buildx crashed',
  transient: 'registry or network error',
  permanent: 'permanent error',
  timeout: 'buildx hung',
  unknown: 'buildx failed',
  verify: 'verification failed',
  oracle: 'buildx failed',
};

/** A retried manifest PUT's signature: the status and reason, or the network error's code. */
export function putSignature(answer: string): string {
  return (
    /: (\d{3}(?: [A-Za-z][\w -]*)?)/.exec(answer)?.[1]?.trim() ??
    /\b(E[A-Z]+)\b/.exec(answer)?.[1] ??
    'failed'
  );
}

function absorbed(r: MergeResult): string {
  const counts = new Map<string, number>();
  for (const a of r.attempts) {
    if (a.ok) continue;
    const key = `${a.class} (${a.signature})`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  for (const p of r.puts?.retries ?? []) {
    const key = `manifest PUT ${p.class} (${putSignature(p.answer)})`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${n} × ${k}`).join(', ');
}

/**
 * What became of the first push when the --dry-run failed while it ran alongside (empty when no
 * push ran that way): the run failed before the expected digest was known, yet buildx pushed.
 */
export function alongsideNote(r: MergeResult): string {
  if (r.ok || r.digest !== undefined) return '';
  const push = r.attempts.find((a) => a.invocation !== 'oracle');
  if (!push) return '';
  const what = `The first push (${clip(push.tags.join(', '), 300)}) ran alongside the --dry-run and`;
  return push.ok
    ? `${what} succeeded: pushed, but not verified, as the expected digest is unknown.`
    : `${what} failed: ${push.class} (${push.signature}).`;
}

/**
 * The one error annotation of a failed run: the class and signature in the title; in the message
 * what failed and on which tags, the output line that proves it, what was tried, what to do.
 * Never anything of a goroutine dump but its one telling line.
 */
export function failureAnnotation(r: MergeResult, dryRun: boolean, known?: string): Annotation {
  const f = r.failure;
  const n = countAttempts(r, dryRun);
  const cls = f?.class ?? 'unknown';
  const tries = n === 0 ? 'before any push' : plural(n, 'attempt');
  const title = clip(`${HEADLINE[cls] ?? 'failed'}: ${f?.signature ?? 'unknown'} (${tries})`, 120);
  const parts = [f?.message ?? 'failed'];
  const alongside = alongsideNote(r);
  if (alongside) parts.push(alongside);
  if (f && f.tags.length > 0) parts.push(`Not pushed: ${clip(f.tags.join(', '), 500)}.`);
  if (f?.line) parts.push(`buildx said: ${clip(f.line, 300)}`);
  const failures = r.attempts.filter((a) => !a.ok);
  if (failures.length > 1) {
    const waited = r.attempts.reduce((t, a) => t + a.waitMs, 0);
    parts.push(
      `Tried ${plural(r.attempts.length, 'buildx invocation')}, waiting ${formatDuration(waited)} in all: ${absorbed(r)}.`,
    );
  }
  if (known) parts.push(`${known}.`);
  else if (cls === 'panic') {
    parts.push(
      'Pin a buildx release without this crash (buildx-version), or allow more attempts (max-attempts).',
    );
  } else if (cls === 'transient') {
    parts.push(
      'The registry kept failing: check its status, or allow more attempts and a longer retry-max-delay.',
    );
  } else if (cls === 'timeout') {
    parts.push(
      'buildx went silent or ran too long: check the registry, or raise idle-timeout / attempt-timeout.',
    );
  }
  return { title, message: parts.join('\n') };
}

/** The one warning annotation of a run that succeeded only after retries. */
export function recoveryAnnotation(r: MergeResult, known?: string): Annotation {
  const failures = r.attempts.filter((a) => !a.ok);
  const putRetries = r.puts?.retries ?? [];
  const classes = [
    ...new Set([...failures.map((a) => a.class), ...putRetries.map((p) => `manifest PUT ${p.class}`)]),
  ].join(', ');
  const sig =
    failures.find((a) => a.class === 'panic')?.signature ??
    failures[0]?.signature ??
    (putRetries[0] ? `manifest PUT ${putSignature(putRetries[0].answer)}` : '');
  const pushes = r.attempts.filter((a) => a.invocation !== 'oracle').length;
  const title = clip(`recovered from ${classes}: ${sig} (${plural(pushes, 'attempt')})`, 120);
  const message = [
    `Pushed ${plural(r.tags.length, 'tag')} holding ${r.digest}, every one verified, after absorbing ${absorbed(r)}.`,
    ...(known ? [`${known}.`] : []),
  ].join('\n');
  return { title, message };
}

function attemptRow(a: AttemptRecord): string {
  const what =
    a.invocation === 'oracle'
      ? '--dry-run'
      : a.tags.length === 1
        ? `\`${a.tags[0]}\``
        : `${a.tags.length} tags`;
  const how = a.signal ? a.signal : String(a.exitCode);
  const cls = a.ok ? 'ok' : `${a.class}: ${esc(a.signature ?? '')}`;
  const line = a.ok || !a.line ? '' : `\`${esc(clip(a.line, 160)).replace(/`/g, "'")}\``;
  const asked = a.askedWaitMs !== undefined ? ` (registry asked ${formatDuration(a.askedWaitMs)})` : '';
  const wait = a.waitMs > 0 ? `${formatDuration(a.waitMs)}${asked}` : '';
  return `| ${a.number} | ${what} | ${cls} | ${line} | ${how} | ${formatDuration(a.durationMs)} | ${wait} |`;
}

/** The policy's verdict in one line. */
export function policyVerdict(p: PolicyInfo): string {
  const errors = p.findings.filter((f) => f.severity === 'error').length;
  const warnings = p.findings.length - errors;
  const what =
    p.origin === 'default'
      ? 'no policy (advisories warn)'
      : `policy ${p.origin} (${p.mode}, advisories ${p.advisories})`;
  const verdict =
    p.findings.length === 0
      ? 'passed'
      : [errors ? plural(errors, 'violation') : '', warnings ? plural(warnings, 'warning') : '']
          .filter(Boolean)
          .join(', ');
  return `${what}: ${verdict}`;
}

/** How many tags were pushed, and how many already held the index (not pushed again). */
function pushedWhat(r: MergeResult): string {
  const already = r.tags.filter((t) => t.state === 'already').length;
  const put = r.tags.filter((t) => t.state === 'put').length;
  const byPut = put > 0 ? ` (${put} written by manifest PUT)` : '';
  if (already === 0) return `Pushed ${plural(r.tags.length, 'tag')}${byPut}`;
  if (already === r.tags.length) return `Nothing pushed: ${plural(already, 'tag')} already held it`;
  return `Pushed ${r.tags.length - already} of ${plural(r.tags.length, 'tag')} (${already} already held it)`;
}

/** The one-line result at the top of the summary. */
export function resultLine(r: MergeResult, dryRun: boolean): string {
  const n = countAttempts(r, dryRun);
  if (r.ok) {
    const what = dryRun ? 'Dry run' : pushedWhat(r);
    const classes = [
      ...new Set([
        ...r.attempts.filter((a) => !a.ok).map((a) => a.class),
        ...(r.puts?.retries ?? []).map((p) => `manifest PUT ${p.class}`),
      ]),
    ].join(', ');
    return `${what}, \`${r.digest}\`, ${plural(n, 'attempt')}, ${r.recovered ? `recovered from ${classes}` : 'no retry needed'}`;
  }
  const when = n === 0 ? 'before any push' : `after ${plural(n, 'attempt')}`;
  return `Failed ${when}: ${r.failure?.class ?? 'unknown'} (${esc(r.failure?.signature ?? '')})`;
}

/** The Markdown job summary, bounded by SUMMARY_MAX_BYTES whatever the child printed. */
export function summaryMarkdown(
  r: MergeResult,
  buildx: BuildxInfo,
  dryRun: boolean,
  policy?: PolicyInfo,
  known?: string,
): string {
  const lines: string[] = [`### safe-imagetools: ${resultLine(r, dryRun)}`];
  if (r.failure) lines.push('', esc(r.failure.message));
  const alongside = alongsideNote(r);
  if (alongside) lines.push('', esc(alongside));
  if (known) lines.push('', `**${esc(known)}**`);
  if (r.tags.length > 0) {
    lines.push('', '| tag | digest | verified |', '| --- | --- | --- |');
    for (const t of r.tags.slice(0, 200)) {
      const verified =
        t.state === 'already'
          ? 'yes, held it already: not pushed'
          : `${t.verified ? 'yes' : 'no'}${t.state === 'put' ? ', written by manifest PUT' : ''}`;
      lines.push(`| \`${t.tag}\` | \`${t.digest ?? '-'}\` | ${verified} |`);
    }
    if (r.tags.length > 200) lines.push(`| ... ${r.tags.length - 200} more | | |`);
  }
  lines.push(
    '',
    '| # | pushed | result | the line that shows it | exit | took | wait after |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const a of r.attempts.slice(0, 100)) lines.push(attemptRow(a));
  if (r.attempts.length > 100) lines.push(`| ... ${r.attempts.length - 100} more | | | | | | |`);
  lines.push(
    '',
    '| buildx | |',
    '| --- | --- |',
    `| version | \`${buildx.version}\` |`,
    `| source | ${buildx.source}${buildx.resolved ? ` (${buildx.resolved})` : ''} |`,
    `| path | \`${buildx.path}\` |`,
  );
  if (buildx.checksum) lines.push(`| sha256 | \`${buildx.checksum}\` |`);
  if (policy) {
    const advisories = policy.findings.filter((f) => f.rule === 'advisory');
    if (advisories.length > 0)
      lines.push(`| advisories | ${advisories.map((f) => esc(f.message)).join('<br>')} |`);
    lines.push('', `Policy: ${esc(policyVerdict(policy))}`);
    for (const f of policy.findings.slice(0, 20)) lines.push(`- ${f.severity}: ${esc(f.message)}`);
  }
  let text = `${lines.join('\n')}\n`;
  // The last lines of each failed attempt, newest first, while they fit.
  const blocks: string[] = [];
  let used = Buffer.byteLength(text);
  let skipped = 0;
  for (const a of [...r.attempts].reverse()) {
    if (a.ok || !a.tail || a.tail.length === 0) continue;
    const tail = a.tail
      .slice(-50)
      .map((l) => clip(l, 300))
      .join('\n')
      .replace(/```/g, "'''");
    const block =
      `\n<details><summary>${a.class === 'panic' ? 'The crash' : 'Last lines'} of attempt ${a.number} (${a.class}: ${esc(a.signature ?? '')})</summary>\n\n` +
      `\`\`\`\n${tail}\n\`\`\`\n\n</details>\n`;
    const size = Buffer.byteLength(block);
    if (used + size > SUMMARY_MAX_BYTES - 1024) {
      skipped++;
      continue;
    }
    used += size;
    blocks.unshift(block);
  }
  text += blocks.join('');
  if (skipped > 0)
    text += `\n(${plural(skipped, 'more failed attempt')} not shown here; the log has them.)\n`;
  if (Buffer.byteLength(text) > SUMMARY_MAX_BYTES) {
    text = `${Buffer.from(text)
      .subarray(0, SUMMARY_MAX_BYTES - 200)
      .toString('utf8')}\n\n(summary cut at ${SUMMARY_MAX_BYTES} bytes)\n`;
  }
  return text;
}
