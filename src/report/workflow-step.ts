// Finds the workflow step that runs this action, with line numbers, so that annotations land on the
// step's `uses:` line or on the line of the input they are about. The workflow is parsed with
// positions (never scanned with patterns); when the step cannot be told apart from another, or the
// workflow is not the one this job runs (reusable workflows), the answer is undefined and the caller
// annotates without a location rather than at a wrong one.
//
// How the runner names a step (GITHUB_ACTION, `github.action`): the step's `id` when it has one; else a
// generated context name, `__` followed by `owner/repo` of a `uses: owner/repo[/path]@ref`, `self` for
// a local `uses: ./...`, the image of a `docker://` uses, and `run` otherwise. Characters other than
// ASCII letters, digits, `_` and `-` become `_`, and a repeat in the same job gets `_2`, `_3`, ...
// (names are unique case-insensitively, explicit ids reserved first, at most 100 characters). Inside a
// composite action every nested step sees the composite step's (fully qualified) name instead, so a
// name that points at a step not using this action means "we are inside something we cannot see".

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  type Document,
  isAlias,
  isMap,
  isNode,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  visit,
} from 'yaml';

export interface StepLocation {
  /** workflow path relative to the repository root, e.g. `.github/workflows/release.yml` (what annotations use as `file`) */
  file: string;
  /** 1-based line of the step's `uses:` key */
  usesLine: number;
  /** 1-based line of each input key under the step's `with:` */
  inputLines: Record<string, number>;
  /** the job id and the step id, if any */
  job: string;
  stepId?: string;
}

export interface LocateEnv {
  /** `owner/repo/.github/workflows/release.yml@refs/heads/main` */
  GITHUB_WORKFLOW_REF?: string;
  /** the step's id, or a generated name (`__owner_repo`, `__self`, `__run`, with `_2`, `_3` for repeats) */
  GITHUB_ACTION?: string;
  /** `owner/safe-imagetools` when run as `uses: owner/safe-imagetools@v1`; empty for `uses: ./` */
  GITHUB_ACTION_REPOSITORY?: string;
  /** `v1` */
  GITHUB_ACTION_REF?: string;
  /** the job id */
  GITHUB_JOB?: string;
  /** `owner/repo` */
  GITHUB_REPOSITORY?: string;
}

const WORKFLOWS_DIR = '.github/workflows/';
/** the runner's limit on a context name's length */
const MAX_NAME_LENGTH = 100;
const MAX_SUFFIX = 1000;
/** guards alias and merge-key chains */
const MAX_DEPTH = 32;

/** The workflow file's path relative to the repo root, from GITHUB_WORKFLOW_REF, or undefined (e.g. a reusable workflow of another repository). */
export function workflowPath(env: LocateEnv): string | undefined {
  const ref = env.GITHUB_WORKFLOW_REF?.trim();
  if (!ref) return undefined;
  const parts = ref.split('/');
  if (parts.length < 3) return undefined;
  const [owner, repo] = parts;
  const rest = parts.slice(2).join('/');
  // `<path>@<ref>`: the ref is normally `refs/...`, and may itself hold an `@`
  let at = rest.indexOf('@refs/');
  if (at < 0) at = rest.lastIndexOf('@');
  const path = at < 0 ? rest : rest.slice(0, at);

  const repository = env.GITHUB_REPOSITORY?.trim();
  if (repository && repository.toLowerCase() !== `${owner}/${repo}`.toLowerCase()) return undefined;
  if (!path.startsWith(WORKFLOWS_DIR) || path.length === WORKFLOWS_DIR.length) return undefined;
  if (path.includes('\\') || path.split('/').some((s) => s === '' || s === '.' || s === '..'))
    return undefined;
  return path;
}

/** Reads `<workspace>/<workflowPath>` and locates the step; undefined when the file is missing, unreadable or unparsable. Never throws. */
export function findStep(workspace: string, env: LocateEnv): StepLocation | undefined {
  try {
    const file = workflowPath(env);
    if (!file) return undefined;
    const text = readFileSync(join(workspace, file), 'utf8');
    return locateStep(text, file, env);
  } catch {
    return undefined;
  }
}

/** The line for an input: its `with:` key line if present, else the `uses:` line. */
export function lineFor(loc: StepLocation, input?: string): number {
  if (input === undefined) return loc.usesLine;
  if (Object.hasOwn(loc.inputLines, input)) return loc.inputLines[input] ?? loc.usesLine;
  // inputs are matched case-insensitively by the runner
  const wanted = input.toLowerCase();
  for (const [key, line] of Object.entries(loc.inputLines)) {
    if (key.toLowerCase() === wanted) return line;
  }
  return loc.usesLine;
}

/** Pure: finds this step in a workflow's text. Undefined when it cannot be found unambiguously. */
export function locateStep(text: string, file: string, env: LocateEnv): StepLocation | undefined {
  try {
    return locate(text, file, env);
  } catch {
    return undefined;
  }
}

