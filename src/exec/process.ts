// Runs one child process without a shell, in its own process group, streaming its output line by
// line, keeping only a bounded tail, and killing the whole group (TERM, then KILL) when a watchdog
// fires or the run is cancelled. Nothing it starts outlives it.

import { spawn } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import type { Writable } from 'node:stream';

export type KillReason = 'attempt-timeout' | 'idle-timeout' | 'cancelled';

export interface RunOptions {
  file: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** whole-attempt watchdog, 0 = none */
  timeoutMs?: number;
  /** no-output watchdog, 0 = none */
  idleTimeoutMs?: number;
  /** grace between TERM and KILL */
  killGraceMs?: number;
  signal?: AbortSignal;
  /** every line the child prints, in order, without its line ending */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** where the lines are echoed (the action's log); backpressure pauses the child */
  echo?: Writable;
  /** lines kept at the end of the output */
  tailLines?: number;
  /** stdout is also captured whole, up to this many bytes (for --dry-run and version) */
  captureStdoutBytes?: number;
}

export interface RunResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  killedBy?: KillReason;
  durationMs: number;
  /** the last lines of stdout and stderr interleaved as they came */
  tail: string[];
  /** bytes the child printed in total */
  outputBytes: number;
  stdout: string;
  /** stdout was longer than captureStdoutBytes */
  stdoutTruncated: boolean;
  pid?: number;
}

const MAX_LINE_BYTES = 64 * 1024;
const MAX_TAIL_LINE = 2000;

// Every live process group this module started, so that an exiting action can take them along.
const liveGroups = new Set<number>();

export function liveProcessGroups(): number[] {
  return [...liveGroups];
}

/** Kills every process group still alive; safe to call from a synchronous `exit` handler. */
export function killAllGroups(signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, signal);
    } catch {
      // already gone
    }
  }
}

class LineSplitter {
  private decoder = new StringDecoder('utf8');
  private partial = '';
  constructor(private readonly emit: (line: string) => void) {}

  write(chunk: Buffer): void {
    const text = this.partial + this.decoder.write(chunk);
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      this.emit(text.slice(start, end));
      start = nl + 1;
    }
    this.partial = text.slice(start);
    if (this.partial.length > MAX_LINE_BYTES) {
      this.emit(this.partial);
      this.partial = '';
    }
  }

  end(): void {
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    if (rest.length > 0) this.emit(rest);
  }
}

