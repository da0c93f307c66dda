// The fault proxy (testbed/fault-proxy.ts) between the real buildx 0.13.1 and a real registry:
// every mode, and what buildx makes of it.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { type FaultProxy, type FaultRule, requestMatches, startFaultProxy } from '../testbed/fault-proxy.js';
import { platformTag, pushPlatformImages } from '../testbed/images.js';
import { buildxPath } from '../testbed/paths.js';
import { runProcess } from '../testbed/proc.js';
import {
  MANIFEST_ACCEPT,
  readDigest,
  readManifest,
  type Registry,
  startRegistry,
} from '../testbed/registry.js';

const PLATFORMS = ['linux/amd64', 'linux/arm64'];

let reg: Registry;
let dockerConfig: string;
let expected: string;
let repoCount = 0;
const proxies: FaultProxy[] = [];

async function proxy(rules: FaultRule[] = [], seed?: number): Promise<FaultProxy> {
  const p = await startFaultProxy({ target: reg.url, rules, seed });
  proxies.push(p);
  return p;
}

const sourcesAt = (host: string) => PLATFORMS.map((p) => `${host}/src/app:${platformTag(p)}`);

/** Raw buildx: one `imagetools create` of the two sources into `repo:v1`, all through `host`. */
async function merge(host: string, repo: string, extra: string[] = []) {
  const r = await runProcess(
    buildxPath(),
    ['imagetools', 'create', '--progress=plain', ...extra, '--tag', `${host}/${repo}:v1`, ...sourcesAt(host)],
    { env: { ...process.env, DOCKER_CONFIG: dockerConfig }, timeoutMs: 25_000 },
  );
  return { ...r, output: r.stdout + r.stderr };
}

const fresh = () => `fp${++repoCount}/app`;

/** A raw HTTP request through the proxy that reports how the connection ended. */
function rawRequest(
  url: string,
  method: string,
  body?: Buffer,
  headers: Record<string, string> = {},
): Promise<{ status?: number; headers?: http.IncomingHttpHeaders; body?: string; error?: string }> {
  return new Promise((resolve) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }),
      );
      res.on('error', (e) => resolve({ status: res.statusCode, error: e.message }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.end(body);
  });
}

beforeAll(async () => {
  reg = await startRegistry();
  dockerConfig = mkdtempSync(join(tmpdir(), 'sit-fp-docker-'));
  await pushPlatformImages(reg, 'src/app', PLATFORMS);
  // The digest the merge must produce, computed without the proxy.
  const dry = await runProcess(buildxPath(), ['imagetools', 'create', '--dry-run', ...sourcesAt(reg.host)], {
    env: { ...process.env, DOCKER_CONFIG: dockerConfig },
  });
  expect(dry.code, dry.stderr).toBe(0);
  expected = 'sha256:' + createHash('sha256').update(dry.stdout.replace(/\n$/, '')).digest('hex');
});

afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.stop()));
});

afterAll(async () => {
  await reg?.stop();
  if (dockerConfig) rmSync(dockerConfig, { recursive: true, force: true });
});

