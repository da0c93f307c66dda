// What ran, as pure builders: one sentence counting the --dry-runs and the push attempts (the
// rows of the table below it), the manifest PUTs summed up, and the attempts table, whose evidence
// columns (the line that shows it, exit, wait after) appear only when a row has something in them.

import { type AttemptRecord, DRY_RUN_INVOCATION, type MergeResult } from '../merge/engine.js';
import { formatDuration } from '../util/parse.js';
import { absorbed, clip, esc, plural } from './words.js';

/** Rows shown at most; the rest are counted in one more row. */
export const ATTEMPT_ROWS = 100;

/** `Ran 1 --dry-run and 5 push attempts: ...`: the counts are the rows of the attempts table. */
export function ranLine(r: MergeResult): string {
  const dry = r.attempts.filter((a) => a.invocation === DRY_RUN_INVOCATION).length;
  const pushes = r.attempts.length - dry;
  const what = `Ran ${plural(dry, '--dry-run')} and ${pushes === 0 ? 'no buildx push' : plural(pushes, 'push attempt')}`;
  const failed = r.attempts.filter((a) => !a.ok);
  if (failed.length === 0) return `${what}${r.ok && pushes > 0 ? ', no retry needed' : ''}.`;
  const waited = r.attempts.reduce((t, a) => t + a.waitMs, 0);
  const asked = r.attempts.filter((a) => a.askedWaitMs !== undefined).length;
  const waits =
    waited === 0
      ? ''
      : `; ${formatDuration(waited)} of waits${asked > 0 ? ` (${asked} asked for by the registry)` : ''}`;
  return `${what}: ${esc(absorbed(r, false))}${waits}.`;
}

const CONTENT_WORDS: Record<string, string> = {
  sources: 'held every manifest the index lists (the sources are there)',
  found: 'held every manifest the index lists (each answered a HEAD there)',
  'after-failure':
    'held every manifest the index lists after a failed buildx push: its tags were completed by manifest PUT',
};

/**
 * Why buildx pushed to no repository, or to fewer: the repositories that held the content, and
 * how that was known. Plain text; none when buildx moved the content everywhere.
 */
export function contentLine(r: MergeResult): string | undefined {
  const noted = (r.repositories ?? []).filter((c) => CONTENT_WORDS[c.content] !== undefined);
  if (noted.length === 0) return undefined;
  const pushed = r.attempts.some((a) => a.invocation !== DRY_RUN_INVOCATION);
  const said = noted.map((c) => `${c.repository} ${CONTENT_WORDS[c.content]}`).join('; ');
  return `${pushed ? '' : 'No buildx push: '}${said}.`;
}

/** The manifest PUTs in one sentence (none when no PUT was sent), and why they stopped, if they did. */
export function putLine(r: MergeResult): string | undefined {
  const written = r.tags.filter((t) => t.state === 'put').length;
  const content = contentLine(r);
  const parts: string[] = content ? [esc(content)] : [];
  if (r.puts && written > 0) {
    const { atOnce, retries } = r.puts;
    const asks = retries.flatMap((p) => (p.askedWaitMs === undefined ? [] : [p.askedWaitMs]));
    const askedWaitMs = asks.length > 0 ? Math.max(...asks) : undefined;
    const retried = retries.length > 0 ? plural(retries.length, 'retry', 'retries') : 'no retry';
    const asked = askedWaitMs !== undefined ? ` (the registry asked for ${formatDuration(askedWaitMs)})` : '';
    parts.push(
      `${plural(written, 'tag')} written by manifest PUT, at most ${atOnce} at once, ${retried}${asked}.`,
    );
  }
  if (r.warning) parts.push(`${esc(r.warning)}.`);
  return parts.length > 0 ? parts.join(' ') : undefined;
}

interface Cells {
  n: string;
  what: string;
  result: string;
  line: string;
  exit: string;
  took: string;
  wait: string;
}

/** The one repository every tag of the run is in (`ghcr.io/o/app`), if they share one. */
export function sharedRepository(r: MergeResult): string | undefined {
  const repos = new Set(
    [...r.tags.map((t) => t.tag), ...r.attempts.flatMap((a) => a.tags)].map((t) => {
      const colon = t.lastIndexOf(':');
      return colon > t.lastIndexOf('/') ? t.slice(0, colon) : t;
    }),
  );
  return repos.size === 1 ? [...repos][0] : undefined;
}

function cells(a: AttemptRecord, repo?: string): Cells {
  // the tag table above names the tags in full: here `:1.4.2` when they share one repository
  const tag = (t: string) => (repo && t.startsWith(`${repo}:`) ? t.slice(repo.length) : t);
  const what =
    a.invocation === DRY_RUN_INVOCATION
      ? '--dry-run'
      : a.tags.length === 1
        ? `\`${tag(a.tags[0]!)}\``
        : `${a.tags.length} tags`;
  const asked = a.askedWaitMs !== undefined ? ` (registry asked ${formatDuration(a.askedWaitMs)})` : '';
  return {
    n: String(a.number),
    what,
    result: a.ok ? 'ok' : `${a.class}: ${esc(a.signature ?? '')}`,
    line: a.ok || !a.line ? '' : `\`${esc(clip(a.line, 160)).replace(/`/g, "'")}\``,
    exit: a.ok ? '' : (a.signal ?? String(a.exitCode)),
    took: formatDuration(a.durationMs),
    wait: a.waitMs > 0 ? `${formatDuration(a.waitMs)}${asked}` : '',
  };
}

const COLUMNS: [keyof Cells, string][] = [
  ['n', '#'],
  ['what', 'what'],
  ['result', 'result'],
  ['line', 'the line that shows it'],
  ['exit', 'exit'],
  ['took', 'took'],
  ['wait', 'wait after'],
];

/** The attempts table, without a column that is empty in every row. */
export function attemptsTable(r: MergeResult): string[] {
  const repo = sharedRepository(r);
  const rows = r.attempts.slice(0, ATTEMPT_ROWS).map((a) => cells(a, repo));
  const shown = COLUMNS.filter(([key]) => rows.some((c) => c[key] !== ''));
  const line = (values: string[]) => `| ${values.join(' | ')} |`;
  const out = [line(shown.map(([, title]) => title)), line(shown.map(() => '---'))];
  for (const c of rows) out.push(line(shown.map(([key]) => c[key])));
  if (r.attempts.length > ATTEMPT_ROWS) {
    out.push(line(shown.map((_, i) => (i === 0 ? `... ${r.attempts.length - ATTEMPT_ROWS} more` : ''))));
  }
  return rows.length > 0 ? out : [];
}
