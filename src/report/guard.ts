// The last resort: whatever escapes the run (an uncaught exception, an unhandled rejection, from
// any module) ends the step with one error that names the stage and the cause, every child
// process group killed, exit status 1, and no bare stack trace.

import * as core from '@actions/core';

import { interruptLiveSections } from '../exec/log.js';
import { killAllGroups } from '../exec/process.js';

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
}

/** Installs the handlers; the process exits 1 from them, once. */
export function installLastResort({ progress, fail }: LastResort): void {
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
      if (err instanceof Error && err.stack) core.debug(err.stack);
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