describe('the fault proxy with real buildx', () => {
  it('passes everything faithfully: the merge through it lands the expected index', async () => {
    const p = await proxy();
    const repo = fresh();
    const r = await merge(p.host, repo);
    expect(r.code, r.output).toBe(0);
    expect(await readDigest(reg, repo, 'v1')).toBe(expected);
    const stats = p.stats();
    expect(stats.faulted).toBe(0);
    expect(stats.requests).toBe(p.log.length);
    expect(p.log.some((e) => e.method === 'PUT' && /\/manifests\/v1$/.test(e.path))).toBe(true);
    expect(p.log.every((e) => e.action === 'pass' && e.rule === undefined)).toBe(true);
  });

  it('503 on every manifest PUT: buildx fails with 503 Service Unavailable, nothing else faulted', async () => {
    const p = await proxy([{ match: 'manifest-put', action: { status: 503 }, rate: 1 }]);
    const repo = fresh();
    const r = await merge(p.host, repo);
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(
      /unexpected status from PUT request to \S+\/manifests\/v1: 503 Service Unavailable/,
    );
    const fired = p.log.filter((e) => e.rule === 0);
    expect(fired.length).toBeGreaterThan(0);
    expect(fired.every((e) => e.method === 'PUT' && /\/manifests\//.test(e.path) && e.action === '503')).toBe(
      true,
    );
    expect(p.stats()).toMatchObject({ faulted: fired.length, byRule: [fired.length] });
    expect(await readDigest(reg, repo, 'v1')).toBeNull();
  });

  it('429 toomanyrequests: buildx shows the status and, on a GET, the toomanyrequests message', async () => {
    const p = await proxy([{ match: 'manifest-get', action: 'toomanyrequests' }]);
    const r = await merge(p.host, fresh());
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/429 Too Many Requests/);
    expect(r.output).toMatch(/toomanyrequests: You have reached your pull rate limit/);
    // The body is Docker Hub's, for any client that reads it.
    const direct = await rawRequest(`${p.url}/v2/src/app/manifests/amd64`, 'GET');
    expect(direct.status).toBe(429);
    expect(JSON.parse(direct.body ?? '')).toEqual({
      errors: [
        { code: 'TOOMANYREQUESTS', message: 'toomanyrequests: You have reached your pull rate limit.' },
      ],
    });
  });

  it('reset mid-response: buildx reports the connection reset', async () => {
    const p = await proxy([{ match: 'manifest-get', action: 'reset' }]);
    const r = await merge(p.host, fresh());
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/connection reset by peer|unexpected EOF|: EOF/);
    expect(p.log.some((e) => e.action === 'reset')).toBe(true);
  });

  it('reset of a manifest PUT: the client sees the connection die, the PUT lands', async () => {
    const p = await proxy([{ match: 'manifest-put', action: 'reset' }]);
    const manifest = await readManifest(reg, 'src/app', 'amd64');
    if (!manifest) throw new Error('no source manifest');
    const r = await rawRequest(`${p.url}/v2/src/app/manifests/reset-put`, 'PUT', manifest.body, {
      'content-type': manifest.mediaType,
    });
    expect(r.status).toBeUndefined();
    expect(r.error).toMatch(/ECONNRESET|socket hang up/);
    expect(await readDigest(reg, 'src/app', 'reset-put')).toBe(manifest.digest);
  });

  it('reset of a blob upload cuts it while it comes in: the registry never completes it', async () => {
    const p = await proxy([{ match: 'blob-upload', action: 'reset', times: 1 }, { action: 'pass' }]);
    // The upload session is opened through the proxy too (the first upload request is reset).
    const first = await rawRequest(`${p.url}/v2/fp-upload/app/blobs/uploads/`, 'POST');
    expect(first.error).toMatch(/ECONNRESET|socket hang up/);
    const start = await rawRequest(`${p.url}/v2/fp-upload/app/blobs/uploads/`, 'POST');
    expect(start.status).toBe(202);
    // Location as the registry built it from the forwarded Host: back through the proxy.
    const location = new URL(start.headers?.location as string, p.url);
    expect(location.host).toBe(p.host);
    p.setRules([{ match: 'blob-upload', action: 'reset' }]);
    const data = Buffer.alloc(256 * 1024, 7);
    const digest = 'sha256:' + createHash('sha256').update(data).digest('hex');
    location.searchParams.set('digest', digest);
    const put = await rawRequest(location.toString(), 'PUT', data, {
      'content-type': 'application/octet-stream',
    });
    expect(put.status).toBeUndefined();
    expect(put.error).toMatch(/ECONNRESET|EPIPE|socket hang up/);
    const head = await fetch(`${reg.url}/v2/fp-upload/app/blobs/${digest}`, { method: 'HEAD' });
    expect(head.status).toBe(404);
    // requests and faulted count from the start, byRule from the last setRules
    expect(p.stats()).toEqual({ requests: 3, faulted: 2, byRule: [1] });
  });

  it('stall holds a request, then passes it', async () => {
    const p = await proxy([{ match: 'manifest-put', action: { stall: 1500 }, times: 1 }]);
    const repo = fresh();
    const t0 = Date.now();
    const r = await merge(p.host, repo);
    expect(r.code, r.output).toBe(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1500);
    expect(await readDigest(reg, repo, 'v1')).toBe(expected);
    expect(p.log.filter((e) => e.action === 'stall 1500ms')).toHaveLength(1);
  });

  it('blob-upload matches the uploads and mounts only', async () => {
    const p = await proxy([{ match: 'blob-upload', action: { status: 503 } }]);
    const r = await merge(p.host, fresh());
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/blobs\/uploads\/.*503 Service Unavailable/);
    const fired = p.log.filter((e) => e.rule === 0);
    expect(fired.length).toBeGreaterThan(0);
    expect(fired.every((e) => /\/blobs\/uploads\//.test(e.path))).toBe(true);
    expect(p.log.filter((e) => e.rule === undefined).every((e) => !/\/blobs\/uploads\//.test(e.path))).toBe(
      true,
    );
  });

  it('head matches every HEAD and nothing else', async () => {
    const p = await proxy([{ match: 'head', action: { status: 504 } }]);
    const r = await merge(p.host, fresh());
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/HEAD request to \S+: 504 Gateway Timeout/);
    expect(p.log.filter((e) => e.rule === 0).every((e) => e.method === 'HEAD')).toBe(true);
    expect(p.log.filter((e) => e.method !== 'HEAD').every((e) => e.rule === undefined)).toBe(true);
  });
});

