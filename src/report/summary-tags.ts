// The tags, as pure builders: one short state per tag (how it came to hold the index, and what its
// read-back found), as a table for the job summary and as one line each for the end of the log,
// so both give the same answer. No digest in a row unless the tag holds something else.

import { type AttemptRecord, DRY_RUN_INVOCATION, type MergeResult, type TagResult } from '../merge/engine.js';
import { formatDuration } from '../util/parse.js';
import { clip, esc, shortDigest } from './words.js';

export type TagHow = 'pushed' | 'copied' | 'written by PUT' | 'already there' | 'not pushed';

export interface TagState {
  how: TagHow;
  /** what the read-back found, in a few words */
  read: string;
  /** what it found instead of the index (a short digest, an error), for the table */
  detail?: string;
}

/** The push attempt after which a tag held the index: it exited 0, or the tag was found landed. */
function landedBy(r: MergeResult, tag: string): AttemptRecord | undefined {
  return r.attempts.find(
    (a) => a.invocation !== DRY_RUN_INVOCATION && ((a.ok && a.tags.includes(tag)) || a.landed?.includes(tag)),
  );
}

function howOf(r: MergeResult, t: TagResult): TagHow {
  if (t.state === 'already') return 'already there';
  if (t.state === 'put') return 'written by PUT';
  const a = landedBy(r, t.tag);
  if (!a) return t.verified ? 'pushed' : 'not pushed';
  // a copy takes the index by digest from a tag holding it; the first push takes the sources
  return r.digest && a.sources.some((s) => s.endsWith(`@${r.digest}`)) ? 'copied' : 'pushed';
}

function readOf(r: MergeResult, t: TagResult): Pick<TagState, 'read' | 'detail'> {
  if (t.verified) {
    const lag = t.lagWaitMs ? ` after ${formatDuration(t.lagWaitMs)} of registry lag` : '';
    return { read: `verified${lag}` };
  }
  if (r.ok) return { read: 'not read back (verify: false)' };
  if (t.digest && !r.digest)
    return { read: 'not verified (no expected digest)', detail: shortDigest(t.digest) };
  if (t.digest) return { read: 'holds another index', detail: shortDigest(t.digest) };
  if (t.error) return { read: 'could not be read', detail: clip(t.error, 100) };
  return { read: 'holds nothing' };
}

export function tagState(r: MergeResult, t: TagResult): TagState {
  return { how: howOf(r, t), ...readOf(r, t) };
}

/** Rows shown at most; the rest are counted in one more row. */
export const TAG_ROWS = 200;

/** The tag table: tag, state, read back. */
export function tagTable(r: MergeResult): string[] {
  if (r.tags.length === 0) return [];
  const rows = r.tags.slice(0, TAG_ROWS).map((t) => {
    const s = tagState(r, t);
    const read = s.detail ? `${s.read}: ${esc(s.detail)}` : s.read;
    return `| \`${t.tag}\` | ${s.how} | ${read} |`;
  });
  const more = r.tags.length > TAG_ROWS ? [`| ... ${r.tags.length - TAG_ROWS} more | | |`] : [];
  return ['| tag | state | read back |', '| --- | --- | --- |', ...rows, ...more];
}

/**
 * The end of the log, one line per tag: `<tag>  <state>  <what it holds, short>`, the tags padded
 * to one column. Words of the action's own, no error text: nothing a registry said reaches them.
 */
export function tagLogLines(r: MergeResult): string[] {
  const rows = r.tags.map((t) => {
    const s = tagState(r, t);
    const held = t.digest && (t.verified || s.detail) ? shortDigest(t.digest) : '-';
    return [t.tag, `${s.how}, ${s.read}`, held] as const;
  });
  const width = (i: 0 | 1) => Math.min(80, Math.max(0, ...rows.map((row) => row[i].length)));
  const [tagW, stateW] = [width(0), width(1)];
  return rows.map(([tag, state, held]) => `${tag.padEnd(tagW)}  ${state.padEnd(stateW)}  ${held}`);
}
