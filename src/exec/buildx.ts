// Runs one buildx attempt: a log section (its own group with the command line, and inside it a
// stop-commands block, so buildx output cannot issue workflow commands; kept and printed later when
// another attempt holds the log; see ./log.ts), the output classifier fed line by line, and the
// watchdogs of the process runner (./process.ts); the result is an ExecOutcome, classified when it
// failed.

import { type Classification, CHUNK_FILTER, OutputClassifier } from '../buildx/classify.js';
import { SerialLog } from './log.js';
import { type RunResult, runProcess, succeeded } from './process.js';
import { formatDuration } from '../util/parse.js';
import type { Buildx } from '../buildx/spec.js';
import { displayCommand } from '../buildx/imagetools.js';

export interface ExecOptions {
  attemptTimeoutMs: number;
  idleTimeoutMs: number;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  killGraceMs?: number;
  /** the log the attempts print to (default: one on stdout for all the attempts of this exec) */
  log?: SerialLog;
}

export interface ExecOutcome {
  ok: boolean;
  /** set when !ok */
  classification?: Classification;
  exitCode: number | null;
  signal: string | null;
  killedBy?: string;
  durationMs: number;
  stdout: string;
  stdoutTruncated: boolean;
  /** the last lines of output (bounded) */
  tail: string[];
  /** for a crash, the lines around it (more telling than the end of a goroutine dump) */
  evidence?: string[];
}

export class CancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}

const MAX_STDOUT = 8 * 1024 * 1024;

export function makeExec(
  buildx: Buildx,
  opts: ExecOptions,
): (args: string[], label: string) => Promise<ExecOutcome> {
  // One log for every attempt of the run: attempts that overlap are printed one after the other.
  const log = opts.log ?? new SerialLog(process.stdout);
  return async (args, label) => {
    const fullArgs = [...buildx.prefix, ...args];
    const classifier = new OutputClassifier();
    const section = log.open(`${label}: ${displayCommand(buildx.file, fullArgs)}`);
    let verdict: string | undefined;
    try {
      const result = await runProcess({
        file: buildx.file,
        args: fullArgs,
        env: opts.env,
        timeoutMs: opts.attemptTimeoutMs,
        idleTimeoutMs: opts.idleTimeoutMs,
        killGraceMs: opts.killGraceMs,
        signal: opts.signal,
        onLine: (line) => classifier.push(line),
        lineFilter: CHUNK_FILTER,
        echo: section,
        tailLines: 200,
        captureStdoutBytes: args.includes('--dry-run') || args[0] === 'version' ? MAX_STDOUT : 0,
      });
      if (result.killedBy === 'cancelled') throw new CancelledError();
      const outcome = toOutcome(result, classifier, opts);
      const how = result.signal ? `signal ${result.signal}` : `exit ${result.exitCode}`;
      verdict = outcome.ok
        ? `${label}: ok (${formatDuration(result.durationMs)})`
        : `${label}: ${outcome.classification?.class}: ${outcome.classification?.signature} (${how}, ${formatDuration(result.durationMs)})`;
      return outcome;
    } finally {
      section.close(verdict);
    }
  };
}

/** What an attempt came to: ok, or how it failed (a crash, a watchdog, what the output says). */
function toOutcome(result: RunResult, classifier: OutputClassifier, opts: ExecOptions): ExecOutcome {
  const outcome: ExecOutcome = {
    ok: succeeded(result),
    exitCode: result.exitCode,
    signal: result.signal,
    killedBy: result.killedBy,
    durationMs: result.durationMs,
    stdout: result.stdout,
    stdoutTruncated: result.stdoutTruncated,
    tail: result.tail,
  };
  if (outcome.ok) return outcome;
  if (classifier.crashed) outcome.evidence = classifier.evidence;
  if (result.killedBy) {
    const what =
      result.killedBy === 'buildx-idle-timeout'
        ? `buildx-idle-timeout (no output for ${formatDuration(opts.idleTimeoutMs)})`
        : `buildx-timeout (${formatDuration(opts.attemptTimeoutMs)})`;
    const last = [...result.tail].reverse().find((l) => l.trim() !== '') ?? '';
    // A crash that then hung is still a crash.
    outcome.classification = classifier.crashed
      ? classifier.result()
      : { class: 'timeout', signature: what, line: last.trim().slice(0, 400) };
  } else {
    const c = classifier.result();
    if (c.class === 'unknown' && result.signal) c.signature = `killed by ${result.signal}`;
    outcome.classification = c;
  }
  return outcome;
}
