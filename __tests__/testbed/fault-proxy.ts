// A small HTTP proxy on 127.0.0.1 that sits between buildx (or anything else) and a test-bed
// registry and misbehaves on request, following a list of rules: answer 5xx, 4xx or 429
// `toomanyrequests` in the registry's own JSON error format, reset the connection, or stall.
// Everything it does not fault it forwards faithfully: method, path and query, every header
// including Host (registry 2.8 builds absolute Location URLs from the request's Host, so clients
// keep coming back through the proxy), and bodies streamed both ways.
//
// Some modes act like a registry with its own habits rather than a broken network: read-after-write
// lag (GHCR, Docker Hub: a tag written a moment ago reads as unknown for a while), immutable tags
// (ECR's IMMUTABLE repositories), 429 with a wait in a `Retry-After` header or in the error text
// (GHCR), and GHCR's secondary rate limit (a 403).
//
// Which rule fires is decided per request: the first rule whose `match` accepts the request, whose
// `times` budget is not spent and whose `rate` draw (a seeded PRNG, so a run can be replayed)
// succeeds. No rule fires: the request passes.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

import { byTheAction } from './user-agent.ts';

/** Which requests a rule applies to. */
export type FaultMatch =
  /** every request */
  | 'any'
  /** `PUT /v2/<name>/manifests/<ref>` */
  | 'manifest-put'
  /** `HEAD /v2/<name>/manifests/<ref>` */
  | 'manifest-head'
  /** every HEAD (manifests and blobs) */
  | 'head'
  /** `POST`, `PATCH`, `PUT` (and any other method) on `/v2/<name>/blobs/uploads/...`, mounts included */
  | 'blob-upload'
  /** `GET /v2/<name>/manifests/<ref>` */
  | 'manifest-get'
  /** `GET /v2/<name>/blobs/<digest>` */
  | 'blob-get';

export const FAULT_MATCHES: readonly FaultMatch[] = [
  'any',
  'manifest-put',
  'manifest-head',
  'head',
  'blob-upload',
  'manifest-get',
  'blob-get',
];

export type FaultStatus = 500 | 502 | 503 | 504 | 400 | 401 | 403 | 404 | 405 | 408 | 415 | 429;
const STATUSES: readonly number[] = [500, 502, 503, 504, 400, 401, 403, 404, 405, 408, 415, 429];

export type FaultAction =
  /** forward (a rule that passes still stops the search: it shields a request from later rules) */
  | 'pass'
  /**
   * Answer this status with a registry-style JSON error body; the request is not forwarded. With
   * 429 (body `TOOMANYREQUESTS`) a wait can be given: `retryAfter` (seconds) adds a `Retry-After`
   * header to Docker Hub's body; `waitInText` (a Go duration such as `12.5ms`) answers GHCR's body,
   * whose message carries the wait: `retry-after: 12.5ms, allowed: 2000/minute`.
   */
  | { status: FaultStatus; retryAfter?: number; waitInText?: string }
  /** answer 403 with GHCR's secondary rate limit body (`DENIED`, "You have exceeded a secondary rate limit") */
  | 'secondary-rate-limit'
  /**
   * Read-after-write lag (match `manifest-put`): the PUT is forwarded; once the registry accepted
   * it (2xx) and when it named a tag, GET and HEAD of that tag answer 404 `MANIFEST_UNKNOWN` for
   * `lagMs` milliseconds, then pass. A later `setRules` ends every lag.
   */
  | { lagMs: number }
  /**
   * ECR's immutable tags (match `manifest-put`): a PUT to a tag that already exists upstream (a
   * HEAD first, with the client's headers) is answered 400 `TAG_INVALID`, whatever digest it
   * carries, as ECR does; a PUT by digest, or to a new tag, is forwarded.
   */
  | 'immutable'
  /** answer 429 with Docker Hub's `TOOMANYREQUESTS` body; the request is not forwarded */
  | 'toomanyrequests'
  /**
   * Reset the connection. A blob upload (a request to `/blobs/uploads/`) is cut while it is being
   * received (after its first body chunk; at once when it has no body) and never reaches the
   * registry. Anything else is forwarded, and the connection is reset in the middle of the
   * response body, or before any byte of the response when it has no body (a manifest PUT then
   * lands in the registry while the client sees the connection die).
   */
  | 'reset'
  /** hold the request this many milliseconds, then forward it (not at all if the client left) */
  | { stall: number };

