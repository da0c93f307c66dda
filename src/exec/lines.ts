// The output of a child process as it arrives: split into whole lines (for the log and the
// consumer's line callback), its last bytes kept as a tail, and stdout captured up to a bound. Pure
// byte handling, no I/O.

const MAX_LINE_BYTES = 64 * 1024;
const MAX_TAIL_LINE = 2000;

/**
 * Splits a byte stream at newlines. Complete lines go out as one Buffer (for the log: whole lines,
 * never half of one interleaved with the other stream) and, when asked, as strings; an over-long
 * line without a newline is cut at MAX_LINE_BYTES.
 */
export class LineSplitter {
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
export class TailRing {
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

/** The first `maxBytes` of stdout, whole, for `--dry-run` and `version` (0: nothing is kept). */
export class StdoutCapture {
  private chunks: Buffer[] = [];
  private captured = 0;
  truncated = false;

  constructor(private readonly maxBytes: number) {}

  push(chunk: Buffer): void {
    if (this.maxBytes <= 0) return;
    const keep = chunk.subarray(0, Math.max(0, this.maxBytes - this.captured));
    if (keep.length > 0) this.chunks.push(keep);
    this.captured += keep.length;
    if (keep.length < chunk.length) this.truncated = true;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}
