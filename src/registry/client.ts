// Reads tags back from a registry through the distribution API: one HEAD per tag (a GET when the
// registry gives no digest header), with the credentials `docker login` left in the Docker config
// (inline auths, credential helpers, Bearer token exchange). Credentials are never logged. HTTP
// goes through src/http/request.ts (node:http), never `fetch`: see there why.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { dockerConfigDir } from '../docker/config-dir.js';
import { type HttpRequest, type HttpResponse, readAll, request } from '../http/request.js';
import { DOCKER_HUB, type ImageRef } from './reference.js';
import { isLoopbackAuthority } from '../util/loopback.js';

/** Whether the Docker config has credentials for a host (`unknown`: it could not be read). */
export type CredentialsKnown = 'yes' | 'no' | 'unknown';

export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

export interface Credentials {
  username?: string;
  password?: string;
  identityToken?: string;
}

export interface RegistryClientOptions {
  /** folder holding config.json; default $DOCKER_CONFIG, or ~/.docker when it is unset or empty */
  dockerConfigDir?: string;
  requestTimeoutMs?: number;
  /** attempts per read on network errors and 5xx */
  attempts?: number;
}

export class RegistryError extends Error {
  constructor(
    message: string,
    readonly status?: number,
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

/** The keys a `docker login` to this host may have been stored under. */
export function configKeys(domain: string): string[] {
  if (domain === DOCKER_HUB)
    return ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io'];
  return [domain, `https://${domain}`, `http://${domain}`, `https://${domain}/v1/`, `https://${domain}/v2/`];
}

interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
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
  private config?: Promise<{ config: DockerConfig; readable: boolean }>;
  private readonly tokens = new Map<string, string>();
  private readonly creds = new Map<string, Promise<Lookup>>();
  private readonly timeoutMs: number;
  private readonly attempts: number;

  constructor(private readonly opts: RegistryClientOptions = {}) {
    this.timeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.attempts = opts.attempts ?? 3;
  }

  /** The digest a reference resolves to, or null when the registry has no such manifest. */
  async digestOf(ref: ImageRef): Promise<string | null> {
    const reference = ref.digest ?? ref.tag ?? 'latest';
    const url = `${registryBaseUrl(ref.domain)}/v2/${ref.path}/manifests/${reference}`;
    let lastError: unknown;
    for (let i = 1; i <= this.attempts; i++) {
      try {
        return await this.readDigest(ref, url);
      } catch (err) {
        lastError = err;
        const status = err instanceof RegistryError ? err.status : undefined;
        const retryable = status === undefined || status >= 500 || status === 429;
        if (!retryable || i === this.attempts) break;
        await new Promise((r) => setTimeout(r, 250 * 2 ** (i - 1)));
      }
    }
    throw lastError;
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
      if (!res.ok) throw new RegistryError(`GET ${url}: ${res.status} ${res.statusText}`, res.status);
      const body = await readAll(res);
      return `sha256:${createHash('sha256').update(body).digest('hex')}`;
    }
    throw new RegistryError(`HEAD ${url}: ${res.status} ${res.statusText}`, res.status);
  }

  private async request(ref: ImageRef, url: string, method: 'HEAD' | 'GET'): Promise<HttpResponse> {
    const scopeKey = `${ref.domain}/${ref.path}`;
    const headers: Record<string, string> = { Accept: MANIFEST_ACCEPT };
    const token = this.tokens.get(scopeKey);
    if (token) headers.Authorization = token;
    let res = await this.fetch(url, { method, headers });
    if (res.status === 401) {
      const challenge = res.headers.get('www-authenticate');
      res.discard();
      if (!challenge) return res;
      const auth = await this.authorize(ref, challenge);
      if (!auth) return res;
      this.tokens.set(scopeKey, auth);
      res = await this.fetch(url, { method, headers: { ...headers, Authorization: auth } });
    }
    return res;
  }