export interface FaultRule {
  /** default `any` */
  match?: FaultMatch;
  action: FaultAction;
  /** probability (0..1) that the rule fires on a matching request; default 1 */
  rate?: number;
  /** only the first N matching requests can fire the rule (counted whether or not they fired) */
  times?: number;
  /**
   * only requests of this client: `action` sends ACTION_USER_AGENT (its registry client),
   * `buildx` its own; default both
   */
  from?: 'action' | 'buildx';
}

export interface FaultLogEntry {
  method: string;
  /** path and query as the client sent them */
  path: string;
  /** index of the rule that fired, if any */
  rule?: number;
  /**
   * `pass`, `503`, `toomanyrequests`, `reset`, `stall 8000ms`, `429 retry-after 2s`,
   * `429 wait 12.5ms in text`, `secondary-rate-limit`, `lag 3000ms` (the PUT),
   * `lag 404` (a read answered during a lag), `immutable: refused`, `immutable: new tag`, or
   * `upstream error: ...`
   */
  action: string;
}

export interface FaultProxyStats {
  requests: number;
  /** requests answered other than by forwarding them as they came (a stall counts; a lag or immutable rule only when it refused) */
  faulted: number;
  /** how often each rule fired, by index in the current rules */
  byRule: number[];
}

export interface FaultProxy {
  /** `127.0.0.1:PORT`, as it appears in image references */
  host: string;
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** Replaces the rules; their `times` counters and `byRule` start again from zero. */
  setRules(rules: FaultRule[]): void;
  stats(): FaultProxyStats;
  /** The most recent requests (at most `logLimit`, oldest first). */
  log: FaultLogEntry[];
  /** Closes the listener and every connection, stalled ones included, and the upstream sockets. */
  stop(): Promise<void>;
}

export interface StartFaultProxyOptions {
  /** The registry: `http://127.0.0.1:PORT`. */
  target: string;
  rules?: FaultRule[];
  /** Seed of the PRNG behind `rate` (default 1). */
  seed?: number;
  /** Entries kept in `log` (default 5000). */
  logLimit?: number;
}

/** The body Docker Hub answers with when the pull rate limit is reached. */
export const TOO_MANY_REQUESTS_BODY =
  '{"errors":[{"code":"TOOMANYREQUESTS","message":"toomanyrequests: You have reached your pull rate limit."}]}';

/** The body GHCR answers a 429 with: the wait is in the message (there is no `Retry-After`). */
export function ghcrTooManyRequestsBody(wait: string): string {
  return JSON.stringify({
    errors: [{ code: 'TOOMANYREQUESTS', message: `retry-after: ${wait}, allowed: 2000/minute` }],
  });
}

/**
 * The body GHCR answers its secondary rate limit with (a 403): GitHub's API message wrapped by
 * GHCR's front as `permission_denied: Error from intermediary ...` under code `DENIED`.
 */
export const SECONDARY_RATE_LIMIT_BODY = JSON.stringify({
  errors: [
    {
      code: 'DENIED',
      message:
        'permission_denied: Error from intermediary with HTTP status code 403 "Forbidden" - with-body: {\n' +
        '  "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try ' +
        'again. If you reach out to GitHub Support for help, please include the request ID ' +
        '0000:000000:000000:000000:00000000."\n}',
    },
  ],
});

/** ECR's answer to an overwrite of a tag in an IMMUTABLE repository. */
export function tagInvalidBody(repo: string, tag: string): string {
  const message =
    `The image tag '${tag}' already exists in the '${repo}' repository and cannot be overwritten ` +
    'because the repository is immutable.';
  return JSON.stringify({ errors: [{ code: 'TAG_INVALID', message }] });
}

const MANIFEST_PATH = /^\/v2\/.+\/manifests\/[^/]+$/;
const MANIFEST_PARTS = /^\/v2\/(.+)\/manifests\/([^/]+)$/;

/** `{ repo, tag }` of a manifest path that names a tag (not a digest), else undefined. */
export function manifestTag(pathAndQuery: string): { repo: string; tag: string } | undefined {
  const m = MANIFEST_PARTS.exec(pathAndQuery.split('?')[0] ?? '');
  if (!m || (m[2] as string).includes(':')) return undefined;
  return { repo: m[1] as string, tag: m[2] as string };
}

