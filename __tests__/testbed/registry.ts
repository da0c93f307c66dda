// A real registry (Debian's docker-registry 2.8) on a free loopback port, as a plain process.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { runCapture } from './proc.ts';

export interface BasicAuth {
  username: string;
  password: string;
}

export interface Registry {
  /** `127.0.0.1:PORT`, as it appears in image references. */
  host: string;
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** The registry's storage root. */
  dataDir: string;
  /** The registry's own log (stdout and stderr). */
  logFile: string;
  /** Credentials when started with `auth` (informational: helpers only send auth when given it). */
  auth?: BasicAuth;
  /** Stops the process (TERM, KILL after 2 s), awaits its exit and removes the temp folder. */
  stop(): Promise<void>;
}

export interface StartRegistryOptions {
  /** Require these credentials (htpasswd, bcrypt): anonymous requests get 401. */
  auth?: BasicAuth;
  /** The Docker token flow (`auth: token`): tokens from this server (see token-server.ts). */
  token?: TokenAuth;
  /** How long to wait for `GET /v2/` to answer. Default 20 s. */
  startTimeoutMs?: number;
  /** Log level written to the config. Default `warn`. */
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
}

export interface TokenAuth {
  realm: string;
  service: string;
  issuer: string;
  /** PEM file of the certificate the tokens' `x5c` header carries */
  certFile: string;
}

const REGISTRY_BIN = process.env.TESTBED_REGISTRY ?? 'docker-registry';
const PORT_ATTEMPTS = 5;
const INSTANCE_HEADER = 'X-Testbed-Instance';

/** Registries still running, killed (and their folders removed) if the test process exits first. */
const live = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
    if (!process.env.TESTBED_KEEP) for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
  });
}

/** A port that was free a moment ago (bound on port 0, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('could not get a free port'))));
    });
  });
}

function logTail(file: string, lines = 30): string {
  try {
    const text = readFileSync(file, 'utf8').trimEnd();
    return text ? text.split('\n').slice(-lines).join('\n') : '(the log is empty)';
  } catch {
    return '(no log)';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function configYaml(
  dataDir: string,
  port: number,
  logLevel: string,
  instanceId: string,
  htpasswdFile?: string,
  token?: TokenAuth,
): string {
  const lines = [
    'version: 0.1',
    'log:',
    `  level: ${logLevel}`,
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(dataDir)}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    // A fixed secret keeps the "No HTTP secret provided" warning out of the log.
    `  secret: ${randomBytes(16).toString('hex')}`,
    // Every answer carries this instance's id, so a foreign server on a raced port is never mistaken for it.
    '  headers:',
    `    ${INSTANCE_HEADER}: [${instanceId}]`,
  ];
  if (htpasswdFile) {
    lines.push(
      'auth:',
      '  htpasswd:',
      '    realm: safe-imagetools-testbed',
      `    path: ${JSON.stringify(htpasswdFile)}`,
    );
  }
  if (token) {
    lines.push(
      'auth:',
      '  token:',
      `    realm: ${JSON.stringify(token.realm)}`,
      `    service: ${JSON.stringify(token.service)}`,
      `    issuer: ${JSON.stringify(token.issuer)}`,
      `    rootcertbundle: ${JSON.stringify(token.certFile)}`,
    );
  }
  return lines.join('\n') + '\n';
}

interface Launched {
  child: ChildProcess;
  exited: Promise<void>;
}

/**
 * setpriv (util-linux) execs the registry with PR_SET_PDEATHSIG, so the kernel kills it when the
 * test process (or worker thread) that started it goes away without calling stop(): vitest ends
 * its workers with a signal, which runs no exit hook.
 */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((f) => existsSync(f));

function launch(configFile: string, logFile: string): Launched {
  const fd = openSync(logFile, 'a');
  const [file, args] = SETPRIV
    ? [SETPRIV, ['--pdeathsig', 'KILL', '--', REGISTRY_BIN, 'serve', configFile]]
    : [REGISTRY_BIN, ['serve', configFile]];
  let child: ChildProcess;
  try {
    child = spawn(file, args, { stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  // A registry a test forgot to stop must not keep the test process alive: the exit hook kills it.
  child.unref();
  live.add(child);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      live.delete(child);
      resolve();
    });
    child.once('error', () => {
      live.delete(child);
      resolve();
    });
  });
  return { child, exited };
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

