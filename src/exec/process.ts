// Runs one child process without a shell, in its own process group, streaming its output line by
// line, keeping only a bounded tail, and killing the whole group (TERM, then KILL) when a watchdog
// fires or the run is cancelled. Nothing it starts outlives it. The byte handling is in ./lines.ts,
// the process groups in ./groups.ts.

import { type ChildProcess, spawn } from 'node:child_process';

import { signalGroup, trackGroup, untrackGroup, waitGroupGone } from './groups.js';
import { LineSplitter, StdoutCapture, TailRing } from './lines.js';
import type { EchoTarget } from './log.js';

export { groupAlive, killAllGroups, liveProcessGroups } from './groups.js';

export type KillReason = 'buildx-timeout' | 'buildx-idle-timeout' | 'cancelled';

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

const TAIL_BYTES = 256 * 1024;
/** after SIGKILL, how long a grandchild that left the group may hold the pipes open */
const PIPE_GRACE_MS = 1000;
/** after the child exits by itself, how long its output may take to drain */
const DRAIN_MS = 2000;

export function runProcess(opts: RunOptions): Promise<RunResult> {
  const started = Date.now();
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
    new ProcessRun(child, opts, started, resolve, reject).start();
  });
}

/** One running child: its output, its watchdogs, and how it ends. */
class ProcessRun {
  private readonly tail = new TailRing(TAIL_BYTES);
  private readonly stdout: StdoutCapture;
  private readonly splitters: Record<'stdout' | 'stderr', LineSplitter>;
  private outputBytes = 0;
  private killedBy: KillReason | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private attemptTimer: NodeJS.Timeout | undefined;
  private exited = false;
  private settled = false;
  private exitCode: number | null = null;
  private exitSignal: NodeJS.Signals | null = null;
  private echoBlocked = false;

  constructor(
    private readonly child: ChildProcess,
    private readonly opts: RunOptions,
    private readonly started: number,
    private readonly resolve: (r: RunResult) => void,
    private readonly reject: (err: unknown) => void,
  ) {
    this.stdout = new StdoutCapture(opts.captureStdoutBytes ?? 0);
    const splitter = (stream: 'stdout' | 'stderr'): LineSplitter =>
      new LineSplitter(
        (bytes) => this.echoBytes(bytes),
        opts.onLine && ((line) => opts.onLine?.(line, stream)),
        opts.lineFilter,
      );
    this.splitters = { stdout: splitter('stdout'), stderr: splitter('stderr') };
  }

  start(): void {
    const { child, opts } = this;
    if (opts.timeoutMs) this.attemptTimer = setTimeout(() => this.kill('buildx-timeout'), opts.timeoutMs);
    opts.signal?.addEventListener('abort', this.onAbort, { once: true });
    child.stdout?.on('data', (chunk: Buffer) => {
      this.stdout.push(chunk);
      this.onOutput('stdout', chunk);
    });
    child.stderr?.on('data', (chunk: Buffer) => this.onOutput('stderr', chunk));
    if (child.pid !== undefined) trackGroup(child.pid);
    this.armIdle();
    child.on('error', (err) => this.onError(err));
    child.on('exit', (code, sig) => this.onExit(code, sig));
    child.on('close', () => this.finish());
  }

  private get streams() {
    return [this.child.stdout, this.child.stderr];
  }

  private onOutput(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    this.outputBytes += chunk.length;
    this.splitters[stream].write(chunk);
    this.armIdle();
  }

  /** Whole lines to the tail and the log; a log that cannot keep up pauses the child. */
  private echoBytes(bytes: Buffer): void {
    this.tail.push(bytes);
    const echo = this.opts.echo;
    if (!echo) return;
    if (!echo.write(bytes) && !this.echoBlocked) {
      this.echoBlocked = true;
      for (const s of this.streams) s?.pause();
      this.disarmIdle();
      echo.once('drain', this.onEchoDrain);
    }
  }

  private readonly onEchoDrain = (): void => {
    this.echoBlocked = false;
    for (const s of this.streams) s?.resume();
    this.armIdle();
  };

  private readonly onAbort = (): void => this.kill('cancelled');

  private disarmIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private armIdle(): void {
    this.disarmIdle();
    if (this.opts.idleTimeoutMs && !this.exited && !this.echoBlocked) {
      this.idleTimer = setTimeout(() => this.kill('buildx-idle-timeout'), this.opts.idleTimeoutMs);
    }
  }

  /** TERM to the group, KILL after the grace, then stop waiting for pipes a grandchild holds. */
  private kill(reason: KillReason): void {
    if (this.killedBy || this.settled) return;
    this.killedBy = reason;
    this.disarmIdle();
    signalGroup(this.child, 'SIGTERM');
    this.killTimer = setTimeout(() => this.killAndAbandonPipes(), this.opts.killGraceMs ?? 5000);
  }

  private killAndAbandonPipes(): void {
    signalGroup(this.child, 'SIGKILL');
    setTimeout(() => {
      for (const s of this.streams) s?.destroy();
      this.finish();
    }, PIPE_GRACE_MS).unref();
  }

  private onExit(code: number | null, sig: NodeJS.Signals | null): void {
    this.exited = true;
    this.exitCode = code;
    this.exitSignal = sig;
    // Output still in the pipes arrives before 'close'; a grandchild holding them open is
    // killed with the group so 'close' can come.
    if (!this.killedBy) {
      setTimeout(() => {
        if (!this.settled) this.killAndAbandonPipes();
      }, DRAIN_MS).unref();
    }
  }

  private onError(err: Error): void {
    if (this.child.pid !== undefined) untrackGroup(this.child.pid);
    this.disarmIdle();
    if (this.attemptTimer) clearTimeout(this.attemptTimer);
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    this.settled = true;
    this.reject(err);
  }

  private finish(): void {
    if (this.settled || !this.exited) return;
    this.settled = true;
    this.disarmIdle();
    if (this.attemptTimer) clearTimeout(this.attemptTimer);
    if (this.killTimer) clearTimeout(this.killTimer);
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    this.opts.echo?.removeListener('drain', this.onEchoDrain);
    this.splitters.stdout.end();
    this.splitters.stderr.end();
    // The leader is gone; make sure no member of its group lingers (a hung grandchild), and
    // return only once none is left.
    signalGroup(this.child, 'SIGKILL');
    const result = this.result();
    const pgid = this.child.pid;
    if (pgid === undefined) return this.resolve(result);
    void waitGroupGone(pgid).then(() => {
      untrackGroup(pgid);
      this.resolve(result);
    });
  }

  private result(): RunResult {
    return {
      exitCode: this.exitCode,
      signal: this.exitSignal,
      killedBy: this.killedBy,
      durationMs: Date.now() - this.started,
      tail: this.tail.lines(this.opts.tailLines ?? 200),
      outputBytes: this.outputBytes,
      stdout: this.stdout.text(),
      stdoutTruncated: this.stdout.truncated,
      pid: this.child.pid,
    };
  }
}

/** A run is a success only when the child exited 0 by itself. */
export function succeeded(r: RunResult): boolean {
  return r.exitCode === 0 && r.signal === null && r.killedBy === undefined;
}
