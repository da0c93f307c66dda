// Classifies a failed buildx attempt from its output, one line at a time, in bounded memory.
//
//   panic      any Go runtime crash (`fatal error: ...`, `panic: ...`, a signal dump); wins over
//              every error line printed before or after it
//   permanent  what a retry cannot fix: authorization (a refused token request, a token without
//              push: insufficient_scope), denied, invalid reference, bad flags
//   transient  registry and network trouble: 5xx, 429, EOF, resets, timeouts; a 400 answer to a
//              manifest PUT/HEAD (registries answer parallel pushes that way); and `not found`,
//              which the engine retries on a short budget before it counts as permanent; GHCR's
//              secondary rate limit (a 403 `denied` whose text says so) is transient, not `denied`
//
// A wait the registry asked for in the text (GHCR: `retry-after: 12.5ms`; others `Retry-After: 30`,
// in seconds; parsed by src/retry/asked.ts) is kept as `waitMs`: the engine waits at least that
// long before the next attempt.
//   timeout    killed by a watchdog (decided by the runner, not by the output)
//   unknown    failed, and nothing above matched

import { askedWaitMs } from '../retry/asked.js';

export type FailureClass = 'panic' | 'transient' | 'permanent' | 'timeout' | 'unknown';
export const FAILURE_CLASSES: readonly FailureClass[] = [
  'panic',
  'transient',
  'permanent',
  'timeout',
  'unknown',
];

export interface Classification {
  class: FailureClass;
  /** a few words naming what happened, e.g. `concurrent map writes` or `503 Service Unavailable` */
  signature: string;
  /** the output line that proves it (trimmed, bounded), empty when none */
  line: string;
  /** a `not found` family error, retried on a short budget only */
  notFound?: boolean;
  /** the longest wait the registry asked for in the output (ms), when it asked */
  waitMs?: number;
}

interface Rule {
  re: RegExp;
  signature: (m: RegExpMatchArray) => string;
  notFound?: boolean;
}

const MAX_LINE = 400;
const CONTEXT_BEFORE = 5;
const CONTEXT_AFTER = 40;

