// The action's log, shared by child processes that may run at the same time (the --dry-run and the
// first push). One section owns the log at a time and is printed live: a log group, and inside it a
// `::stop-commands::` block with a fresh token, so nothing the child prints can issue a workflow
// command. A section opened while another owns the log is kept in memory (bounded: its head and its
// tail, with a line saying how much was left out) and printed as its own group when it ends, or
// when the log becomes free while it still runs (then it goes on live). Groups never nest, and
// every byte of every section lies inside its own block.
// Plain mode is for a terminal or another CI system's log, where workflow commands mean nothing:
// each section is a `==> <title>` header line, the child's output as it is, then the trailer line.

import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';

/** Where a section's bytes go: process.stdout, or a log section. */
export interface EchoTarget {
  write(bytes: Buffer): boolean;
  once(event: 'drain', listener: () => void): unknown;
  removeListener(event: 'drain', listener: () => void): unknown;
}

/** The stream under the log (process.stdout). */
export interface LogOutput {
  write(chunk: string | Buffer): boolean;
  once(event: 'drain', listener: () => void): unknown;
}

export interface SerialLogOptions {
  /** bytes kept from the start and, as many again, from the end of a section printed later */
  keepBytes?: number;
  /** a fresh stop-commands token */
  token?: () => string;
  /** no workflow commands: a `==> <title>` line heads each section (default false) */
  plain?: boolean;
}

/** 1 MiB from the start and 1 MiB from the end of an attempt that ran while another was printed. */
export const KEEP_BYTES = 1024 * 1024;

/** The head and the tail of a byte stream whose chunks are whole lines. */
export class HeadTail {
  private readonly head: Buffer[] = [];
  private headBytes = 0;
  private tail: Buffer[] = [];
  private tailBytes = 0;
  private total = 0;

  constructor(private readonly keep: number) {}

  push(bytes: Buffer): void {
    this.total += bytes.length;
    if (this.headBytes < this.keep) {
      this.head.push(bytes);
      this.headBytes += bytes.length;
      return;
    }
    this.tail.push(bytes);
    this.tailBytes += bytes.length;
    while (this.tail.length > 1 && this.tailBytes - (this.tail[0] as Buffer).length >= this.keep) {
      this.tailBytes -= (this.tail.shift() as Buffer).length;
    }
  }

  /** What is kept, in order, with one line in place of what was left out. */
  take(): Buffer[] {
    const left = this.total - this.headBytes - this.tailBytes;
    const gap = left > 0 ? [Buffer.from(`[... ${left} bytes of output left out here ...]\n`)] : [];
    const out = [...this.head, ...gap, ...this.tail];
    this.head.length = 0;
    this.tail = [];
    this.headBytes = this.tailBytes = this.total = 0;
    return out;
  }
}

/** A group title or trailer line as a workflow command carries it (no line breaks). */
const escapeData = (s: string): string => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');

/** A title or trailer as one plain line. */
const oneLine = (s: string): string => s.replace(/[\r\n]+/g, ' ');

/** What a section prints before its output and after it (before the trailer). */
export interface SectionFrame {
  head: string;
  foot: string;
}

/** A log group around a stop-commands block with a fresh token; or, plain, a header line only. */
function frame(title: string, token: (() => string) | undefined): SectionFrame {
  if (!token) return { head: `==> ${oneLine(title)}\n`, foot: '' };
  const t = token();
  return { head: `::group::${escapeData(title)}\n::stop-commands::${t}\n`, foot: `::${t}::\n::endgroup::\n` };
}

export type SectionState = 'kept' | 'live' | 'ended' | 'printed';

/** One child's part of the log. Write its output here; close it when the child is done. */
export class LogSection extends EventEmitter implements EchoTarget {
  private state: SectionState = 'kept';
  private readonly kept: HeadTail;
  private trailer = '';
  private draining = false;

  constructor(
    private readonly log: SerialLog,
    private readonly out: LogOutput,
    readonly title: string,
    private readonly frame: SectionFrame,
    keepBytes: number,
  ) {
    super();
    this.kept = new HeadTail(keepBytes);
  }

  /** kept (running, not printed yet), live, ended (not printed yet) or printed */
  get status(): SectionState {
    return this.state;
  }

