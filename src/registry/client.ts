// Reads tags back from a registry through the distribution API: one HEAD per tag (a GET when the
// registry gives no digest header), retried as the retry policy says (src/retry/policy.ts: network
// errors, 408, 429, 5xx; waiting at least the `Retry-After` the registry sent, seconds or an HTTP
// date, up to the backoff cap), answering 401
// challenges (Basic, or a Bearer token exchange) with the credentials of ./credentials.ts. One
// token per repository, asked once however many reads run at once, and asked again when the
// registry refuses it (it expired). It also writes a manifest to a tag (one PUT, with the
// repository's push token; the caller retries).
// Credentials are never logged. HTTP goes through src/http/request.ts (node:http), never `fetch`:
// see there why.

import { createHash } from 'node:crypto';

import { type Credentials, type CredentialsKnown, DockerCredentials } from './credentials.js';
import { type HttpRequest, type HttpResponse, readBody, request } from '../http/request.js';
import { MANIFEST_ACCEPT } from './media-types.js';
import { DOCKER_HUB, type ImageRef } from './reference.js';
import { isLoopbackAuthority } from '../util/loopback.js';
import { retryAfterMs } from '../retry/asked.js';
import { waitText } from '../retry/backoff.js';
import { answerVerdict, REGISTRY_READ_BACKOFF } from '../retry/policy.js';
import { retryingThrows } from '../retry/retrying.js';

export { configKeys, type Credentials, type CredentialsKnown } from './credentials.js';

export interface RegistryClientOptions {
  /** folder holding config.json; default $DOCKER_CONFIG, or ~/.docker when it is unset or empty */
  dockerConfigDir?: string;
  requestTimeoutMs?: number;
  /** attempts per read, on what the retry policy retries */
  attempts?: number;
  /** the longest wait between attempts, a Retry-After included (default 4 s) */
  maxDelayMs?: number;
}

export class RegistryError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    /** the wait the registry asked for in `Retry-After` (ms) */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

/** The API base URL of a registry host: plain HTTP on loopback, as buildx does; Hub's real host. */
export function registryBaseUrl(domain: string): string {
  if (domain === DOCKER_HUB) return 'https://registry-1.docker.io';
  return `${isLoopbackAuthority(domain) ? 'http' : 'https'}://${domain}`;
}