// Go runtime crashes. Only at the start of a line: error messages may quote the words.
const PANIC_RULES: Rule[] = [
  { re: /^fatal error: (.+?)\s*$/, signature: (m) => (m[1] as string).replace(/!$/, '') },
  { re: /^panic: (runtime error: )?(.+?)\s*(\[recovered\])?$/, signature: (m) => shortPanic(m[2] as string) },
  { re: /^\[signal (SIG[A-Z]+)/, signature: (m) => `signal ${m[1]}` },
  { re: /^(SIG(?:SEGV|BUS|ABRT|ILL|FPE|QUIT|TRAP)): /, signature: (m) => `signal ${m[1]}` },
  { re: /^unexpected fault address /, signature: () => 'unexpected fault address' },
  { re: /^runtime: (goroutine stack exceeds .*)$/, signature: () => 'stack overflow' },
];

const PERMANENT_RULES: Rule[] = [
  // The Docker token flow (Docker Hub, GHCR, most hosted registries): the token server refused the
  // credentials sent (wrong password, expired token) ...
  {
    re: /failed to fetch oauth token\b.*\b(401|403)\b/i,
    signature: (m) => `oauth token ${m[1]}`,
  },
  // ... or granted a token without push (anonymous, or a user without the permission).
  { re: /\binsufficient_scope\b/i, signature: () => 'insufficient_scope' },
  { re: /\b401 Unauthorized\b/i, signature: () => '401 Unauthorized' },
  {
    re: /\bunauthorized\b|authentication required|no basic auth credentials|failed to authorize/i,
    signature: () => 'unauthorized',
  },
  { re: /\b403 Forbidden\b/i, signature: () => '403 Forbidden' },
  {
    re: /requested access to the resource is denied|\baccess denied\b|(?:^|[\s"])denied: |permission denied/i,
    signature: () => 'denied',
  },
  {
    re: /invalid reference format|failed to parse (source|target|reference)|invalid reference/i,
    signature: () => 'invalid reference',
  },
  // buildx refusing an --annotation: `"manifest" annotations are not supported yet`, `"index-descriptor"
  // annotations are invalid while creating an image`, `unknown annotation type "x"`, ...
  {
    re: /annotations are (?:not supported yet|invalid while creating)|unknown annotation type|invalid annotation/i,
    signature: () => 'annotation refused',
  },
  { re: /\binvalid platform "/i, signature: () => 'invalid platform' },
  {
    re: /unknown (flag|shorthand flag|command)|accepts \d+ arg|requires at least \d+ arg|invalid argument/i,
    signature: () => 'bad arguments',
  },
  { re: /multiple repositories currently not supported/i, signature: () => 'unsupported by this buildx' },
  {
    re: /x509: |certificate signed by unknown authority|server gave HTTP response to HTTPS client/i,
    signature: () => 'TLS configuration',
  },
  { re: /\b413 Request Entity Too Large\b/i, signature: () => '413 Request Entity Too Large' },
  {
    re: /\b(400 Bad Request)\b.*\b(MANIFEST_INVALID|manifest invalid)\b/i,
    signature: () => 'manifest invalid',
  },
];

// GHCR's secondary rate limit: a 403 (`denied: permission_denied: Error from intermediary with HTTP
// status code 403 "Forbidden" - with-body: {`) whose body, on a following line, says `You have
// exceeded a secondary rate limit. Please wait a few minutes ...`. It turns a 403 or `denied` of the
// same attempt into a transient failure; no other permanent error.
const SECONDARY_RATE_LIMIT = /\bsecondary rate limit\b/i;
const RATE_LIMIT_OVERRIDES = new Set(['403 Forbidden', 'denied']);

const NOT_FOUND_RULES: Rule[] = [
  { re: /: not found\s*$|\bnot found: /i, signature: () => 'not found', notFound: true },
  {
    re: /\bmanifest unknown\b|MANIFEST_UNKNOWN|\bname unknown\b|NAME_UNKNOWN|no such manifest/i,
    signature: () => 'manifest unknown',
    notFound: true,
  },
  { re: /\b404 Not Found\b/i, signature: () => '404 Not Found', notFound: true },
  {
    re: /no such host|temporary failure in name resolution|server misbehaving/i,
    signature: () => 'DNS lookup failed',
    notFound: true,
  },
];

const TRANSIENT_RULES: Rule[] = [
  {
    re: /\b(5\d\d) (Internal Server Error|Bad Gateway|Service Unavailable|Gateway Timeout|[A-Z][A-Za-z]+(?: [A-Z][A-Za-z]+)*)/,
    signature: (m) => `${m[1]} ${m[2]}`,
  },
  { re: SECONDARY_RATE_LIMIT, signature: () => 'secondary rate limit' },
  {
    re: /\b429 Too Many Requests\b|\btoomanyrequests\b|rate limit/i,
    signature: () => '429 Too Many Requests',
  },
  {
    re: /(PUT|HEAD|GET) request to \S+\/manifests\/\S+: 400 Bad Request/,
    signature: () => '400 Bad Request on a parallel manifest push',
  },
  { re: /\b408 Request Timeout\b/i, signature: () => '408 Request Timeout' },
  { re: /connection reset by peer/i, signature: () => 'connection reset' },
  { re: /connection refused/i, signature: () => 'connection refused' },
  { re: /broken pipe/i, signature: () => 'broken pipe' },
  { re: /TLS handshake timeout/i, signature: () => 'TLS handshake timeout' },
  { re: /i\/o timeout/i, signature: () => 'i/o timeout' },
  {
    re: /context deadline exceeded|Client\.Timeout exceeded|timeout awaiting response headers/i,
    signature: () => 'deadline exceeded',
  },
  { re: /unexpected EOF|: EOF\s*$|\bEOF$/, signature: () => 'EOF' },
  {
    re: /http2: (server sent GOAWAY|client connection lost)|stream error:/i,
    signature: () => 'HTTP/2 stream error',
  },
  { re: /no route to host|network is unreachable/i, signature: () => 'network unreachable' },
  {
    re: /\b(blob upload unknown|BLOB_UPLOAD_UNKNOWN|blob unknown|BLOB_UNKNOWN)\b/,
    signature: () => 'blob unknown (registry race)',
  },
];

/**
 * A superset of every rule above, tested on a whole chunk of output before it is split into lines:
 * a chunk it does not match cannot change the verdict, so a flood of progress lines costs one
 * regex test per chunk. Keep it a superset when a rule is added (a unit test checks the samples).
 */
export const CHUNK_FILTER =
  /fatal error|panic|\[signal|SIG[A-Z]{2,}|fault|goroutine|runtime:|error|fail|denied|unauthori|authenticat|credentials|forbidden|insufficient|not found|unknown|not supported|accepts \d|requires at least|invalid|timeout|refused|reset|EOF|(?<![.\d])\b[45]\d\d [A-Za-z]|toomanyrequests|rate limit|retry-after|exceeded|no such|broken pipe|x509|certificate|HTTP response|unreachable|no route|stream|misbehaving/i;

function shortPanic(text: string): string {
  if (/nil pointer dereference/.test(text)) return 'nil pointer dereference';
  if (/index out of range/.test(text)) return 'index out of range';
  if (/^assignment to entry in nil map/.test(text)) return 'assignment to entry in nil map';
  if (/send on closed channel|close of closed channel/.test(text)) return text;
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function clipLine(line: string): string {
  return line.length > MAX_LINE ? `${line.slice(0, MAX_LINE - 3)}...` : line;
}

function bounded(line: string): string {
  const t = line.trim();
  return t.length > MAX_LINE ? `${t.slice(0, MAX_LINE - 3)}...` : t;
}

function match(rules: Rule[], line: string): { rule: Rule; m: RegExpMatchArray } | undefined {
  for (const rule of rules) {
    const m = line.match(rule.re);
    if (m) return { rule, m };
  }
  return undefined;
}

// Strips the `#12 0.345 ` progress prefix buildx puts before lines of a step.
const PROGRESS_LINE = /^(\[[^\]]*\] |copying |pushing |DONE |CANCELED|CACHED|resolve |exporting |naming to )/;

function stripProgress(line: string): string {
  return line.replace(/^#\d+ (\d+\.\d+ )?/, '');
}

/** Feeds on the lines of one attempt and says what kind of failure it was. Memory stays bounded. */
export class OutputClassifier {
  private panic?: Classification;
  private permanent?: Classification;
  private notFound?: Classification;
  private transient?: Classification;
  private lastError?: string;
  private secondaryRateLimit?: Classification;
  private waitMs?: number;
  private readonly recent: string[] = [];
  private readonly context: string[] = [];

  push(rawLine: string): void {
    const line = rawLine.length > 4096 ? rawLine.slice(0, 4096) : rawLine;
    if (!this.panic) {
      const p = match(PANIC_RULES, line);
      if (p) {
        this.panic = { class: 'panic', signature: p.rule.signature(p.m), line: bounded(line) };
        this.context.push(...this.recent, line);
        return;
      }
      this.recent.push(clipLine(line));
      if (this.recent.length > CONTEXT_BEFORE) this.recent.shift();
    } else {
      // After `panic: X` Go prints `[signal SIGSEGV ...]` and the crashing goroutine: keep the
      // first line as the signature, and the start of the dump as evidence.
      if (this.context.length < CONTEXT_BEFORE + 1 + CONTEXT_AFTER) this.context.push(clipLine(line));
      return;
    }
    const text = stripProgress(line);
    // Progress lines name references, and a reference may spell any word: they are never errors.
    if (PROGRESS_LINE.test(text)) return;
    if (
      !/error|fail|denied|unauthorized|not found|unknown|timeout|refused|reset|EOF|\b[45]\d\d\b|toomanyrequests|rate limit|retry-after|exceeded|no such|broken pipe|x509/i.test(
        text,
      )
    ) {
      return;
    }
    if (/^(ERROR|error)\b|\berror\b|failed/i.test(text)) this.lastError = bounded(text);
    this.noteRateLimit(text);
    if (!this.permanent) {
      const r = match(PERMANENT_RULES, text);
      if (r) {
        this.permanent = { class: 'permanent', signature: r.rule.signature(r.m), line: bounded(text) };
        return;
      }
    }
    if (!this.notFound) {
      const r = match(NOT_FOUND_RULES, text);
      if (r) {
        this.notFound = {
          class: 'transient',
          signature: r.rule.signature(r.m),
          line: bounded(text),
          notFound: true,
        };
        return;
      }
    }
    if (!this.transient) {
      const r = match(TRANSIENT_RULES, text);
      if (r) this.transient = { class: 'transient', signature: r.rule.signature(r.m), line: bounded(text) };
    }
  }

  /** Keeps a wait the registry asked for (the longest) and GHCR's secondary rate limit. */
  private noteRateLimit(text: string): void {
    const wait = /retry-after/i.test(text) ? askedWaitMs(text) : undefined;
    if (wait !== undefined) this.waitMs = Math.max(this.waitMs ?? 0, wait);
    if (!this.secondaryRateLimit && SECONDARY_RATE_LIMIT.test(text)) {
      this.secondaryRateLimit = {
        class: 'transient',
        signature: 'secondary rate limit',
        line: bounded(text),
      };
    }
  }

  /** The verdict for an attempt that failed (non-zero exit or a signal). */
  result(): Classification {
    if (this.panic) return this.panic;
    const rateLimited = this.secondaryRateLimit;
    if (this.permanent && !(rateLimited && RATE_LIMIT_OVERRIDES.has(this.permanent.signature))) {
      return this.permanent;
    }
    const c = rateLimited ?? this.notFound ?? this.transient;
    if (!c) return { class: 'unknown', signature: 'unrecognised failure', line: this.lastError ?? '' };
    return this.waitMs === undefined || c.notFound ? c : { ...c, waitMs: this.waitMs };
  }

  /** For a crash: the lines just before it, the crash line and the start of the dump (bounded). */
  get evidence(): string[] {
    return [...this.context];
  }

  /** True once a Go runtime crash has been seen, whatever the exit status. */
  get crashed(): boolean {
    return this.panic !== undefined;
  }
}

/** Classifies a whole output at once (for tests and for short outputs). */
export function classifyOutput(text: string): Classification {
  const c = new OutputClassifier();
  for (const line of text.split(/\r?\n/)) c.push(line);
  return c.result();
}