/** Every manifest media type, for the proxy's own HEAD of a tag. */
const ANY_MANIFEST = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');
const UPLOAD_PATH = /^\/v2\/.+\/blobs\/uploads(\/.*)?$/;
const BLOB_PATH = /^\/v2\/.+\/blobs\/[^/]+$/;

/** Whether a request is one that `match` names. */
export function requestMatches(match: FaultMatch, method: string, pathAndQuery: string): boolean {
  const p = pathAndQuery.split('?')[0] ?? '';
  const m = method.toUpperCase();
  switch (match) {
    case 'any':
      return true;
    case 'manifest-put':
      return m === 'PUT' && MANIFEST_PATH.test(p);
    case 'manifest-head':
      return m === 'HEAD' && MANIFEST_PATH.test(p);
    case 'head':
      return m === 'HEAD';
    case 'blob-upload':
      return UPLOAD_PATH.test(p);
    case 'manifest-get':
      return m === 'GET' && MANIFEST_PATH.test(p);
    case 'blob-get':
      return m === 'GET' && BLOB_PATH.test(p) && !UPLOAD_PATH.test(p);
  }
}

/** mulberry32: a small seeded PRNG, uniform on [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SIMPLE_ACTIONS: readonly unknown[] = [
  'pass',
  'toomanyrequests',
  'reset',
  'secondary-rate-limit',
  'immutable',
];
const isMs = (n: unknown) => typeof n === 'number' && Number.isFinite(n) && n >= 0;

function validAction(a: unknown): boolean {
  if (SIMPLE_ACTIONS.includes(a)) return true;
  if (typeof a !== 'object' || a === null) return false;
  const o = a as {
    status?: unknown;
    retryAfter?: unknown;
    waitInText?: unknown;
    stall?: unknown;
    lagMs?: unknown;
  };
  if ('stall' in o) return isMs(o.stall);
  if ('lagMs' in o) return isMs(o.lagMs);
  if (!('status' in o) || !STATUSES.includes(o.status as number)) return false;
  if (o.retryAfter !== undefined && (o.status !== 429 || !isMs(o.retryAfter))) return false;
  if (o.waitInText !== undefined) {
    return (
      o.status === 429 && typeof o.waitInText === 'string' && /^[0-9.]+(ns|us|µs|ms|s|m)$/.test(o.waitInText)
    );
  }
  return true;
}

function validateRules(rules: FaultRule[]): FaultRule[] {
  return rules.map((rule, i) => {
    const where = `fault rule ${i}`;
    if (rule.match !== undefined && !FAULT_MATCHES.includes(rule.match)) {
      throw new Error(`${where}: unknown match "${String(rule.match)}"`);
    }
    if (!validAction(rule.action)) throw new Error(`${where}: bad action ${JSON.stringify(rule.action)}`);
    if (rule.rate !== undefined && !(rule.rate >= 0 && rule.rate <= 1)) {
      throw new Error(`${where}: rate must be within 0..1, got ${rule.rate}`);
    }
    if (rule.times !== undefined && !(Number.isInteger(rule.times) && rule.times >= 0)) {
      throw new Error(`${where}: times must be a whole number >= 0, got ${rule.times}`);
    }
    return { ...rule };
  });
}

function describeAction(action: FaultAction): string {
  if (typeof action === 'string') return action;
  if ('lagMs' in action) return `lag ${action.lagMs}ms`;
  if ('stall' in action) return `stall ${action.stall}ms`;
  if (action.retryAfter !== undefined) return `${action.status} retry-after ${action.retryAfter}s`;
  if (action.waitInText !== undefined) return `${action.status} wait ${action.waitInText} in text`;
  return String(action.status);
}

const STATUS_ERRORS: Record<number, { code: string; message: string }> = {
  500: { code: 'UNKNOWN', message: 'unknown error' },
  502: { code: 'UNKNOWN', message: 'bad gateway' },
  503: { code: 'UNAVAILABLE', message: 'service unavailable' },
  504: { code: 'UNKNOWN', message: 'gateway timeout' },
  401: { code: 'UNAUTHORIZED', message: 'authentication required' },
  403: { code: 'DENIED', message: 'requested access to the resource is denied' },
  400: { code: 'MANIFEST_INVALID', message: 'manifest invalid' },
  405: { code: 'UNSUPPORTED', message: 'The operation is unsupported.' },
  408: { code: 'UNKNOWN', message: 'request timeout' },
  415: { code: 'MANIFEST_INVALID', message: 'unsupported media type' },
};

/** Status, headers and body of an injected `{ status }` answer. */
function statusAnswer(
  action: { status: FaultStatus; retryAfter?: number; waitInText?: string },
  pathOnly: string,
): { headers: Record<string, string>; body: string } {
  if (action.status !== 429) return { headers: {}, body: errorBody(action.status, pathOnly) };
  if (action.waitInText !== undefined)
    return { headers: {}, body: ghcrTooManyRequestsBody(action.waitInText) + '\n' };
  const headers: Record<string, string> = {};
  if (action.retryAfter !== undefined) headers['Retry-After'] = String(action.retryAfter);
  return { headers, body: TOO_MANY_REQUESTS_BODY + '\n' };
}