interface Ctx {
  doc: Document;
  lines: LineCounter;
}

/** a key of a mapping: the line where the key is written, and its value node */
interface Entry {
  line: number;
  value: unknown;
}

interface StepRecord {
  job: string;
  /** the explicit `id` */
  id?: string;
  /** what GITHUB_ACTION is for this step: the id, or the generated name */
  name: string;
  uses?: string;
  usesLine?: number;
  inputLines: Record<string, number>;
}

type UsesMatch = 'exact' | 'repository';

function locate(text: string, file: string, env: LocateEnv): StepLocation | undefined {
  // a workflow ref naming another repository: a reusable workflow we cannot see from here
  if (env.GITHUB_WORKFLOW_REF?.trim() && workflowPath(env) === undefined) return undefined;

  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0 || !aliasesResolve(doc)) return undefined;
  const ctx: Ctx = { doc, lines };

  const jobs = entries(ctx, entries(ctx, doc.contents)?.get('jobs')?.value);
  if (!jobs) return undefined;

  const selected: [string, Map<string, Entry>][] = [];
  const wantedJob = env.GITHUB_JOB?.trim();
  if (wantedJob) {
    const id = findJobId(jobs, wantedJob);
    const job = id === undefined ? undefined : entries(ctx, jobs.get(id)?.value);
    // a job calling a reusable workflow: the step is in the called workflow
    if (id === undefined || !job || job.has('uses')) return undefined;
    selected.push([id, job]);
  } else {
    for (const [id, entry] of jobs) {
      const job = entries(ctx, entry.value);
      if (job && !job.has('uses')) selected.push([id, job]);
    }
  }

  const steps = selected.flatMap(([id, job]) => jobSteps(ctx, id, job));
  const action = env.GITHUB_ACTION?.trim();
  if (action) {
    const hits = steps.filter((s) => s.name === action);
    if (hits.length !== 1) return undefined;
    const [hit] = hits as [StepRecord];
    // the named step does not use this action: we run inside a composite action it uses
    return usesMatch(hit.uses, env) ? toLocation(hit, file) : undefined;
  }

  const ours = steps.filter((s) => usesMatch(s.uses, env) !== undefined);
  const exact = ours.filter((s) => usesMatch(s.uses, env) === 'exact');
  const pool = exact.length > 0 ? exact : ours;
  return pool.length === 1 ? toLocation(pool[0] as StepRecord, file) : undefined;
}

function toLocation(step: StepRecord, file: string): StepLocation | undefined {
  if (step.usesLine === undefined) return undefined;
  const loc: StepLocation = { file, usesLine: step.usesLine, inputLines: step.inputLines, job: step.job };
  if (step.id !== undefined) loc.stepId = step.id;
  return loc;
}

function findJobId(jobs: Map<string, Entry>, wanted: string): string | undefined {
  if (jobs.has(wanted)) return wanted;
  // job ids are case-insensitive
  const hits = [...jobs.keys()].filter((k) => k.toLowerCase() === wanted.toLowerCase());
  return hits.length === 1 ? hits[0] : undefined;
}

/** The steps of one job, each with the name the runner gives it. */
function jobSteps(ctx: Ctx, job: string, jobEntries: Map<string, Entry>): StepRecord[] {
  const seq = deref(ctx, jobEntries.get('steps')?.value);
  if (!isSeq(seq)) return [];

  const taken = new Set<string>();
  const records: (StepRecord & { kind: string })[] = [];
  for (const item of seq.items) {
    const step = entries(ctx, item);
    if (!step) continue;
    const id = stringValue(ctx, step.get('id')?.value) || undefined;
    const uses = stringValue(ctx, step.get('uses')?.value);
    const kind = step.has('run')
      ? 'run'
      : uses !== undefined
        ? 'uses'
        : (['wait', 'wait-all', 'cancel'].find((k) => step.has(k)) ?? '');
    // not a step the runner would accept; it gets no name
    if (!kind) continue;
    if (id !== undefined) taken.add(id.toLowerCase());

    const withEntries = entries(ctx, step.get('with')?.value);
    const inputLines = Object.fromEntries([...(withEntries ?? [])].map(([k, e]) => [k, e.line]));
    records.push({
      job,
      kind,
      name: id ?? '',
      ...(id !== undefined && { id }),
      ...(kind === 'uses' && { uses, usesLine: step.get('uses')?.line }),
      inputLines,
    });
  }
  for (const record of records) {
    if (record.id === undefined) record.name = generatedName(taken, baseName(record.kind, record.uses));
  }
  return records.map(({ kind: _kind, ...record }) => record);
}

