// A Docker token server (the "token flow" of Docker Hub, GHCR and most hosted registries) for a
// real registry 2.8 started with `auth: token` (see startRegistry's `token` option).
//
//   GET  /token?service=&scope=...   Basic auth, or none for an anonymous token
//   POST /token                      form: grant_type=password (username, password) or
//                                    grant_type=refresh_token (refresh_token), service, scope
//
// Tokens are RS256 JWTs carrying the server's self-signed certificate in their `x5c` header, so the
// registry verifies them against that certificate (its `rootcertbundle`). Each token grants the
// actions asked for that the caller holds: a user's `actions`, or `anonymous` without credentials
// (pull by default). Wrong credentials get 401, as Docker Hub's token server answers them.
import { createSign, randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { runCapture } from './proc.ts';

export interface TokenUser {
  password: string;
  /** repository actions this user may be granted, e.g. ['pull'] or ['pull', 'push'] */
  actions: string[];
  /** identity tokens (what `docker login` stores as `identitytoken`) that stand for this user */
  identityTokens?: string[];
}

export interface TokenServerOptions {
  /** the registry's `service` (the tokens' audience). Default `testbed-registry`. */
  service?: string;
  /** the tokens' issuer. Default `testbed-token-server`. */
  issuer?: string;
  users?: Record<string, TokenUser>;
  /** actions granted without credentials. Default ['pull']. */
  anonymous?: string[];
  /** methods answered with this status instead of a token (GCR answers POST with 404). */
  refuse?: Partial<Record<'GET' | 'POST', 404 | 405>>;
  /**
   * How long the registry takes a token (`expires_in`). Default 300 s. Registry 2.8 accepts a
   * token for 60 s past its `exp` (clock skew leeway), so `exp` is set that much earlier: a token
   * is refused (401 `invalid_token`) once ttlSeconds have passed, not a minute later.
   */
  ttlSeconds?: number;
}

export interface TokenRequest {
  method: string;
  /** `password`, `refresh_token`, `basic` (GET with Basic auth) or `anonymous` */
  grant: string;
  /** the user the credentials named, when they were right */
  user?: string;
  scopes: string[];
  status: number;
  /** the caller's User-Agent ('' without one): tells buildx's requests from the action's (byTheAction) */
  userAgent: string;
}

export interface Access {
  type: string;
  name: string;
  actions: string[];
}

export interface TokenServer {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `http://127.0.0.1:PORT/token`: the registry's `realm` */
  realm: string;
  service: string;
  issuer: string;
  /** the PEM certificate the registry trusts (`rootcertbundle`) */
  certFile: string;
  /** every token request so far (no secrets in it) */
  requests: TokenRequest[];
  /** signs a token directly: for test helpers that push source images past the registry's auth */
  issue(subject: string, access: Access[]): string;
  stop(): Promise<void>;
}

/** The clock skew registry 2.8 allows on a token's `exp` and `nbf` (measured: 60 s). */
const REGISTRY_LEEWAY_SECONDS = 60;

const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

/** `repository:demo/app:pull,push` -> { type, name, actions } (names hold no ':'; hosts do not appear). */
export function parseScope(scope: string): Access | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first) return undefined;
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: scope
      .slice(last + 1)
      .split(',')
      .filter(Boolean),
  };
}

/** What a caller holding `allowed` gets of the scopes it asked for. */
export function grant(scopes: string[], allowed: readonly string[]): Access[] {
  const out: Access[] = [];
  for (const s of scopes.flatMap((x) => x.split(' ')).filter(Boolean)) {
    const a = parseScope(s);
    if (!a || a.type !== 'repository') continue;
    out.push({ ...a, actions: a.actions.filter((x) => allowed.includes(x) || allowed.includes('*')) });
  }
  return out;
}