  private async fetch(url: string, init: HttpRequest): Promise<HttpResponse> {
    try {
      return await request(url, { ...init, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      const e = err as { code?: string; message?: string };
      throw new RegistryError(`${init.method} ${url}: ${e.code ?? e.message ?? String(err)}`);
    }
  }

  /** Answers a 401 challenge: Basic with the stored credentials, or a Bearer token exchange. */
  private async authorize(ref: ImageRef, challenge: string): Promise<string | undefined> {
    const { scheme, params } = parseChallenge(challenge);
    const creds = await this.credentialsFor(ref.domain);
    if (scheme === 'basic') {
      if (!creds?.username || creds.password === undefined) return undefined;
      return basicAuth(creds.username, creds.password);
    }
    if (scheme !== 'bearer' || !params.realm) return undefined;
    const realm = new URL(params.realm);
    const res = await this.fetchToken(realm, params.service ?? '', `repository:${ref.path}:pull`, creds);
    if (!res.ok) res.discard();
    if (!res.ok)
      throw new RegistryError(`token request to ${realm.host}: ${res.status} ${res.statusText}`, res.status);
    const body = JSON.parse((await readAll(res)).toString('utf8')) as {
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
      const res = await this.fetch(realm.toString(), {
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
    return this.fetch(url.toString(), {
      method: 'GET',
      headers: authorization ? { Authorization: authorization } : {},
    });
  }

  /** config.json; `readable: false` when it exists but cannot be read or parsed (a missing one is empty). */
  private loadConfig(): Promise<{ config: DockerConfig; readable: boolean }> {
    this.config ??= (async () => {
      const dir = this.opts.dockerConfigDir ?? dockerConfigDir();
      let text: string;
      try {
        text = await readFile(join(dir, 'config.json'), 'utf8');
      } catch (err) {
        return { config: {}, readable: (err as NodeJS.ErrnoException).code === 'ENOENT' };
      }
      try {
        const config = JSON.parse(text) as unknown;
        if (config && typeof config === 'object') return { config: config as DockerConfig, readable: true };
      } catch {
        // below
      }
      return { config: {}, readable: false };
    })();
    return this.config;
  }

  credentialsFor(domain: string): Promise<Credentials | undefined> {
    return this.lookup(domain).then((l) => l.creds);
  }

  /**
   * Whether the Docker config holds credentials for a host, as buildx would find them (auths,
   * credsStore, credHelpers): `unknown` when the config cannot be read or parsed, or the credential
   * helper it names cannot be run.
   */
  credentialsKnown(domain: string): Promise<CredentialsKnown> {
    return this.lookup(domain).then((l) => l.known);
  }

  private lookup(domain: string): Promise<Lookup> {
    let p = this.creds.get(domain);
    if (!p) {
      p = this.lookupCredentials(domain);
      this.creds.set(domain, p);
    }
    return p;
  }

  private async lookupCredentials(domain: string): Promise<Lookup> {
    const { config, readable } = await this.loadConfig();
    if (!readable) return { known: 'unknown' };
    const keys = configKeys(domain);
    const helper = keys.map((k) => config.credHelpers?.[k]).find(Boolean) ?? config.credsStore;
    let helperFailed = false;
    if (helper) {
      const answer = await askCredentialHelper(helper, keys[0] as string);
      if (typeof answer === 'object') return { creds: answer, known: 'yes' };
      helperFailed = answer === 'failed';
    }
    const inline = inlineCredentials(config, keys);
    if (inline) return { creds: inline, known: 'yes' };
    return { known: helperFailed ? 'unknown' : 'no' };
  }
}

interface Lookup {
  creds?: Credentials;
  known: CredentialsKnown;
}

function basicAuth(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/** The credentials `docker login` wrote into config.json itself (no credential store). */
function inlineCredentials(config: DockerConfig, keys: readonly string[]): Credentials | undefined {
  for (const key of keys) {
    const entry = config.auths?.[key];
    if (!entry) continue;
    let basic: Credentials | undefined;
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) basic = { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
    if (!basic && entry.username) basic = { username: entry.username, password: entry.password ?? '' };
    if (entry.identitytoken) return { username: basic?.username, identityToken: entry.identitytoken };
    if (basic) return basic;
  }
  return undefined;
}

/**
 * Asks `docker-credential-<helper> get` for a server's credentials (no shell; stdin carries the
 * host): the credentials, `none` when the helper has none for it, `failed` when it could not be asked.
 */
export function askCredentialHelper(
  helper: string,
  server: string,
  timeoutMs = 10_000,
): Promise<Credentials | 'none' | 'failed'> {
  if (!/^[A-Za-z0-9._-]+$/.test(helper)) return Promise.resolve('failed');
  return new Promise((resolve) => {
    const child = spawn(`docker-credential-${helper}`, ['get'], {
      stdio: ['pipe', 'pipe', 'ignore'],
      shell: false,
    });
    const out: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', () => {
      clearTimeout(timer);
      resolve('failed');
    });
    child.stdin.on('error', () => undefined); // a helper that exits before reading
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.on('close', (code) => {
      clearTimeout(timer);
      const text = Buffer.concat(out).toString('utf8');
      if (code !== 0)
        return resolve(code !== null && /credentials not found/i.test(text) ? 'none' : 'failed');
      try {
        const { Username, Secret } = JSON.parse(text) as { Username?: string; Secret?: string };
        if (!Secret) return resolve('none');
        resolve(
          Username === '<token>' ? { identityToken: Secret } : { username: Username, password: Secret },
        );
      } catch {
        resolve('failed');
      }
    });
    child.stdin.end(server);
  });
}