/** The part of a generated name that comes from the step, before sanitising and numbering. */
function baseName(kind: string, uses: string | undefined): string {
  if (kind !== 'uses' || uses === undefined) return kind;
  if (uses.startsWith('docker://')) return uses.slice('docker://'.length) || 'run';
  if (uses.startsWith('./') || uses.startsWith('.\\')) return 'self';
  const segments = uses.split('@');
  if (segments.length !== 2) return 'run';
  const [path = '', ref = ''] = segments;
  const names = path.split(/[\\/]/).filter((s) => s.length > 0);
  if (names.length >= 2 && ref) return `${names[0]}/${names[1]}`;
  return 'run';
}

function generatedName(taken: Set<string>, base: string): string {
  let original = '';
  for (const c of `__${base}`) {
    // per UTF-16 unit, as the runner does
    for (let i = 0; i < c.length; i++) original += /[A-Za-z0-9_-]/.test(c[i] ?? '') ? c[i] : '_';
  }
  for (let attempt = 1; attempt < MAX_SUFFIX; attempt++) {
    const suffix = attempt === 1 ? '' : `_${attempt}`;
    const candidate = original.slice(0, MAX_NAME_LENGTH - suffix.length) + suffix;
    if (!taken.has(candidate.toLowerCase())) {
      taken.add(candidate.toLowerCase());
      return candidate;
    }
  }
  return '';
}

/** Whether a `uses:` value runs this action: with the same ref, or the same repository only. */
function usesMatch(uses: string | undefined, env: LocateEnv): UsesMatch | undefined {
  const value = uses?.trim();
  if (!value || value.startsWith('docker://') || value.includes('${{')) return undefined;
  const repository = env.GITHUB_ACTION_REPOSITORY?.trim();
  if (!repository) {
    // run as `uses: ./`: the action at the root of the workflow's own repository
    if (!value.startsWith('./') && !value.startsWith('.\\') && value !== '.') return undefined;
    const rest = value.replace(/^\.[\\/]?/, '').replace(/[\\/]+$/, '');
    return rest === '' || rest === '.' ? 'exact' : undefined;
  }
  if (value.startsWith('.')) return undefined;
  const segments = value.split('@');
  if (segments.length !== 2) return undefined;
  const [path = '', ref = ''] = segments;
  const names = path.split(/[\\/]/).filter((s) => s.length > 0);
  if (names.length < 2 || `${names[0]}/${names[1]}`.toLowerCase() !== repository.toLowerCase())
    return undefined;
  const wantedRef = env.GITHUB_ACTION_REF?.trim();
  return !wantedRef || ref === wantedRef ? 'exact' : 'repository';
}

/** Whether every alias names an anchor (the parser leaves `*nowhere` to fail later, when converted). */
function aliasesResolve(doc: Document): boolean {
  let ok = true;
  visit(doc, {
    Alias(_key, node) {
      if (node.resolve(doc) === undefined) {
        ok = false;
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return ok;
}

/** Follows aliases to the node they name. */
function deref(ctx: Ctx, value: unknown): unknown {
  let node = value;
  for (let i = 0; isAlias(node) && i < MAX_DEPTH; i++) node = node.resolve(ctx.doc);
  return isAlias(node) ? undefined : node;
}

function stringValue(ctx: Ctx, value: unknown): string | undefined {
  const node = deref(ctx, value);
  return isScalar(node) && typeof node.value === 'string' ? node.value : undefined;
}

/**
 * The keys of a mapping (through aliases), each with the line where it is written. Merge keys
 * (`<<: *anchor`, `<<: [*a, *b]`) bring in the keys of the merged maps, at their own lines; keys of the
 * map itself win over merged ones, and earlier merged maps over later ones.
 */
function entries(ctx: Ctx, value: unknown, depth = 0): Map<string, Entry> | undefined {
  const node = deref(ctx, value);
  if (!isMap(node) || depth > MAX_DEPTH) return undefined;
  const own = new Map<string, Entry>();
  const merged: Map<string, Entry>[] = [];
  for (const pair of node.items) {
    const key = deref(ctx, pair.key);
    // the line where the key is written, also for a key given by alias
    const range = isNode(pair.key) ? pair.key.range : undefined;
    if (!isScalar(key) || !range) continue;
    if (key.value === '<<' && key.type === 'PLAIN' && !isAlias(pair.key)) {
      const source = deref(ctx, pair.value);
      for (const item of isSeq(source) ? source.items : [source]) {
        const map = entries(ctx, item, depth + 1);
        if (map) merged.push(map);
      }
      continue;
    }
    if (typeof key.value !== 'string' && typeof key.value !== 'number' && typeof key.value !== 'boolean')
      continue;
    own.set(String(key.value), { line: ctx.lines.linePos(range[0]).line, value: pair.value });
  }
  for (const map of merged) {
    for (const [k, e] of map) if (!own.has(k)) own.set(k, e);
  }
  return own;
}