async function killAndWait({ child, exited }: Launched): Promise<void> {
  if (!isRunning(child)) return exited;
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    if (isRunning(child)) child.kill('SIGKILL');
  }, 2000);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Waits for `GET /v2/` to answer `expected`; 'exited' if the process died first. */
async function waitReady(
  url: string,
  expected: number,
  instanceId: string,
  launched: Launched,
  timeoutMs: number,
): Promise<'ready' | 'exited' | 'timeout'> {
  const deadline = Date.now() + timeoutMs;
  let spawnError: Error | undefined;
  launched.child.once('error', (e) => (spawnError = e));
  while (Date.now() < deadline) {
    if (spawnError) throw new Error(`could not start ${REGISTRY_BIN}: ${spawnError.message}`);
    if (!isRunning(launched.child)) return 'exited';
    try {
      const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === expected && res.headers.get(INSTANCE_HEADER) === instanceId) return 'ready';
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  return 'timeout';
}

const DIR_PREFIX = 'sit-registry-';
const PID_FILE = 'registry.pid';

/**
 * Removes the folders of registries that died without stop() (their test process was killed):
 * only folders whose pid file names a process that no longer exists.
 */
async function sweepStaleDirs(): Promise<void> {
  let names: string[];
  try {
    names = await readdir(os.tmpdir());
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(DIR_PREFIX)) continue;
    const dir = path.join(os.tmpdir(), name);
    let pid: number;
    try {
      pid = Number.parseInt(await readFile(path.join(dir, PID_FILE), 'utf8'), 10);
    } catch {
      continue; // starting, or not ours
    }
    if (pid > 0 && !existsSync(`/proc/${pid}`)) await rm(dir, { recursive: true, force: true });
  }
}

