// The credentials `docker login` left for a registry host, found as buildx finds them: the Docker
// config's inline auths, its credsStore and credHelpers (asked through `docker-credential-<name>`,
// no shell). Read once per host; credentials are never logged.

import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { dockerConfigDir } from '../docker/config-dir.js';
import { DOCKER_HUB } from './reference.js';

/** Whether the Docker config has credentials for a host (`unknown`: it could not be read). */
export type CredentialsKnown = 'yes' | 'no' | 'unknown';

export interface Credentials {
  username?: string;
  password?: string;
  identityToken?: string;
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

export class DockerCredentials {
  private config?: Promise<{ config: DockerConfig; readable: boolean }>;
  private readonly lookups = new Map<string, Promise<Lookup>>();

  /** `dir`: the folder holding config.json; default $DOCKER_CONFIG, or ~/.docker when it is unset or empty */
  constructor(private readonly dir?: string) {}

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
    let p = this.lookups.get(domain);
    if (!p) {
      p = this.lookupCredentials(domain);
      this.lookups.set(domain, p);
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

  /** config.json; `readable: false` when it exists but cannot be read or parsed (a missing one is empty). */
  private loadConfig(): Promise<{ config: DockerConfig; readable: boolean }> {
    this.config ??= (async () => {
      const dir = this.dir ?? dockerConfigDir();
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
}

interface Lookup {
  creds?: Credentials;
  known: CredentialsKnown;
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