  /** Whole lines of the child's output; false asks the caller to wait for 'drain'. */
  write(bytes: Buffer): boolean {
    if (this.state === 'kept') {
      this.kept.push(bytes);
      return true;
    }
    if (this.state !== 'live') return true; // after close: nothing more is printed
    if (this.out.write(bytes)) return true;
    if (!this.draining) {
      this.draining = true;
      this.out.once('drain', () => {
        this.draining = false;
        this.emit('drain');
      });
    }
    return false;
  }

  /** The child is done; `trailer` is one line printed after the section (after its group). */
  close(trailer?: string): void {
    if (this.state === 'ended' || this.state === 'printed') return;
    this.trailer = trailer ? `${oneLine(trailer)}\n` : '';
    if (this.state === 'kept') {
      this.state = 'ended';
      return;
    }
    this.finish();
    this.log.release(this);
  }

  /** Opens the group and the block (plain: prints the header), then what was kept meanwhile. */
  start(): void {
    this.out.write(this.frame.head);
    for (const chunk of this.kept.take()) this.out.write(chunk);
    this.state = this.state === 'ended' ? 'ended' : 'live';
  }

  /** Ends the block and the group now, whatever the child still prints (nothing more is shown). */
  interrupt(): void {
    if (this.state !== 'live') return;
    this.trailer = '';
    this.finish();
  }

  /** Closes the block and the group (plain: nothing to close), then prints the trailer. */
  finish(): void {
    this.out.write(`${this.frame.foot}${this.trailer}`);
    this.state = 'printed';
  }
}

/** Every log with a section printing live: what the last resort must close before it speaks. */
const liveLogs = new Set<SerialLog>();

/**
 * Closes the stop-commands block and the group of every section printing live, so that what the
 * action says next (an error annotation, on the way out) is read by the runner again.
 */
export function interruptLiveSections(): void {
  for (const log of liveLogs) log.interrupt();
}

export class SerialLog {
  private owner: LogSection | undefined;
  private waiting: LogSection[] = [];
  /** what waits for no section to print live (see whenFree) */
  private idle: (() => void)[] = [];
  private readonly keepBytes: number;
  /** undefined in plain mode: no stop-commands block, so no token */
  private readonly token: (() => string) | undefined;

  constructor(
    private readonly out: LogOutput,
    opts: SerialLogOptions = {},
  ) {
    this.keepBytes = opts.keepBytes ?? KEEP_BYTES;
    this.token = opts.plain ? undefined : (opts.token ?? (() => randomBytes(16).toString('hex')));
  }

  /** A new section: live when the log is free, else kept until it is. */
  open(title: string): LogSection {
    const section = new LogSection(this, this.out, title, frame(title, this.token), this.keepBytes);
    if (this.owner) this.waiting.push(section);
    else this.own(section);
    return section;
  }

  /**
   * Runs `fn` when no section prints live: at once when none does, else as soon as the live one
   * ends (before the next starts). What the action says from `fn` (a workflow command) is then
   * outside every stop-commands block. Its result, or its error.
   */
  whenFree<T>(fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const run = (): void => {
        try {
          resolve(fn());
        } catch (err) {
          reject(err as Error);
        }
      };
      if (this.owner) this.idle.push(run);
      else run();
    });
  }

  /** The owner is done: print the sections that ended meanwhile, then hand the log on. */
  release(section: LogSection): void {
    if (this.owner !== section) return;
    this.owner = undefined;
    liveLogs.delete(this);
    for (const s of this.waiting.filter((w) => w.status === 'ended')) {
      s.start();
      s.finish();
    }
    this.runIdle();
    this.waiting = this.waiting.filter((w) => w.status === 'kept');
    const next = this.waiting.shift();
    if (next) this.own(next);
  }

  /** Ends the live section's block and group; sections still waiting are never printed. */
  interrupt(): void {
    this.owner?.interrupt();
    this.owner = undefined;
    this.waiting = [];
    liveLogs.delete(this);
    this.runIdle();
  }

  private runIdle(): void {
    const idle = this.idle;
    this.idle = [];
    for (const run of idle) run();
  }

  private own(section: LogSection): void {
    this.owner = section;
    liveLogs.add(this);
    section.start();
  }
}
