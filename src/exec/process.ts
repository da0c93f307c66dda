// Runs one child process without a shell, in its own process group, streaming its output line by
// line, keeping only a bounded tail, and killing the whole group (TERM, then KILL) when a watchdog
// fires or the run is cancelled. Nothing it starts outlives it.

import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

import type { EchoTarget } from './log.js';

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
  /**
   * When given, onLine only sees the lines of output chunks this matches (a superset of what the
   * consumer looks for): the rest is never turned into strings, which keeps a flood cheap.
   */
  lineFilter?: RegExp;
  /** where the lines are echoed (the action's log); backpressure pauses the child */
  echo?: EchoTarget;
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
const TAIL_BYTES = 256 * 1024;

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

/**
 * Splits a byte stream at newlines. Complete lines go out as one Buffer (for the log: whole lines,
 * never half of one interleaved with the other stream) and, when asked, as strings; an over-long
 * line without a newline is cut at MAX_LINE_BYTES.
 */
class LineSplitter {
  private partial: Buffer = Buffer.alloc(0);

  constructor(
    private readonly onBytes: (complete: Buffer) => void,
    private readonly onLine?: (line: string) => void,
    private readonly filter?: RegExp,
  ) {}

  write(chunk: Buffer): void {
    const data = this.partial.length > 0 ? Buffer.concat([this.partial, chunk]) : chunk;
    const nl = data.lastIndexOf(10);
    if (nl < 0) {
      this.partial = data.length > MAX_LINE_BYTES ? this.flush(data, true) : Buffer.from(data);
      return;
    }
    this.flush(data.subarray(0, nl + 1), false);
    // copied, so that a small remainder does not keep a whole chunk alive
    this.partial = Buffer.from(data.subarray(nl + 1));
  }

  end(): void {
    if (this.partial.length > 0) this.flush(this.partial, true);
    this.partial = Buffer.alloc(0);
  }

  private flush(bytes: Buffer, addNewline: boolean): Buffer {
    this.onBytes(addNewline ? Buffer.concat([bytes, Buffer.from('\n')]) : bytes);
    if (this.onLine) {
      const text = bytes.toString('utf8');
      if (!this.filter || this.filter.test(text)) {
        const lines = text.split('\n');
        if (!addNewline) lines.pop(); // after the final newline
        for (const line of lines) this.onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
      }
    }
    return Buffer.alloc(0);
  }
}

/** The last bytes of output, kept as they came, and split into lines only when asked. */
class TailRing {
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly maxBytes: number) {}

  push(bytes: Buffer): void {
    this.chunks.push(bytes);
    this.size += bytes.length;
    while (this.chunks.length > 1 && this.size - (this.chunks[0] as Buffer).length >= this.maxBytes) {
      this.size -= (this.chunks.shift() as Buffer).length;
    }
  }

  lines(max: number): string[] {
    const all = Buffer.concat(this.chunks).toString('utf8').split('\n');
    if (all.at(-1) === '') all.pop();
    if (this.size > this.maxBytes && all.length > 1) all.shift(); // the first may be cut
    return all.slice(-max).map((l) => {
      const line = l.endsWith('\r') ? l.slice(0, -1) : l;
      return line.length > MAX_TAIL_LINE ? `${line.slice(0, MAX_TAIL_LINE)}...` : line;
    });
  }
}

/** True while a process of the group is alive (zombies waiting to be reaped do not count). */
export function groupAlive(pgid: number): boolean {
  if (process.platform !== 'linux') {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  }
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return false;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      // pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') return true;
    } catch {
      // gone meanwhile
    }
  }
  return false;
}

/** Waits, bounded, until every process of a killed group is gone. */
async function waitGroupGone(pgid: number, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (groupAlive(pgid) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
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

    const tail = new TailRing(TAIL_BYTES);
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

    const streams = [child.stdout, child.stderr];
    const onEchoDrain = (): void => {
      echoBlocked = false;
      for (const s of streams) s?.resume();
      armIdle();
    };
    const echoBytes = (bytes: Buffer): void => {
      tail.push(bytes);
      if (!opts.echo) return;
      if (!opts.echo.write(bytes) && !echoBlocked) {
        echoBlocked = true;
        for (const s of streams) s?.pause();
        disarmIdle();
        opts.echo.once('drain', onEchoDrain);
      }
    };

    const splitters = {
      stdout: new LineSplitter(
        echoBytes,
        opts.onLine && ((line) => opts.onLine?.(line, 'stdout')),
        opts.lineFilter,
      ),
      stderr: new LineSplitter(
        echoBytes,
        opts.onLine && ((line) => opts.onLine?.(line, 'stderr')),
        opts.lineFilter,
      ),
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
      // The leader is gone; make sure no member of its group lingers (a hung grandchild), and
      // return only once none is left.
      signalGroup('SIGKILL');
      const result: RunResult = {
        exitCode,
        signal: exitSignal,
        killedBy,
        durationMs: Date.now() - started,
        tail: tail.lines(tailMax),
        outputBytes,
        stdout: Buffer.concat(stdoutChunks).toString('utf8'),
        stdoutTruncated,
        pid: child.pid,
      };
      const pgid = child.pid;
      if (pgid === undefined) return resolve(result);
      void waitGroupGone(pgid).then(() => {
        liveGroups.delete(pgid);
        resolve(result);
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
