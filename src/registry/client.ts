// Reads tags back from a registry through the distribution API: one HEAD per tag (a GET when the
// registry gives no digest header), with the credentials `docker login` left in the Docker config
// (inline auths, credential helpers, Bearer token exchange). Credentials are never logged.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { dockerConfigDir } from '../docker/config-dir.js';
import { DOCKER_HUB, type ImageRef } from '../reference.js';

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

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/;

/** The API base URL of a registry host: plain HTTP on loopback, as buildx does; Hub's real host. */
export function registryBaseUrl(domain: string): string {
  if (domain === DOCKER_HUB) return 'https://registry-1.docker.io';
  return `${LOOPBACK.test(domain) ? 'http' : 'https'}://${domain}`;
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
  private config?: Promise<DockerConfig>;
  private readonly tokens = new Map<string, string>();
  private readonly creds = new Map<string, Promise<Credentials | undefined>>();
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
    if (res.status === 404) return null;
    const header = res.headers.get('docker-content-digest');
    if (res.ok && header) return header;
    if (res.ok || res.status === 405) {
      res = await this.request(ref, url, 'GET');
      if (res.status === 404) return null;
      if (!res.ok) throw new RegistryError(`GET ${url}: ${res.status} ${res.statusText}`, res.status);
      const body = Buffer.from(await res.arrayBuffer());
      return `sha256:${createHash('sha256').update(body).digest('hex')}`;
    }
    throw new RegistryError(`HEAD ${url}: ${res.status} ${res.statusText}`, res.status);
  }

  private async request(ref: ImageRef, url: string, method: 'HEAD' | 'GET'): Promise<Response> {
    const scopeKey = `${ref.domain}/${ref.path}`;
    const headers: Record<string, string> = { Accept: MANIFEST_ACCEPT };
    const token = this.tokens.get(scopeKey);
    if (token) headers.Authorization = token;
    let res = await this.fetch(url, { method, headers });
    if (res.status === 401) {
      const challenge = res.headers.get('www-authenticate');
      await res.arrayBuffer().catch(() => undefined);
      if (!challenge) return res;
      const auth = await this.authorize(ref, challenge);
      if (!auth) return res;
      this.tokens.set(scopeKey, auth);
      res = await this.fetch(url, { method, headers: { ...headers, Authorization: auth } });
    }
    return res;
  }

  private async fetch(url: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, { ...init, redirect: 'follow', signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new RegistryError(
        `${init.method} ${url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`,
      );
    }
  }

  /** Answers a 401 challenge: Basic with the stored credentials, or a Bearer token exchange. */
  private async authorize(ref: ImageRef, challenge: string): Promise<string | undefined> {
    const { scheme, params } = parseChallenge(challenge);
    const creds = await this.credentialsFor(ref.domain);
    if (scheme === 'basic') {
      if (!creds?.username || creds.password === undefined) return undefined;
      return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    }
    if (scheme !== 'bearer' || !params.realm) return undefined;
    const realm = new URL(params.realm);
    const scope = `repository:${ref.path}:pull`;
    let res: Response;
    if (creds?.identityToken) {
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: creds.identityToken,
        service: params.service ?? '',
        scope,
        client_id: 'safe-imagetools',
      });
      res = await this.fetch(realm.toString(), {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
      });
    } else {
      if (params.service) realm.searchParams.set('service', params.service);
      realm.searchParams.set('scope', scope);
      const headers: Record<string, string> = {};
      if (creds?.username && creds.password !== undefined) {
        headers.Authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
      }
      res = await this.fetch(realm.toString(), { method: 'GET', headers });
    }
    if (!res.ok)
      throw new RegistryError(`token request to ${realm.host}: ${res.status} ${res.statusText}`, res.status);
    const body = (await res.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    return token ? `Bearer ${token}` : undefined;
  }

  private loadConfig(): Promise<DockerConfig> {
    this.config ??= (async () => {
      const dir = this.opts.dockerConfigDir ?? dockerConfigDir();
      try {
        return JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as DockerConfig;
      } catch {
        return {};
      }
    })();
    return this.config;
  }

  credentialsFor(domain: string): Promise<Credentials | undefined> {
    let p = this.creds.get(domain);
    if (!p) {
      p = this.lookupCredentials(domain);
      this.creds.set(domain, p);
    }
    return p;
  }

  private async lookupCredentials(domain: string): Promise<Credentials | undefined> {
    const config = await this.loadConfig();
    const keys = configKeys(domain);
    const helper = keys.map((k) => config.credHelpers?.[k]).find(Boolean) ?? config.credsStore;
    if (helper) {
      const fromHelper = await credentialHelperGet(helper, keys[0] as string).catch(() => undefined);
      if (fromHelper) return fromHelper;
    }
    for (const key of keys) {
      const entry = config.auths?.[key];
      if (!entry) continue;
      if (entry.identitytoken) return { identityToken: entry.identitytoken };
      if (entry.auth) {
        const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
      }
      if (entry.username) return { username: entry.username, password: entry.password ?? '' };
    }
    return undefined;
  }
}

/** Asks `docker-credential-<helper> get` for a server's credentials (no shell; stdin carries the host). */
export function credentialHelperGet(
  helper: string,
  server: string,
  timeoutMs = 10_000,
): Promise<Credentials | undefined> {
  if (!/^[A-Za-z0-9._-]+$/.test(helper)) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const child = spawn(`docker-credential-${helper}`, ['get'], {
      stdio: ['pipe', 'pipe', 'ignore'],
      shell: false,
    });
    const out: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return resolve(undefined);
      try {
        const { Username, Secret } = JSON.parse(Buffer.concat(out).toString('utf8')) as {
          Username?: string;
          Secret?: string;
        };
        if (!Secret) return resolve(undefined);
        resolve(
          Username === '<token>' ? { identityToken: Secret } : { username: Username, password: Secret },
        );
      } catch {
        resolve(undefined);
      }
    });
    child.stdin.end(server);
  });
}
