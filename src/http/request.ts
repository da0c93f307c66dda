// HTTP requests on node:http and node:https, with redirects followed: every request the action
// sends (downloads, the release list, the registry client) goes through here, and says who sends
// it: `User-Agent: safe-imagetools/<version>` (package.json's version, bundled with the code).
//
// Why not `fetch`: in a bundle that carries @actions/core, Node's `fetch` runs through the undici 6
// that @actions/http-client installs as the process-wide dispatcher, and that undici's HTTP/1
// parser asserts (an uncatchable `AssertionError: assert(!this.paused)`, nodejs/undici#5360) when a
// server closes the connection while a slow consumer has the body paused. Python's `http.server` as
// a mirror (HTTP/1.0: it closes the connection after each answer) set it off in 5 of 10 installs
// through the bundle on Node 24, and in 7 of 50 downloads; its keep-alive form never did
// (__tests__/e2e/install-python-mirror.test.ts runs 50 downloads of the real binary from each).
// Node's own HTTP client has no such state to trip on, and depends on no global that another
// module can replace.

import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';

import pkg from '../../package.json' with { type: 'json' };

/** Who sends every request, unless the request names itself otherwise. */
export const USER_AGENT = `safe-imagetools/${pkg.version}`;

export interface HttpRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  signal?: AbortSignal;
  /** redirects followed at most (default 10) */
  maxRedirects?: number;
}

export interface HttpResponse {
  status: number;
  statusText: string;
  ok: boolean;
  /** the URL that answered, after redirects */
  url: string;
  headers: { get(name: string): string | null };
  /** the body, unread: read it, or call `discard()` */
  body: IncomingMessage;
  discard(): void;
}

/** A network failure (no HTTP answer): `code` is Node's error code (ECONNRESET, ECONNREFUSED, ...). */
export class NetworkError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'NetworkError';
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

function headerGetter(res: IncomingMessage): HttpResponse['headers'] {
  return {
    get(name: string): string | null {
      const v = res.headers[name.toLowerCase()];
      if (v === undefined) return null;
      return Array.isArray(v) ? v.join(', ') : v;
    },
  };
}

function once(url: URL, req: HttpRequest): Promise<IncomingMessage> {
  const mod = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
  if (!mod) return Promise.reject(new NetworkError(`unsupported URL scheme ${url.protocol}`));
  return new Promise((resolve, reject) => {
    const headers = { 'User-Agent': USER_AGENT, ...req.headers };
    const r = mod.request(url, { method: req.method ?? 'GET', headers, signal: req.signal });
    r.once('response', resolve);
    r.once('error', (err: NodeJS.ErrnoException) => {
      if (req.signal?.aborted) return reject(req.signal.reason as Error);
      reject(new NetworkError(err.code ?? err.message, err.code));
    });
    r.end(req.body);
  });
}

/** What a redirect keeps of a request: the method (GET after a 303, or a 301/302 of a POST) and,
 * only on the same origin, the credentials, as browsers and `fetch` do. */
export function redirected(from: URL, to: URL, status: number, req: HttpRequest): HttpRequest {
  const headers = { ...req.headers };
  if (from.origin !== to.origin) {
    for (const k of Object.keys(headers)) if (/^(authorization|cookie)$/i.test(k)) delete headers[k];
  }
  const toGet = status === 303 || ((status === 301 || status === 302) && req.method === 'POST');
  if (!toGet) return { ...req, headers };
  for (const k of Object.keys(headers)) if (/^content-/i.test(k)) delete headers[k];
  return { ...req, method: 'GET', body: undefined, headers };
}

/** Sends a request and returns the response with its body unread, following redirects. */
export async function request(url: string, req: HttpRequest = {}): Promise<HttpResponse> {
  let current = new URL(url);
  let r = req;
  for (let hops = 0; ; hops++) {
    const res = await once(current, r);
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (REDIRECTS.has(status) && location) {
      res.resume();
      if (hops >= (req.maxRedirects ?? 10)) throw new NetworkError(`too many redirects (${hops})`);
      const next = new URL(location, current);
      r = redirected(current, next, status, r);
      current = next;
      continue;
    }
    return {
      status,
      statusText: res.statusMessage ?? '',
      ok: status >= 200 && status < 300,
      url: current.toString(),
      headers: headerGetter(res),
      body: res,
      discard: () => void res.resume(),
    };
  }
}

/** Reads a whole body (for small answers: JSON, checksum lists, error texts). */
export async function readBody(res: HttpResponse, limitBytes = 32 * 1024 * 1024): Promise<Buffer> {
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of res.body) {
    total += (chunk as Buffer).length;
    if (total > limitBytes) {
      res.body.destroy();
      throw new NetworkError(`answer larger than ${limitBytes} bytes`);
    }
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts);
}