/** A registry-style error body (`{"errors":[{code, message, detail}]}`) for an injected status. */
function errorBody(status: number, pathOnly: string): string {
  let e = STATUS_ERRORS[status];
  if (status === 404) {
    e = MANIFEST_PATH.test(pathOnly)
      ? { code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }
      : BLOB_PATH.test(pathOnly) && !UPLOAD_PATH.test(pathOnly)
        ? { code: 'BLOB_UNKNOWN', message: 'blob unknown to registry' }
        : { code: 'NAME_UNKNOWN', message: 'repository name not known to registry' };
  }
  const { code, message } = e ?? { code: 'UNKNOWN', message: 'unknown error' };
  return JSON.stringify({ errors: [{ code, message, detail: `fault-proxy: injected ${status}` }] }) + '\n';
}

// Headers that belong to one connection, not to the message (RFC 9110 7.6.1), and Expect: the
// proxy's own server has already answered `100-continue` to the client.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'upgrade',
  'expect',
]);

function endToEndHeaders(raw: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    if (!HOP_BY_HOP.has(name.toLowerCase())) out.push(name, raw[i + 1] as string);
  }
  return out;
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return Number(length) > 0;
  return req.headers['transfer-encoding'] !== undefined;
}

/** Resets a socket (RST where the platform allows it, else a plain close). */
function resetSocket(socket: Socket | null | undefined): void {
  if (!socket || socket.destroyed) return;
  const s = socket as Socket & { resetAndDestroy?: () => Socket };
  if (typeof s.resetAndDestroy === 'function') s.resetAndDestroy();
  else s.destroy();
}

