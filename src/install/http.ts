// Downloads with bounded time: each attempt has a deadline and a stall watchdog (no bytes for a
// while), what the retry policy retries (src/retry/policy.ts: network errors, 408, 429, 5xx) is
// retried with its backoff and at least the `Retry-After` asked for, and a body shorter than its
// Content-Length is an error. Files are hashed as they are written. Requests go through
// src/http/request.ts (node:http), never `fetch`: see there why.

import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';

import { type HttpResponse, request } from '../http/request.js';
import { retryAfterMs } from '../retry/asked.js';
import { waitText } from '../retry/backoff.js';
import { answerVerdict, DOWNLOAD_BACKOFF } from '../retry/policy.js';
import { retryingThrows } from '../retry/retrying.js';
import { formatDuration } from '../util/parse.js';

export interface FetchOptions {
  headers?: Record<string, string>;
  /** whole-attempt deadline */
  timeoutMs?: number;
  /** no bytes for this long aborts the attempt */
  stallMs?: number;
  attempts?: number;
  retryDelayMs?: number;
  signal?: AbortSignal;
  /** called before each retry, for the log */
  onRetry?: (message: string) => void;
}

/** A failed request: the status answered (none: no answer), and the `Retry-After` asked for (ms). */
export class HttpError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** What a FetchOptions field left out means. */
const FETCH_DEFAULTS = { timeoutMs: 10 * 60_000, stallMs: 30_000, attempts: 3 };

/** Shows a URL without its query (signed download URLs carry credentials there). */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

function withRetries<T>(
  what: string,
  opts: FetchOptions,
  once: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const attempts = opts.attempts ?? FETCH_DEFAULTS.attempts;
  const policy = {
    attempts,
    backoff: { ...DOWNLOAD_BACKOFF, baseMs: opts.retryDelayMs ?? DOWNLOAD_BACKOFF.baseMs },
    judge: (err: unknown) =>
      err instanceof HttpError
        ? answerVerdict(err.status)
        : { retry: false, reason: 'not a request failure' },
    askedWaitMs: (err: unknown) => (err instanceof HttpError ? err.retryAfterMs : undefined),
  };
  return retryingThrows(() => attemptOnce(what, opts, once), policy, {
    onRetry: ({ failure, attempt, sleepMs, askedWaitMs }) =>
      opts.onRetry?.(
        `${(failure as Error).message}; retrying in ${waitText(sleepMs, askedWaitMs, 'the server')} (attempt ${attempt + 1} of ${attempts})`,
      ),
    signal: opts.signal,
  });
}

