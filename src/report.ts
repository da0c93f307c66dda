// Step outputs and a short job summary. Pure builders, and one function that writes them.

import type { AttemptRecord, MergeResult } from './engine.js';
import { formatDuration } from './parse.js';

export interface BuildxInfo {
  version: string;
  path: string;
  /** runner, release, git, url or path */
  source: string;
  /** the release tag or git commit it was resolved to */
  resolved?: string;
  /** sha256 of the binary */
  checksum?: string;
  /** time spent installing (or finding) it */
  installMs?: number;
}

export interface PolicyInfo {
  origin: string;
  mode: string;
  advisories: string;
  findings: { rule: string; severity: string; message: string }[];
}

export interface ResultJson {
  digest: string | null;
  ok: boolean;
  buildx: BuildxInfo;
  tags: { tag: string; digest: string | null; verified: boolean }[];
  attempts: {
    number: number;
    invocation: number | 'oracle';
    try: number;
    tags: string[];
    ok: boolean;
    class?: string;
    signature?: string;
    exitCode: number | null;
    signal: string | null;
    durationMs: number;
    waitMs: number;
    landed?: string[];
  }[];
  failure?: { class: string; signature: string; message: string; tags: string[] };
  policy?: PolicyInfo;
}

export function resultJson(r: MergeResult, buildx: BuildxInfo, policy?: PolicyInfo): ResultJson {
  return {
    digest: r.digest ?? null,
    ok: r.ok,
    buildx,
    tags: r.tags.map(({ tag, digest, verified }) => ({ tag, digest, verified })),
    attempts: r.attempts.map((a) => ({
      number: a.number,
      invocation: a.invocation,
      try: a.try,
      tags: a.tags,
      ok: a.ok,
      ...(a.class ? { class: a.class, signature: a.signature } : {}),
      exitCode: a.exitCode,
      signal: a.signal,
      durationMs: a.durationMs,
      waitMs: a.waitMs,
      ...(a.landed && a.landed.length > 0 ? { landed: a.landed } : {}),
    })),
    ...(r.failure
      ? {
          failure: {
            class: r.failure.class,
            signature: r.failure.signature,
            message: r.failure.message,
            tags: r.failure.tags,
          },
        }
      : {}),
    ...(policy ? { policy } : {}),
  };
}

/** Push attempts (the --dry-run oracle is not one, except in a dry run). */
export function countAttempts(r: MergeResult, dryRun: boolean): number {
  return r.attempts.filter((a) => (dryRun ? a.invocation === 'oracle' : a.invocation !== 'oracle')).length;
}

export interface StepOutputs {
  digest: string;
  'buildx-version': string;
  'buildx-path': string;
  'buildx-source': string;
  attempts: string;
  recovered: string;
  panics: string;
  result: string;
}

export function stepOutputs(
  r: MergeResult,
  buildx: BuildxInfo,
  dryRun: boolean,
  policy?: PolicyInfo,
): StepOutputs {
  return {
    digest: r.digest ?? '',
    'buildx-version': buildx.version,
    'buildx-path': buildx.path,
    'buildx-source': buildx.source,
    attempts: String(countAttempts(r, dryRun)),
    recovered: String(r.ok && r.recovered),
    panics: String(r.panics),
    result: JSON.stringify(resultJson(r, buildx, policy)),
  };
}

const esc = (s: string): string => s.replace(/[|\\`*_<>[\]]/g, (c) => `\\${c}`).replace(/\r?\n/g, ' ');

function attemptRow(a: AttemptRecord): string {
  const what =
    a.invocation === 'oracle'
      ? '--dry-run'
      : a.tags.length === 1
        ? `\`${a.tags[0]}\``
        : `${a.tags.length} tags`;
  const how = a.signal ? a.signal : String(a.exitCode);
  const cls = a.ok ? 'ok' : `${a.class}: ${esc(a.signature ?? '')}`;
  const wait = a.waitMs > 0 ? formatDuration(a.waitMs) : '';
  return `| ${a.number} | ${what} | ${cls} | ${how} | ${formatDuration(a.durationMs)} | ${wait} |`;
}

/** A short Markdown job summary, bounded whatever the child printed. */
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
      : [
          errors ? `${errors} violation${errors === 1 ? '' : 's'}` : '',
          warnings ? `${warnings} warning${warnings === 1 ? '' : 's'}` : '',
        ]
          .filter(Boolean)
          .join(', ');
  return `${what}: ${verdict}`;
}

export function summaryMarkdown(
  r: MergeResult,
  buildx: BuildxInfo,
  dryRun: boolean,
  policy?: PolicyInfo,
  known?: string,
): string {
  const lines: string[] = [];
  const n = countAttempts(r, dryRun);
  if (r.ok) {
    const what = dryRun ? 'Dry run' : `Pushed ${r.tags.length} tag${r.tags.length === 1 ? '' : 's'}`;
    const rec = r.recovered
      ? `, recovered after ${r.panics} crash${r.panics === 1 ? '' : 'es'} and other failures`
      : '';
    lines.push(`### safe-imagetools: ${what}, \`${r.digest}\` (${n} attempt${n === 1 ? '' : 's'}${rec})`);
  } else {
    lines.push(
      `### safe-imagetools: failed ${n === 0 ? 'before any push' : `after ${n} attempt${n === 1 ? '' : 's'}`}: ${esc(r.failure?.class ?? '')} (${esc(r.failure?.signature ?? '')})`,
    );
    if (r.failure) lines.push('', esc(r.failure.message));
  }
  if (known) lines.push('', `**${esc(known)}**`);
  if (r.tags.length > 0) {
    lines.push('', '| tag | digest | verified |', '| --- | --- | --- |');
    for (const t of r.tags.slice(0, 200))
      lines.push(`| \`${t.tag}\` | \`${t.digest ?? '-'}\` | ${t.verified ? 'yes' : 'no'} |`);
    if (r.tags.length > 200) lines.push(`| ... ${r.tags.length - 200} more | | |`);
  }
  lines.push(
    '',
    '| step | pushed | result | exit | took | wait after |',
    '| --- | --- | --- | --- | --- | --- |',
  );
  for (const a of r.attempts.slice(0, 100)) lines.push(attemptRow(a));
  const detail = [buildx.source, buildx.resolved, buildx.checksum ? `sha256 ${buildx.checksum}` : undefined]
    .filter(Boolean)
    .join(', ');
  lines.push('', `buildx \`${buildx.version}\` (${detail}, \`${buildx.path}\`)`);
  if (policy) {
    lines.push('', `Policy: ${esc(policyVerdict(policy))}`);
    for (const f of policy.findings.slice(0, 20)) lines.push(`- ${f.severity}: ${esc(f.message)}`);
  }
  const lastFailed = [...r.attempts].reverse().find((a) => !a.ok && a.tail && a.tail.length > 0);
  if (!r.ok && lastFailed?.tail) {
    const tail = lastFailed.tail
      .map((l) => (l.length > 300 ? `${l.slice(0, 300)}...` : l))
      .join('\n')
      .replace(/```/g, "'''");
    lines.push(
      '',
      `<details><summary>Last lines of attempt ${lastFailed.number}</summary>`,
      '',
      '```',
      tail,
      '```',
      '',
      '</details>',
    );
  }
  return `${lines.join('\n')}\n`;
}