/** Starts a fault proxy on a free 127.0.0.1 port in front of `target`. */
export async function startFaultProxy(opts: StartFaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(opts.target);
  if (target.protocol !== 'http:') throw new Error(`fault proxy: target must be http://, got ${opts.target}`);
  const targetHost = target.hostname;
  const targetPort = Number(target.port || 80);
  const logLimit = opts.logLimit ?? 5000;
  const random = seededRandom(opts.seed ?? 1);

  let rules: FaultRule[] = [];
  let matched: number[] = [];
  let byRule: number[] = [];
  let requests = 0;
  let faulted = 0;
  const log: FaultLogEntry[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  let stopped = false;

  /** Tags (`repo:tag`) that read as unknown until a time, and the lag rule behind each. */
  let lagging = new Map<string, { until: number; rule: number }>();
  const setRules = (next: FaultRule[]) => {
    rules = validateRules(next);
    lagging = new Map();
    matched = rules.map(() => 0);
    byRule = rules.map(() => 0);
  };
  setRules(opts.rules ?? []);

  const record = (entry: FaultLogEntry) => {
    log.push(entry);
    if (log.length > logLimit) log.splice(0, log.length - logLimit);
  };

  /** The rule that fires on this request, if any (counts matches for `times`). */
  const decide = (
    method: string,
    url: string,
    userAgent?: string,
  ): { index: number; rule: FaultRule } | undefined => {
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i] as FaultRule;
      if (!requestMatches(rule.match ?? 'any', method, url)) continue;
      if (rule.from !== undefined && rule.from !== (byTheAction(userAgent) ? 'action' : 'buildx')) continue;
      const n = (matched[i] = (matched[i] ?? 0) + 1);
      if (rule.times !== undefined && n > rule.times) continue;
      const rate = rule.rate ?? 1;
      if (rate < 1 && !(random() < rate)) continue;
      return { index: i, rule };
    }
    return undefined;
  };

  const sendError = (
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    body: string,
    extra: Record<string, string> = {},
  ) => {
    const headers: Record<string, string | number> = {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
      'Docker-Distribution-Api-Version': 'registry/2.0',
      ...extra,
    };
    // The request body (a refused PUT) is read and dropped, so the connection stays usable.
    req.resume();
    if (status === 401) headers['Www-Authenticate'] = 'Basic realm="fault-proxy"';
    res.writeHead(status, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  /** Forwards the request; with `cut`, resets the connection mid-way through the response body. */
  const forward = (
    req: IncomingMessage,
    res: ServerResponse,
    cut: boolean,
    retried = false,
    onStatus?: (status: number) => void,
  ) => {
    const headers = endToEndHeaders(req.rawHeaders);
    const bodyless = !hasBody(req);
    const up = http.request({
      host: targetHost,
      port: targetPort,
      method: req.method,
      path: req.url,
      headers,
      agent,
      setHost: false,
    });
    let answered = false;
    const clientGone = () => {
      if (!res.writableFinished) up.destroy();
    };
    res.on('close', clientGone);
    up.on('response', (upRes) => {
      answered = true;
      const status = upRes.statusCode ?? 502;
      onStatus?.(status);
      const outHeaders = endToEndHeaders(upRes.rawHeaders);
      if (!cut) {
        res.writeHead(status, upRes.statusMessage, outHeaders);
        upRes.pipe(res);
        upRes.on('error', () => res.destroy());
        return;
      }
      const chunks: Buffer[] = [];
      upRes.on('data', (c: Buffer) => chunks.push(c));
      upRes.on('error', () => resetSocket(req.socket));
      upRes.on('end', () => {
        const body = Buffer.concat(chunks);
        if (req.method === 'HEAD' || body.length < 2) {
          resetSocket(req.socket);
          return;
        }
        // Announce the whole body, send the first half, make sure it left, then reset.
        const framed: string[] = [];
        for (let i = 0; i + 1 < outHeaders.length; i += 2) {
          const name = (outHeaders[i] as string).toLowerCase();
          if (name !== 'content-length' && name !== 'transfer-encoding') {
            framed.push(outHeaders[i] as string, outHeaders[i + 1] as string);
          }
        }
        res.writeHead(status, upRes.statusMessage, [...framed, 'Content-Length', String(body.length)]);
        res.write(body.subarray(0, Math.floor(body.length / 2)), () => {
          const t = setTimeout(() => {
            timers.delete(t);
            resetSocket(req.socket);
          }, 20);
          timers.add(t);
        });
      });
    });
    up.on('error', (err: NodeJS.ErrnoException) => {
      if (stopped || res.destroyed) return;
      // A keep-alive connection the registry closed while idle: retry a bodiless request once.
      if (!answered && !retried && bodyless && up.reusedSocket && err.code === 'ECONNRESET') {
        res.off('close', clientGone);
        forward(req, res, cut, true, onStatus);
        return;
      }
      record({ method: req.method ?? '', path: req.url ?? '', action: `upstream error: ${err.message}` });
      if (res.headersSent) res.destroy();
      else sendError(req, res, 502, errorBody(502, ''));
    });
    if (bodyless) up.end();
    else req.pipe(up);
  };

  /** A HEAD of `repo:tag` upstream with the client's credentials: its status, or 0 when it failed. */
  const headUpstream = (req: IncomingMessage, repo: string, tag: string): Promise<number> =>
    new Promise((resolve) => {
      const headers: Record<string, string> = { accept: ANY_MANIFEST };
      if (req.headers.authorization) headers.authorization = req.headers.authorization;
      if (req.headers.host) headers.host = req.headers.host;
      const up = http.request({
        host: targetHost,
        port: targetPort,
        method: 'HEAD',
        path: `/v2/${repo}/manifests/${tag}`,
        headers,
        agent,
      });
      up.on('response', (r) => {
        r.resume();
        resolve(r.statusCode ?? 0);
      });
      up.on('error', () => resolve(0));
      up.end();
    });

  /** PUTs to one tag under an immutable rule, one at a time (the last one's end, by `repo:tag`). */
  const tagQueues = new Map<string, Promise<void>>();

  /**
   * ECR's immutable tags: refuse a PUT to a tag that exists upstream, forward anything else. PUTs
   * to the same tag wait for each other, so of two racing PUTs to a new tag only the first lands.
   */
  const immutable = async (req: IncomingMessage, res: ServerResponse, entry: FaultLogEntry) => {
    const named = manifestTag(req.url ?? '');
    if (!named) {
      entry.action = 'immutable: by digest';
      return forward(req, res, false);
    }
    const key = `${named.repo}:${named.tag}`;
    const before = tagQueues.get(key) ?? Promise.resolve();
    const done = new Promise<void>((resolve) => res.once('close', () => resolve()));
    tagQueues.set(key, done);
    await before;
    const exists = (await headUpstream(req, named.repo, named.tag)) === 200;
    if (stopped || res.destroyed) return;
    if (!exists) {
      entry.action = 'immutable: new tag';
      return forward(req, res, false);
    }
    faulted++;
    entry.action = 'immutable: refused';
    sendError(req, res, 400, tagInvalidBody(named.repo, named.tag) + '\n');
  };

  const lagKey = (pathAndQuery: string) => {
    const named = manifestTag(pathAndQuery);
    return named ? `${named.repo}:${named.tag}` : undefined;
  };
  /** The lag rule a GET or HEAD of a tag is held back by, if any. */
  const lagOf = (method: string, url: string): number | undefined => {
    if (method !== 'GET' && method !== 'HEAD') return undefined;
    const key = lagKey(url);
    const lag = key === undefined ? undefined : lagging.get(key);
    if (!lag) return undefined;
    if (Date.now() < lag.until) return lag.rule;
    lagging.delete(key as string);
    return undefined;
  };
  const startLag = (url: string, ms: number, rule: number) => (status: number) => {
    const key = lagKey(url);
    if (key !== undefined && status >= 200 && status < 300)
      lagging.set(key, { until: Date.now() + ms, rule });
  };

  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    requests++;
    const pathOnly = url.split('?')[0] ?? '';
    const lagRule = lagOf(method, url);
    if (lagRule !== undefined) {
      faulted++;
      record({ method, path: url, rule: lagRule, action: 'lag 404' });
      return sendError(req, res, 404, errorBody(404, pathOnly));
    }
    const fired = decide(method, url, req.headers['user-agent']);
    const action: FaultAction = fired?.rule.action ?? 'pass';
    if (fired) {
      byRule[fired.index] = (byRule[fired.index] ?? 0) + 1;
      if (action !== 'pass' && action !== 'immutable' && !(typeof action === 'object' && 'lagMs' in action)) {
        faulted++;
      }
    }
    const entry: FaultLogEntry = { method, path: url, rule: fired?.index, action: describeAction(action) };
    record(entry);

    if (action === 'pass') return forward(req, res, false);
    if (action === 'toomanyrequests') return sendError(req, res, 429, TOO_MANY_REQUESTS_BODY + '\n');
    if (action === 'secondary-rate-limit') return sendError(req, res, 403, SECONDARY_RATE_LIMIT_BODY + '\n');
    if (action === 'immutable') return void immutable(req, res, entry);
    if (action === 'reset') {
      if (!UPLOAD_PATH.test(pathOnly)) return forward(req, res, true);
      // An upload: cut it while it comes in, and the registry never sees it.
      if (!hasBody(req)) return resetSocket(req.socket);
      req.once('data', () => resetSocket(req.socket));
      req.once('end', () => resetSocket(req.socket));
      return;
    }
    if ('lagMs' in action) {
      return forward(req, res, false, false, startLag(url, action.lagMs, fired?.index ?? 0));
    }
    if ('status' in action) {
      const answer = statusAnswer(action, pathOnly);
      return sendError(req, res, action.status, answer.body, answer.headers);
    }
    const t = setTimeout(() => {
      timers.delete(t);
      if (!res.destroyed && !req.socket.destroyed) forward(req, res, false);
    }, action.stall);
    timers.add(t);
  });
  // Never be the side that drops an idle keep-alive connection or times a stalled request out:
  // registry 2.8 (a Go server without timeouts) does neither.
  server.keepAliveTimeout = 0;
  server.requestTimeout = 0;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_err, socket: Socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  let stopping: Promise<void> | undefined;

  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    setRules,
    stats: () => ({ requests, faulted, byRule: [...byRule] }),
    log,
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        stopped = true;
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        agent.destroy();
      });
      return stopping;
    },
  };
}
