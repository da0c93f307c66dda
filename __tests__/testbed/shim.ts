// Sets up the fault shim (fault-shim.mjs) for a test: script file, state, and the environment.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildxPath, faultShimPath, fixturesDir } from './paths.ts';

export type ShimMode =
  'pass' | 'crash' | 'crash-after-push' | 'crash-after-copy' | 'hang' | 'registry-error' | 'flood';

export interface ShimStepObject {
  mode: ShimMode;
  /** Wait this long before acting. */
  sleepMs?: number;
  /** crash, crash-after-push, crash-after-copy: a file in the fixtures folder (default the v0.30.0 concurrent map writes log). */
  fixture?: string;
  /** crash-after-copy: the tag of each target repository the real buildx pushes to instead (default `shim-copy-<N>`, N the push's number). */
  throwawayTag?: string;
  /** crash, registry-error: the exit status (default 2 and 1). */
  exitCode?: number;
  /** registry-error: the text printed instead of the default 503 lines. */
  text?: string;
  /** flood: MiB of progress lines written to stdout (default 200). */
  mb?: number;
  /** hang: let the shim survive SIGTERM (only SIGKILL ends it). */
  ignoreSigterm?: boolean;
  /** hang: the hanging child's stdio (default: inherits stdout and stderr). */
  childStdio?: 'inherit' | 'ignore';
  /** Lines written first (before sleepMs and the mode), to stdout unless printTo is 'stderr'. */
  print?: string[];
  /** Lines written after sleepMs, before the mode acts. */
  printAfter?: string[];
  printTo?: 'stdout' | 'stderr';
}

export type ShimStep = ShimMode | ShimStepObject;

export interface ShimVersion {
  /** the line `version` prints */
  text?: string;
  /** answer after this long */
  sleepMs?: number;
  /** exit with this status, printing nothing */
  exitCode?: number;
}

export interface ShimScript {
  steps?: ShimStep[];
  /** What `buildx version` answers instead of the real buildx. */
  version?: string | ShimVersion;
  /** Steps for `imagetools create --dry-run` invocations (without: they run the real buildx). */
  dryRunSteps?: ShimStep[];
}

export interface ShimLogEntry {
  n: number;
  step: ShimStepObject;
  argv: string[];
  pid: number;
  time: string;
}

/** One invocation of the shim, whatever its command: when it started and, unless a signal ended it, ended. */
export interface ShimCall {
  argv: string[];
  pid: number;
  /** ms since the epoch */
  start: number;
  end?: number;
  code?: number;
}

export interface Shim {
  /** The executable to use as buildx. */
  path: string;
  dir: string;
  scriptFile: string;
  stateFile: string;
  logFile: string;
  /** SHIM_* variables for the process that runs the shim (the action passes its env on). */
  env: Record<string, string>;
  /** Push invocations so far. */
  pushes(): number;
  /** One entry per push invocation, in order. */
  log(): ShimLogEntry[];
  /** One entry per scripted --dry-run invocation, in order. */
  dryRunLog(): ShimLogEntry[];
  /** Every invocation (`version` and --dry-run included), in the order they started. */
  calls(): ShimCall[];
  /** Replaces the script (the push counter is kept). */
  setScript(script: ShimScript): void;
  /** Removes the shim's temp folder. */
  remove(): void;
}

export interface MakeShimOptions {
  /** The real buildx (default buildxPath()). */
  realBuildx?: string;
  /** Folder for script and state (default: a new temp folder). */
  dir?: string;
}

/** Temp folders made here, removed when the test process exits (a test may forget `remove()`). */
const madeDirs = new Set<string>();
let exitHookInstalled = false;

function tempShimDir(): string {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const dir of madeDirs) rmSync(dir, { recursive: true, force: true });
    });
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sit-shim-'));
  madeDirs.add(dir);
  return dir;
}

function readLog(file: string): ShimLogEntry[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as ShimLogEntry);
}

function readCalls(file: string): ShimCall[] {
  type Event = { event: string; argv: string[]; pid: number; at: number; code?: number };
  const calls: ShimCall[] = [];
  for (const e of readLog(file) as unknown as Event[]) {
    if (e.event === 'start') calls.push({ argv: e.argv, pid: e.pid, start: e.at });
    const c = calls.findLast((x) => x.pid === e.pid && x.end === undefined);
    if (e.event === 'end' && c) Object.assign(c, { end: e.at, code: e.code });
  }
  return calls.sort((a, b) => a.start - b.start);
}

/** Writes a script for the fault shim and returns how to run it. */
export function makeShim(script: ShimScript = {}, opts: MakeShimOptions = {}): Shim {
  const dir = opts.dir ?? tempShimDir();
  const scriptFile = path.join(dir, 'script.json');
  const stateFile = path.join(dir, 'script.json.state');
  const logFile = `${stateFile}.log`;
  const callsFile = path.join(dir, 'calls.log');
  const write = (s: ShimScript) => writeFileSync(scriptFile, JSON.stringify(s, null, 2) + '\n');
  write(script);
  return {
    path: faultShimPath,
    dir,
    scriptFile,
    stateFile,
    logFile,
    env: {
      SHIM_REAL_BUILDX: opts.realBuildx ?? buildxPath(),
      SHIM_SCRIPT: scriptFile,
      SHIM_STATE: stateFile,
      SHIM_FIXTURES: fixturesDir,
      SHIM_CALLS: callsFile,
    },
    pushes() {
      try {
        return Number.parseInt(readFileSync(stateFile, 'utf8'), 10) || 0;
      } catch {
        return 0;
      }
    },
    log: () => readLog(logFile),
    dryRunLog: () => readLog(`${stateFile}.dry.log`),
    calls: () => readCalls(callsFile),
    setScript: write,
    remove() {
      madeDirs.delete(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