/** Parses a `WWW-Authenticate` header into its scheme and parameters. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const m = header.match(/^\s*(\w+)\s*(.*)$/);
  const scheme = (m?.[1] ?? '').toLowerCase();
  const params: Record<string, string> = {};
  for (const p of (m?.[2] ?? '').matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]*))/g)) {
    params[(p[1] as string).toLowerCase()] = p[2] ?? p[3] ?? '';
  }
  return { scheme, params };
}

export class RegistryClient {
  /** Per repository (`host/path`): its authorization (`Bearer <token>` or Basic), or the request for it. */
  private readonly auths = new Map<string, Promise<string | undefined>>();
  private readonly credentials: DockerCredentials;
  private readonly timeoutMs: number;
  private readonly attempts: number;

  constructor(private readonly opts: RegistryClientOptions = {}) {
    this.timeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.attempts = opts.attempts ?? 3;
    this.credentials = new DockerCredentials(opts.dockerConfigDir);
  }

  /** The digest a reference resolves to, or null when the registry has no such manifest. */
  async digestOf(ref: ImageRef): Promise<string | null> {
    const reference = ref.digest ?? ref.tag ?? 'latest';
    const url = `${registryBaseUrl(ref.domain)}/v2/${ref.path}/manifests/${reference}`;
    return retryingThrows(() => this.readDigest(ref, url), {
      attempts: this.attempts,
      backoff: { ...REGISTRY_READ_BACKOFF, capMs: this.opts.maxDelayMs ?? REGISTRY_READ_BACKOFF.capMs },
      // a failure that is no registry answer (a credential helper, a token body) counts as no answer
      judge: (err) => answerVerdict(err instanceof RegistryError ? err.status : undefined),
      askedWaitMs: (err) => (err instanceof RegistryError ? err.retryAfterMs : undefined),
    });
  }

  private async readDigest(ref: ImageRef, url: string): Promise<string | null> {
    let res = await this.request(ref, url, 'HEAD');
    res.discard(); // a HEAD answer has no body; this frees the connection
    if (res.status === 404) return null;
    const header = res.headers.get('docker-content-digest');
    if (res.ok && header) return header;
    if (res.ok || res.status === 405) {
      res = await this.request(ref, url, 'GET');
      if (!res.ok) res.discard();
      if (res.status === 404) return null;
      if (!res.ok) throw statusError('GET', url, res);
      const body = await readBody(res);
      return `sha256:${createHash('sha256').update(body).digest('hex')}`;
    }
    throw statusError('HEAD', url, res);
  }

  /**
   * One request with the repository's authorization, if any. A 401 (none yet, or the token
   * expired) is answered once: a new authorization, shared by every read of the repository that
   * got the same 401 meanwhile, and the request sent again with it.
   */
  private async request(
    ref: ImageRef,
    url: string,
    method: 'HEAD' | 'GET' | 'PUT',
    put?: { body: Buffer; mediaType: string },
  ): Promise<HttpResponse> {
    // A PUT needs the push scope: its token is the repository's push token, kept apart.
    const scopeKey = `${ref.domain}/${ref.path}${put ? ' push' : ''}`;
    const headers: Record<string, string> = put
      ? { 'Content-Type': put.mediaType, 'Content-Length': String(put.body.length) }
      : { Accept: MANIFEST_ACCEPT };
    const sent = this.auths.get(scopeKey);
    const token = sent && (await sent.catch(() => undefined));
    if (token) headers.Authorization = token;
    let res = await this.send(url, { method, headers, body: put?.body });
    if (res.status === 401) {
      const challenge = res.headers.get('www-authenticate');
      res.discard();
      if (!challenge) return res;
      const auth = await this.reauthorize(ref, scopeKey, challenge, sent, put !== undefined);
      if (!auth) return res;
      res = await this.send(url, { method, headers: { ...headers, Authorization: auth }, body: put?.body });
    }
    return res;
  }

  /**
   * Writes manifest bytes to a tag (`PUT /v2/<name>/manifests/<tag>`, one try: the caller retries)
   * with a push-scope token, and returns the digest the registry answered in
   * `Docker-Content-Digest` (null when it sent none). A refusal throws a RegistryError with the
   * status, the Retry-After asked for, and the start of the registry's answer.
   */
  async putManifest(ref: ImageRef, body: Buffer, mediaType: string): Promise<string | null> {
    const url = `${registryBaseUrl(ref.domain)}/v2/${ref.path}/manifests/${ref.tag ?? 'latest'}`;
    const res = await this.request(ref, url, 'PUT', { body, mediaType });
    if (!res.ok) {
      const text = (await readBody(res).catch(() => Buffer.alloc(0))).toString('utf8').slice(0, 300);
      const err = statusError('PUT', url, res);
      throw new RegistryError(
        `${err.message}${text ? `: ${text.trim()}` : ''}`,
        res.status,
        err.retryAfterMs,
      );
    }
    res.discard();
    return res.headers.get('docker-content-digest');
  }

  /**
   * The repository's new authorization after a 401 to a request sent with `sent`: the one another
   * read already asked for since, or a new one (dropped again if it fails, so a retry asks anew).
   */
  private reauthorize(
    ref: ImageRef,
    scopeKey: string,
    challenge: string,
    sent: Promise<string | undefined> | undefined,
    push = false,
  ): Promise<string | undefined> {
    const current = this.auths.get(scopeKey);
    if (current && current !== sent) return current;
    const next = this.authorize(ref, challenge, push);
    this.auths.set(scopeKey, next);
    next.catch(() => {
      if (this.auths.get(scopeKey) === next) this.auths.delete(scopeKey);
    });
    return next;
  }

  /** One request under the client's timeout; a network failure becomes a RegistryError. */
  private async send(url: string, init: HttpRequest): Promise<HttpResponse> {
    try {
      return await request(url, { ...init, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      const e = err as { code?: string; message?: string };
      throw new RegistryError(`${init.method} ${url}: ${e.code ?? e.message ?? String(err)}`);
    }
  }

  /** Answers a 401 challenge: Basic with the stored credentials, or a Bearer token exchange. */
  private async authorize(ref: ImageRef, challenge: string, push = false): Promise<string | undefined> {
    const { scheme, params } = parseChallenge(challenge);
    const creds = await this.credentialsFor(ref.domain);
    if (scheme === 'basic') {
      if (!creds?.username || creds.password === undefined) return undefined;
      return basicAuth(creds.username, creds.password);
    }
    if (scheme !== 'bearer' || !params.realm) return undefined;
    const realm = new URL(params.realm);
    const res = await this.fetchToken(
      realm,
      params.service ?? '',
      `repository:${ref.path}:${push ? 'pull,push' : 'pull'}`,
      creds,
    );
    if (!res.ok) res.discard();
    if (!res.ok)
      throw new RegistryError(`token request to ${realm.host}: ${res.status} ${res.statusText}`, res.status);
    const body = JSON.parse((await readBody(res)).toString('utf8')) as {
      token?: string;
      access_token?: string;
    };
    const token = body.token ?? body.access_token;
    return token ? `Bearer ${token}` : undefined;
  }

  /**
   * A token exchange: an identity token by POST (the OAuth refresh_token grant), and by GET with
   * Basic auth when the token server does not take POST (404 or 405; GCR answers 404), as
   * containerd does; a username and password by GET with Basic auth; nothing, anonymously.
   */
  private async fetchToken(
    realm: URL,
    service: string,
    scope: string,
    creds: Credentials | undefined,
  ): Promise<HttpResponse> {
    if (creds?.identityToken) {
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: creds.identityToken,
        service,
        scope,
        client_id: 'safe-imagetools',
      });
      const res = await this.send(realm.toString(), {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
      });
      if (res.status !== 404 && res.status !== 405) return res;
      res.discard();
      return this.getToken(realm, service, scope, basicAuth(creds.username ?? '', creds.identityToken));
    }
    const basic =
      creds?.username && creds.password !== undefined ? basicAuth(creds.username, creds.password) : undefined;
    return this.getToken(realm, service, scope, basic);
  }

  private getToken(
    realm: URL,
    service: string,
    scope: string,
    authorization?: string,
  ): Promise<HttpResponse> {
    const url = new URL(realm);
    if (service) url.searchParams.set('service', service);
    url.searchParams.set('scope', scope);
    return this.send(url.toString(), {
      method: 'GET',
      headers: authorization ? { Authorization: authorization } : {},
    });
  }

  credentialsFor(domain: string): Promise<Credentials | undefined> {
    return this.credentials.credentialsFor(domain);
  }

  /** See DockerCredentials.credentialsKnown. */
  credentialsKnown(domain: string): Promise<CredentialsKnown> {
    return this.credentials.credentialsKnown(domain);
  }
}

/** A refused read, with the wait the registry asked for (`Retry-After` on a 429 or 503). */
function statusError(method: string, url: string, res: HttpResponse): RegistryError {
  const asked = retryAfterMs(res.headers.get('retry-after'));
  const wait = asked === undefined ? '' : ` (Retry-After ${waitText(asked)})`;
  return new RegistryError(`${method} ${url}: ${res.status} ${res.statusText}${wait}`, res.status, asked);
}

function basicAuth(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}