/** Starts a registry on a free 127.0.0.1 port, in its own temp folder. */
export async function startRegistry(opts: StartRegistryOptions = {}): Promise<Registry> {
  installExitHook();
  await sweepStaleDirs();
  const tmp = await mkdtemp(path.join(os.tmpdir(), DIR_PREFIX));
  liveDirs.add(tmp);
  const dataDir = path.join(tmp, 'data');
  const logFile = path.join(tmp, 'registry.log');
  const configFile = path.join(tmp, 'config.yml');
  let htpasswdFile: string | undefined;
  try {
    if (opts.auth) {
      htpasswdFile = path.join(tmp, 'htpasswd');
      const entry = await runCapture('htpasswd', ['-Bbn', opts.auth.username, opts.auth.password]);
      await writeFile(htpasswdFile, entry.trim() + '\n', { mode: 0o600 });
    }
    if (opts.auth && opts.token) throw new Error('startRegistry: auth and token exclude each other');
    const expected = opts.auth || opts.token ? 401 : 200;
    const timeoutMs = opts.startTimeoutMs ?? 20_000;
    for (let attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
      const port = await freePort();
      const instanceId = randomBytes(8).toString('hex');
      await writeFile(
        configFile,
        configYaml(dataDir, port, opts.logLevel ?? 'warn', instanceId, htpasswdFile, opts.token),
      );
      const url = `http://127.0.0.1:${port}`;
      const launched = launch(configFile, logFile);
      const state = await waitReady(url, expected, instanceId, launched, timeoutMs);
      if (state === 'ready') {
        await writeFile(path.join(tmp, PID_FILE), `${launched.child.pid ?? 0}\n`);
        let stopping: Promise<void> | undefined;
        return {
          host: `127.0.0.1:${port}`,
          url,
          dataDir,
          logFile,
          auth: opts.auth,
          stop() {
            stopping ??= (async () => {
              await killAndWait(launched);
              liveDirs.delete(tmp);
              if (!process.env.TESTBED_KEEP) await rm(tmp, { recursive: true, force: true });
            })();
            return stopping;
          },
        };
      }
      await killAndWait(launched);
      const tail = logTail(logFile);
      // Another process took the port between our probe and the registry's bind: try another.
      if (state === 'exited' && /address already in use/i.test(tail) && attempt < PORT_ATTEMPTS) continue;
      throw new Error(
        state === 'exited'
          ? `docker-registry exited before answering on ${url}/v2/. Log tail:\n${tail}`
          : `docker-registry did not answer ${expected} on ${url}/v2/ within ${timeoutMs} ms. Log tail:\n${tail}`,
      );
    }
    throw new Error('unreachable');
  } catch (e) {
    liveDirs.delete(tmp);
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Media types a manifest read-back accepts (OCI and Docker, index and single manifest). */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** `Authorization` header value for basic auth. */
export function basicAuthHeader(auth: BasicAuth): string {
  return 'Basic ' + Buffer.from(`${auth.username}:${auth.password}`).toString('base64');
}

/** Basic credentials, or a whole `Authorization` value (e.g. `Bearer <token>` for a token registry). */
export type RequestAuth = BasicAuth | string;

export function authorizationValue(auth: RequestAuth): string {
  return typeof auth === 'string' ? auth : basicAuthHeader(auth);
}

function authHeaders(auth?: RequestAuth): Record<string, string> {
  return auth ? { authorization: authorizationValue(auth) } : {};
}

export interface ManifestRead {
  digest: string;
  mediaType: string;
  body: Buffer;
  /** The parsed JSON body. */
  json: Record<string, unknown>;
}

function sha256Digest(body: Buffer): string {
  return 'sha256:' + createHash('sha256').update(body).digest('hex');
}

/** GETs a manifest (index or image); null on 404. Independent of the code under test. */
export async function readManifest(
  reg: { url: string },
  repo: string,
  ref: string,
  auth?: RequestAuth,
): Promise<ManifestRead | null> {
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/${ref}`, {
    headers: { accept: MANIFEST_ACCEPT, ...authHeaders(auth) },
    signal: AbortSignal.timeout(10_000),
  });
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status === 404) return null;
  if (!res.ok) {
    throw new Error(`GET ${repo}:${ref} manifest: ${res.status} ${res.statusText}: ${body.toString('utf8')}`);
  }
  const digest = res.headers.get('docker-content-digest') ?? sha256Digest(body);
  return {
    digest,
    mediaType: res.headers.get('content-type') ?? '',
    body,
    json: JSON.parse(body.toString('utf8')) as Record<string, unknown>,
  };
}

/**
 * The digest a tag (or digest) resolves to in the registry, or null when it does not exist.
 * HEAD first (what buildx and the action do), GET when HEAD gives no digest.
 */
export async function readDigest(
  reg: { url: string },
  repo: string,
  ref: string,
  auth?: RequestAuth,
): Promise<string | null> {
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/${ref}`, {
    method: 'HEAD',
    headers: { accept: MANIFEST_ACCEPT, ...authHeaders(auth) },
    signal: AbortSignal.timeout(10_000),
  });
  if (res.status === 404) return null;
  const digest = res.headers.get('docker-content-digest');
  if (res.ok && digest) return digest;
  if (res.status === 401 || res.status === 403) {
    throw new Error(`HEAD ${repo}:${ref} manifest: ${res.status} ${res.statusText}`);
  }
  const read = await readManifest(reg, repo, ref, auth);
  return read?.digest ?? null;
}

/** The tags of a repository (empty when the repository does not exist). */
export async function listTags(reg: { url: string }, repo: string, auth?: RequestAuth): Promise<string[]> {
  const res = await fetch(`${reg.url}/v2/${repo}/tags/list`, {
    headers: authHeaders(auth),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (res.status === 404) return [];
  if (!res.ok) throw new Error(`GET ${repo} tags: ${res.status} ${res.statusText}: ${text}`);
  const json = JSON.parse(text) as { tags?: string[] | null };
  return [...(json.tags ?? [])].sort();
}