export function runProcess(opts: RunOptions): Promise<RunResult> {
  const started = Date.now();
  const tailMax = opts.tailLines ?? 200;
  const captureMax = opts.captureStdoutBytes ?? 0;
  const grace = opts.killGraceMs ?? 5000;

  return new Promise<RunResult>((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new Error('cancelled before start'));
      return;
    }
    const child = spawn(opts.file, opts.args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, so the whole tree can be signalled
      shell: false,
      windowsHide: true,
    });

    const tail: string[] = [];
    let outputBytes = 0;
    const stdoutChunks: Buffer[] = [];
    let stdoutCaptured = 0;
    let stdoutTruncated = false;
    let killedBy: KillReason | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let exited = false;
    let settled = false;
    let exitCode: number | null = null;
    let exitSignal: NodeJS.Signals | null = null;
    let echoBlocked = false;

    const pushTail = (line: string): void => {
      tail.push(line.length > MAX_TAIL_LINE ? `${line.slice(0, MAX_TAIL_LINE)}...` : line);
      if (tail.length > tailMax) tail.shift();
    };

    const streams = [child.stdout, child.stderr];
    const onEchoDrain = (): void => {
      echoBlocked = false;
      for (const s of streams) s?.resume();
      armIdle();
    };
    const echoLine = (line: string): void => {
      if (!opts.echo) return;
      if (!opts.echo.write(`${line}\n`) && !echoBlocked) {
        echoBlocked = true;
        for (const s of streams) s?.pause();
        disarmIdle();
        opts.echo.once('drain', onEchoDrain);
      }
    };

    const splitters = {
      stdout: new LineSplitter((line) => {
        pushTail(line);
        opts.onLine?.(line, 'stdout');
        echoLine(line);
      }),
      stderr: new LineSplitter((line) => {
        pushTail(line);
        opts.onLine?.(line, 'stderr');
        echoLine(line);
      }),
    };

    // Watchdogs
    let idleTimer: NodeJS.Timeout | undefined;
    const disarmIdle = (): void => {
      if (idleTimer) clearTimeout(idleTimer);
      idleTimer = undefined;
    };
    const armIdle = (): void => {
      disarmIdle();
      if (opts.idleTimeoutMs && !exited && !echoBlocked) {
        idleTimer = setTimeout(() => kill('idle-timeout'), opts.idleTimeoutMs);
      }
    };
    const attemptTimer = opts.timeoutMs
      ? setTimeout(() => kill('attempt-timeout'), opts.timeoutMs)
      : undefined;

    const signalGroup = (sig: NodeJS.Signals): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        try {
          child.kill(sig);
        } catch {
          // gone
        }
      }
    };

    function kill(reason: KillReason): void {
      if (killedBy || settled) return;
      killedBy = reason;
      disarmIdle();
      signalGroup('SIGTERM');
      killTimer = setTimeout(() => {
        signalGroup('SIGKILL');
        // a grandchild that left the group may hold our pipes open: stop waiting for them
        setTimeout(() => {
          for (const s of streams) s?.destroy();
          finish();
        }, 1000).unref();
      }, grace);
    }

    const onAbort = (): void => kill('cancelled');
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    child.stdout?.on('data', (chunk: Buffer) => {
      outputBytes += chunk.length;
      if (captureMax > 0) {
        const keep = chunk.subarray(0, Math.max(0, captureMax - stdoutCaptured));
        if (keep.length > 0) stdoutChunks.push(keep);
        stdoutCaptured += keep.length;
        if (keep.length < chunk.length) stdoutTruncated = true;
      }
      splitters.stdout.write(chunk);
      armIdle();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      outputBytes += chunk.length;
      splitters.stderr.write(chunk);
      armIdle();
    });

    if (child.pid !== undefined) liveGroups.add(child.pid);
    armIdle();

    const finish = (): void => {
      if (settled || !exited) return;
      settled = true;
      disarmIdle();
      if (attemptTimer) clearTimeout(attemptTimer);
      if (killTimer) clearTimeout(killTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      opts.echo?.removeListener('drain', onEchoDrain);
      splitters.stdout.end();
      splitters.stderr.end();
      // The leader is gone; make sure no member of its group lingers (a hung grandchild).
      signalGroup('SIGKILL');
      if (child.pid !== undefined) liveGroups.delete(child.pid);
      resolve({
        exitCode,
        signal: exitSignal,
        killedBy,
        durationMs: Date.now() - started,
        tail,
        outputBytes,
        stdout: Buffer.concat(stdoutChunks).toString('utf8'),
        stdoutTruncated,
        pid: child.pid,
      });
    };

    child.on('error', (err) => {
      if (child.pid !== undefined) liveGroups.delete(child.pid);
      disarmIdle();
      if (attemptTimer) clearTimeout(attemptTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      settled = true;
      reject(err);
    });
    child.on('exit', (code, sig) => {
      exited = true;
      exitCode = code;
      exitSignal = sig;
      // Output still in the pipes arrives before 'close'; a grandchild holding them open is
      // killed with the group so 'close' can come.
      if (!killedBy) {
        setTimeout(() => {
          if (!settled) {
            signalGroup('SIGKILL');
            setTimeout(() => {
              for (const s of streams) s?.destroy();
              finish();
            }, 1000).unref();
          }
        }, 2000).unref();
      }
    });
    child.on('close', () => finish());
  });
}

/** A run is a success only when the child exited 0 by itself. */
export function succeeded(r: RunResult): boolean {
  return r.exitCode === 0 && r.signal === null && r.killedBy === undefined;
}