describe('the fault proxy itself', () => {
  it('names requests by kind', () => {
    const m = '/v2/a/b/manifests/v1';
    const blob = `/v2/a/blobs/sha256:${'0'.repeat(64)}`;
    const upload = '/v2/a/blobs/uploads/123?_state=x';
    expect(requestMatches('manifest-put', 'PUT', m)).toBe(true);
    expect(requestMatches('manifest-put', 'PUT', upload)).toBe(false);
    expect(requestMatches('manifest-head', 'HEAD', m)).toBe(true);
    expect(requestMatches('manifest-head', 'HEAD', blob)).toBe(false);
    expect(requestMatches('head', 'HEAD', blob)).toBe(true);
    expect(requestMatches('manifest-get', 'GET', m)).toBe(true);
    expect(requestMatches('blob-get', 'GET', blob)).toBe(true);
    expect(requestMatches('blob-get', 'GET', upload)).toBe(false);
    expect(requestMatches('blob-upload', 'PATCH', upload)).toBe(true);
    expect(requestMatches('blob-upload', 'POST', '/v2/a/blobs/uploads/?mount=x&from=y')).toBe(true);
    expect(requestMatches('any', 'DELETE', '/v2/')).toBe(true);
  });

  it('decides by a seeded PRNG (same seed, same faults), honours times, and answers registry-style errors', async () => {
    const rules: FaultRule[] = [{ action: { status: 500 }, rate: 0.5 }];
    const a = await proxy(rules, 42);
    const b = await proxy(rules, 42);
    const c = await proxy(rules, 7);
    const statuses = async (p: FaultProxy) => {
      const out: number[] = [];
      for (let i = 0; i < 24; i++) out.push((await rawRequest(`${p.url}/v2/`, 'GET')).status ?? 0);
      return out;
    };
    const sa = await statuses(a);
    expect(await statuses(b)).toEqual(sa);
    expect(await statuses(c)).not.toEqual(sa);
    expect(new Set(sa)).toEqual(new Set([200, 500]));
    expect(a.stats()).toEqual({
      requests: 24,
      faulted: sa.filter((s) => s === 500).length,
      byRule: [a.stats().faulted],
    });

    const manifestUrl = `${a.url}/v2/src/app/manifests/amd64`;
    const accept = { accept: MANIFEST_ACCEPT };
    a.setRules([{ match: 'manifest-head', action: { status: 404 }, times: 2 }]);
    const heads = [];
    for (let i = 0; i < 3; i++) heads.push((await rawRequest(manifestUrl, 'HEAD', undefined, accept)).status);
    expect(heads).toEqual([404, 404, 200]);
    const r = await rawRequest(manifestUrl, 'GET', undefined, accept);
    expect(r.status).toBe(200);
    a.setRules([{ action: { status: 503 } }]);
    const e = await rawRequest(manifestUrl, 'GET', undefined, accept);
    expect(e.status).toBe(503);
    expect(JSON.parse(e.body ?? '').errors[0]).toMatchObject({ code: 'UNAVAILABLE' });
    expect(() => a.setRules([{ action: { status: 418 as 500 } }])).toThrow(/bad action/);
    expect(() => a.setRules([{ action: 'pass', rate: 2 }])).toThrow(/rate/);
  });

  it('stop() closes everything, stalled requests included, at once', async () => {
    const p = await proxy([{ action: { stall: 60_000 } }]);
    const pending = rawRequest(`${p.url}/v2/`, 'GET');
    const idle = await proxy();
    const agent = new http.Agent({ keepAlive: true });
    const kept = await new Promise<number | undefined>((resolve) =>
      http.get(`${idle.url}/v2/`, { agent }, (res) => res.resume().on('end', () => resolve(res.statusCode))),
    );
    expect(kept).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const t0 = Date.now();
    await Promise.all([p.stop(), idle.stop()]);
    const r = await pending;
    expect(r.status).toBeUndefined();
    expect(Date.now() - t0).toBeLessThan(2000);
    agent.destroy();
  });
});
