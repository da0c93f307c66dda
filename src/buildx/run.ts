// Runs one buildx attempt: a log group with the command line, the child's output streamed through
// (with workflow commands disabled, so buildx output cannot issue any), the classifier fed line by
// line, and the watchdogs of the process runner.

import { randomBytes } from 'node:crypto';

import * as core from '@actions/core';

import { CHUNK_FILTER, OutputClassifier } from '../classify.js';
import type { ExecOutcome } from '../engine.js';
import { CancelledError } from '../engine.js';
import { runProcess, succeeded } from '../exec/process.js';
import { formatDuration } from '../parse.js';
import type { Buildx } from './buildx.js';
import { displayCommand } from './imagetools.js';

export interface ExecOptions {
  attemptTimeoutMs: number;
  idleTimeoutMs: number;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  killGraceMs?: number;
}

const MAX_STDOUT = 8 * 1024 * 1024;

export function makeExec(
  buildx: Buildx,
  opts: ExecOptions,
): (args: string[], label: string) => Promise<ExecOutcome> {
  return async (args, label) => {
    const fullArgs = [...buildx.prefix, ...args];
    const classifier = new OutputClassifier();
    core.startGroup(`${label}: ${displayCommand(buildx.file, fullArgs)}`);
    const token = randomBytes(16).toString('hex');
    process.stdout.write(`::stop-commands::${token}\n`);
    let result;
    try {
      result = await runProcess({
        file: buildx.file,
        args: fullArgs,
        env: opts.env,
        timeoutMs: opts.attemptTimeoutMs,
        idleTimeoutMs: opts.idleTimeoutMs,
        killGraceMs: opts.killGraceMs,
        signal: opts.signal,
        onLine: (line) => classifier.push(line),
        lineFilter: CHUNK_FILTER,
        echo: process.stdout,
        tailLines: 200,
        captureStdoutBytes: args.includes('--dry-run') || args[0] === 'version' ? MAX_STDOUT : 0,
      });
    } finally {
      process.stdout.write(`::${token}::\n`);
      core.endGroup();
    }
    if (result.killedBy === 'cancelled') throw new CancelledError();

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
    if (!outcome.ok) {
      if (classifier.crashed) outcome.evidence = classifier.evidence;
      if (result.killedBy) {
        const what =
          result.killedBy === 'idle-timeout'
            ? `idle-timeout (no output for ${formatDuration(opts.idleTimeoutMs)})`
            : `attempt-timeout (${formatDuration(opts.attemptTimeoutMs)})`;
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
    }
    const how = result.signal ? `signal ${result.signal}` : `exit ${result.exitCode}`;
    const verdict = outcome.ok
      ? `ok (${formatDuration(result.durationMs)})`
      : `${outcome.classification?.class}: ${outcome.classification?.signature} (${how}, ${formatDuration(result.durationMs)})`;
    core.info(`${label}: ${verdict}`);
    return outcome;
  };
}
