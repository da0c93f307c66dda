// How the run ends when it does not end well. The last resort: whatever escapes the run (an
// uncaught exception, an unhandled rejection, from any module) ends the step with one error that
// names the stage and the cause, every child process group killed, exit status 1, and no bare
// stack trace. A cancelled job (SIGINT/SIGTERM) stops buildx and takes every child along.

import * as core from '@actions/core';

import { CancelledError } from '../exec/buildx.js';
import { interruptLiveSections } from '../exec/log.js';
import { killAllGroups } from '../exec/process.js';

/** A failure already reported by its own annotations: the step fails without another one. */
export class Reported extends Error {}

/**
 * Cancels the run on SIGINT/SIGTERM (a cancelled job) and takes every child along on exit. When
 * something does not let go within `killGraceMs` and a little more, the process leaves anyway.
 */
export function installSignalHandlers(controller: AbortController, killGraceMs: number): void {
  const onSignal = (sig: NodeJS.Signals): void => {
    if (controller.signal.aborted) return;
    core.info(`Received ${sig}: stopping buildx and exiting`);
    controller.abort(new CancelledError());
    // If something does not let go, leave anyway, taking the children along.
    setTimeout(() => {
      killAllGroups('SIGKILL');
      process.exit(sig === 'SIGINT' ? 130 : 143);
    }, killGraceMs + 3_000).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', () => killAllGroups('SIGKILL'));
}

export type Stage = 'inputs' | 'policy' | 'install' | 'merge' | 'report';

/** Where the run is; the last resort and the step's error name it. */
export class Progress {
  stage: Stage = 'inputs';
}

/** The words of an unexpected failure: what broke, and where. */
export function unexpectedFailure(
  stage: Stage,
  err: unknown,
  how?: string,
): { title: string; message: string } {
  const cause =
    err instanceof Error ? `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}` : String(err);
  return {
    title: `safe-imagetools failed (${stage})`,
    message:
      `The action failed in its ${stage} stage${how ? ` (${how})` : ''}: ${cause.trim() || 'no message'}. ` +
      "Every process it started was stopped. This is a defect of the action: please report it with this step's log.",
  };
}

export interface LastResort {
  progress: Progress;
  /** emits the step's one error (it knows whether one was already given) */
  fail(title: string, message: string): void;
  /** where the stack goes (the runner's debug log; nowhere on a plain log) */
  debug?: (message: string) => void;
}

/** Installs the handlers; the process exits 1 from them, once. */
export function installLastResort({ progress, fail, debug = core.debug }: LastResort): void {
  let handled = false;
  const handler = (how: string) => (err: unknown) => {
    if (handled) return;
    handled = true;
    try {
      killAllGroups('SIGKILL');
      // a child's stop-commands block may be open: close it, or the runner ignores the error
      interruptLiveSections();
      const f = unexpectedFailure(progress.stage, err, how);
      fail(f.title, f.message);
      if (err instanceof Error && err.stack) debug(err.stack);
    } catch {
      // nothing more can be said
    } finally {
      killAllGroups('SIGKILL');
      process.exit(1);
    }
  };
  process.on('uncaughtException', handler('uncaught exception'));
  process.on('unhandledRejection', handler('unhandled rejection'));
}