async function makeKeyPair(dir: string): Promise<{ key: string; certFile: string; der: string }> {
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  await runCapture('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-sha256',
    '-days',
    '2',
    '-subj',
    '/CN=safe-imagetools testbed token server',
    '-keyout',
    keyFile,
    '-out',
    certFile,
  ]);
  const der = new X509Certificate(readFileSync(certFile)).raw.toString('base64');
  return { key: readFileSync(keyFile, 'utf8'), certFile, der };
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function basicCredentials(header: string | undefined): { user: string; secret: string } | undefined {
  const m = header?.match(/^Basic\s+(\S+)$/i);
  if (!m) return undefined;
  const text = Buffer.from(m[1] as string, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return colon < 0 ? undefined : { user: text.slice(0, colon), secret: text.slice(colon + 1) };
}

export async function startTokenServer(opts: TokenServerOptions = {}): Promise<TokenServer> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sit-token-'));
  const { key, certFile, der } = await makeKeyPair(dir);
  const service = opts.service ?? 'testbed-registry';
  const issuer = opts.issuer ?? 'testbed-token-server';
  const users = opts.users ?? {};
  const anonymous = opts.anonymous ?? ['pull'];
  const ttl = opts.ttlSeconds ?? 300;
  const requests: TokenRequest[] = [];

  const issue = (subject: string, access: Access[]): string => {
    const now = Math.floor(Date.now() / 1000);
    const exp = now + ttl - REGISTRY_LEEWAY_SECONDS;
    const header = { typ: 'JWT', alg: 'RS256', x5c: [der] };
    const claims = {
      iss: issuer,
      sub: subject,
      aud: service,
      exp,
      nbf: Math.min(now - 10, exp),
      iat: now,
      jti: randomBytes(12).toString('hex'),
      access,
    };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = createSign('RSA-SHA256').update(signingInput).sign(key);
    return `${signingInput}.${b64url(signature)}`;
  };

  /** The user these credentials name, null when they are wrong. A password or an identity token. */
  const authenticate = (user: string, secret: string): string | null => {
    if (users[user]?.password === secret) return user;
    for (const [name, u] of Object.entries(users)) {
      if ((user === '' || user === name || user === '<token>') && u.identityTokens?.includes(secret))
        return name;
    }
    return null;
  };

  const answer = (res: http.ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://token.invalid');
    const method = req.method ?? 'GET';
    const record = (grantType: string, scopes: string[], status: number, user?: string): void => {
      requests.push({
        method,
        grant: grantType,
        user,
        scopes,
        status,
        userAgent: req.headers['user-agent'] ?? '',
      });
    };
    if (url.pathname !== '/token' || (method !== 'GET' && method !== 'POST')) {
      res.writeHead(404).end();
      return;
    }
    const refused = opts.refuse?.[method];
    if (refused) {
      await readBody(req);
      record('refused', [], refused);
      res.writeHead(refused, { 'content-type': 'text/plain' }).end(`${method} is not served here\n`);
      return;
    }
    // Who asks (undefined: anonymous; null: wrong credentials), with what grant, for which scopes.
    let grantType: string;
    let user: string | null | undefined;
    let scopes: string[];
    if (method === 'GET') {
      scopes = url.searchParams.getAll('scope');
      const basic = basicCredentials(req.headers.authorization);
      grantType = basic ? 'basic' : 'anonymous';
      user = basic ? authenticate(basic.user, basic.secret) : undefined;
    } else {
      const form = new URLSearchParams(await readBody(req));
      scopes = form.getAll('scope');
      grantType = form.get('grant_type') ?? '';
      if (grantType === 'password')
        user = authenticate(form.get('username') ?? '', form.get('password') ?? '');
      else if (grantType === 'refresh_token') user = authenticate('', form.get('refresh_token') ?? '');
      else {
        record(grantType, scopes, 400);
        answer(res, 400, { error: 'unsupported_grant_type' });
        return;
      }
    }
    if (user === null) {
      record(grantType, scopes, 401);
      answer(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'incorrect username or password' }] });
      return;
    }
    record(grantType, scopes, 200, user);
    const token = issue(user ?? '', grant(scopes, user ? (users[user]?.actions ?? []) : anonymous));
    const issued = { access_token: token, expires_in: ttl, issued_at: new Date().toISOString() };
    // GET answers as Docker's token servers do (`token`), POST as an OAuth token endpoint
    answer(res, 200, method === 'GET' ? { token, ...issued } : { ...issued, scope: scopes.join(' ') });
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  let stopping: Promise<void> | undefined;
  return {
    url,
    realm: `${url}/token`,
    service,
    issuer,
    certFile,
    requests,
    issue,
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }).then(() => rmSync(dir, { recursive: true, force: true }));
      return stopping;
    },
  };
}