/** One attempt under its deadline; its failure as an HttpError (a cancellation as its reason). */
async function attemptOnce<T>(
  what: string,
  opts: FetchOptions,
  once: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? FETCH_DEFAULTS.timeoutMs;
  const ac = new AbortController();
  const onAbort = (): void => ac.abort(opts.signal?.reason);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const deadline = setTimeout(
    () => ac.abort(new HttpError(`${what}: no answer within ${Math.round(timeoutMs / 1000)}s`)),
    timeoutMs,
  );
  try {
    return await once(ac.signal);
  } catch (err) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    throw toHttpError(what, err, ac.signal);
  } finally {
    clearTimeout(deadline);
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

function toHttpError(what: string, err: unknown, signal: AbortSignal): HttpError {
  if (err instanceof HttpError) return err;
  if (signal.aborted && signal.reason instanceof HttpError) return signal.reason;
  const e = err as { code?: string; message?: string };
  return new HttpError(`${what}: ${e.code ?? e.message ?? String(err)}`);
}

function checkStatus(what: string, res: HttpResponse): void {
  if (res.ok) return;
  res.discard();
  const asked = retryAfterMs(res.headers.get('retry-after'));
  throw new HttpError(`${what}: ${res.status} ${res.statusText}`, res.status, asked);
}

/** GETs a URL's body as text, with retries. */
export function fetchText(
  url: string,
  opts: FetchOptions = {},
): Promise<{ text: string; headers: HttpResponse['headers'] }> {
  const what = `GET ${safeUrl(url)}`;
  return withRetries(what, opts, async (signal) => {
    const res = await request(url, { headers: opts.headers, signal });
    checkStatus(what, res);
    const keep: Buffer[] = [];
    await readWithStall(what, res, signal, opts.stallMs ?? FETCH_DEFAULTS.stallMs, (chunk) => {
      keep.push(chunk);
      return undefined;
    });
    return { text: Buffer.concat(keep).toString('utf8'), headers: res.headers };
  });
}

/** Writes chunks to a file, waiting when the file is slower than the network (backpressure). */
function fileSink(dest: string): {
  write(chunk: Buffer): Promise<void> | undefined;
  finish(): Promise<void>;
  abandon(): Promise<void>;
} {
  const out = createWriteStream(dest, { mode: 0o755 });
  // Every error of the file stream is caught here, also one that comes after a failure.
  let fileError: Error | undefined;
  const closed = new Promise<void>((resolve) => out.once('close', () => resolve()));
  out.on('error', (err) => {
    fileError ??= err;
  });
  return {
    write(chunk) {
      if (fileError) throw fileError;
      if (out.write(chunk)) return undefined;
      return new Promise<void>((resolve, reject) => {
        const onDrain = (): void => {
          out.off('error', onError);
          resolve();
        };
        const onError = (err: Error): void => {
          out.off('drain', onDrain);
          reject(err);
        };
        out.once('drain', onDrain);
        out.once('error', onError);
      });
    },
    async finish() {
      await new Promise<void>((resolve, reject) =>
        out.end((err?: Error | null) => (err ? reject(err) : resolve())),
      );
      if (fileError) throw fileError;
    },
    async abandon() {
      out.destroy();
      await closed;
      await rm(dest, { force: true });
    },
  };
}

/** Downloads a URL to a file, hashing it on the way; a failed download leaves no file behind. */
export function downloadFile(
  url: string,
  dest: string,
  opts: FetchOptions = {},
): Promise<{ sha256: string; bytes: number }> {
  const what = `download ${safeUrl(url)}`;
  return withRetries(what, opts, async (signal) => {
    const res = await request(url, { headers: opts.headers, signal });
    checkStatus(what, res);
    const hash = createHash('sha256');
    const sink = fileSink(dest);
    let bytes: number;
    try {
      bytes = await readWithStall(what, res, signal, opts.stallMs ?? FETCH_DEFAULTS.stallMs, (chunk) => {
        hash.update(chunk);
        return sink.write(chunk);
      });
      await sink.finish();
    } catch (err) {
      await sink.abandon();
      throw err;
    }
    return { sha256: hash.digest('hex'), bytes };
  });
}

/**
 * Reads a body chunk by chunk into `onChunk` (awaited: a slow consumer slows the reading, never
 * the other way round), aborting when the network sends nothing for `stallMs` (time spent in the
 * consumer does not count), and checking the length against Content-Length. Returns the bytes read.
 */
async function readWithStall(
  what: string,
  res: HttpResponse,
  signal: AbortSignal,
  stallMs: number,
  onChunk: (chunk: Buffer) => Promise<void> | undefined,
): Promise<number> {
  const expected = Number(res.headers.get('content-length') ?? NaN);
  let total = 0;
  let stalled = false;
  const stallError = (): HttpError =>
    new HttpError(`${what}: stalled (no data for ${formatDuration(stallMs)})`);
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      stalled = true;
      res.body.destroy(stallError());
    }, stallMs);
  };
  try {
    arm();
    for await (const chunk of res.body) {
      clearTimeout(timer);
      total += (chunk as Buffer).length;
      const wait = onChunk(chunk as Buffer);
      if (wait) await wait;
      arm();
    }
  } catch (err) {
    if (stalled) throw stallError();
    if (signal.aborted)
      throw signal.reason instanceof Error ? signal.reason : new HttpError(`${what}: aborted`);
    if (Number.isFinite(expected) && total < expected) {
      throw new HttpError(`${what}: truncated (${total} of ${expected} bytes, then the connection closed)`);
    }
    throw err;
  } finally {
    clearTimeout(timer);
    res.body.destroy();
  }
  if (Number.isFinite(expected) && res.headers.get('content-encoding') === null && total !== expected) {
    throw new HttpError(`${what}: truncated (${total} of ${expected} bytes)`);
  }
  return total;
}
