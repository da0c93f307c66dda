// The fault proxy (testbed/fault-proxy.ts) between real buildx (0.13.1, and 0.29.1 for the registry
// habits) and a real registry:
// every mode, and what buildx makes of it.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import {
  type FaultProxy,
  type FaultRule,
  manifestTag,
  requestMatches,
  SECONDARY_RATE_LIMIT_BODY,
  startFaultProxy,
} from '../testbed/fault-proxy.js';
import { platformTag, pushPlatformImages } from '../testbed/images.js';
import { buildxPath, realBuildxes } from '../testbed/paths.js';
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
async function merge(host: string, repo: string, extra: string[] = [], buildx = buildxPath()) {
  const r = await runProcess(
    buildx,
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

let tagCount = 0;
/** A tag not used yet in `src/app` (whose blobs the registry holds, so a PUT of its manifests lands). */
const freshTag = () => `t${++tagCount}`;

/** PUTs a source manifest through the proxy to `src/app:ref` (a tag or a digest). */
async function putManifest(p: FaultProxy, ref: string, platform = 'amd64') {
  const manifest = await readManifest(reg, 'src/app', platform);
  if (!manifest) throw new Error('no source manifest');
  const r = await rawRequest(`${p.url}/v2/src/app/manifests/${ref}`, 'PUT', manifest.body, {
    'content-type': manifest.mediaType,
  });
  return { ...r, digest: manifest.digest };
}

const accept = { accept: MANIFEST_ACCEPT };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('registry habits the proxy plays', () => {
  const head = async (p: FaultProxy, ref: string) =>
    (await rawRequest(`${p.url}/v2/src/app/manifests/${ref}`, 'HEAD', undefined, accept)).status;

  it('lag: after a manifest PUT, GET and HEAD of that tag answer 404 MANIFEST_UNKNOWN for lagMs, then pass', async () => {
    const p = await proxy([{ match: 'manifest-put', action: { lagMs: 1500 } }]);
    const tag = freshTag();
    const put = await putManifest(p, tag);
    expect(put.status).toBe(201);
    const t0 = Date.now();
    // The registry holds it at once; through the proxy the tag reads as unknown.
    expect(await readDigest(reg, 'src/app', tag)).toBe(put.digest);
    const get = await rawRequest(`${p.url}/v2/src/app/manifests/${tag}`, 'GET', undefined, accept);
    expect(get.status).toBe(404);
    expect(JSON.parse(get.body ?? '').errors[0]).toMatchObject({ code: 'MANIFEST_UNKNOWN' });
    expect(await head(p, tag)).toBe(404);
    // Only that tag: its digest and other tags read as usual.
    expect(await head(p, put.digest)).toBe(200);
    expect(await head(p, 'amd64')).toBe(200);
    await sleep(1500 - (Date.now() - t0) + 50);
    const after = await rawRequest(`${p.url}/v2/src/app/manifests/${tag}`, 'GET', undefined, accept);
    expect(after.status).toBe(200);
    expect(after.headers?.['docker-content-digest']).toBe(put.digest);
    expect(p.log.map((e) => e.action)).toEqual(['lag 1500ms', 'lag 404', 'lag 404', 'pass', 'pass', 'pass']);
    expect(p.stats()).toMatchObject({ faulted: 2, byRule: [1] });
  });

  it('lag: a PUT the registry refuses, or one by digest, starts no lag; setRules ends a lag', async () => {
    const p = await proxy([{ match: 'manifest-put', action: { lagMs: 10_000 } }]);
    const refused = freshTag();
    const bad = await rawRequest(`${p.url}/v2/src/app/manifests/${refused}`, 'PUT', Buffer.from('{}'), {
      'content-type': 'application/vnd.oci.image.manifest.v1+json',
    });
    expect(bad.status).toBeGreaterThanOrEqual(400);
    const byDigest = await putManifest(
      p,
      (await readManifest(reg, 'src/app', 'arm64'))?.digest ?? '',
      'arm64',
    );
    expect(byDigest.status).toBe(201);
    expect(await head(p, byDigest.digest)).toBe(200);
    expect(await head(p, refused)).toBe(404);
    expect(p.log.filter((e) => e.action === 'lag 404')).toEqual([]);
    const tag = freshTag();
    expect((await putManifest(p, tag)).status).toBe(201);
    expect(await head(p, tag)).toBe(404);
    expect(p.log.filter((e) => e.action === 'lag 404').map((e) => e.path)).toEqual([
      `/v2/src/app/manifests/${tag}`,
    ]);
    p.setRules([]);
    expect(await head(p, tag)).toBe(200);
  });

  it.each(realBuildxes())(
    'lag: real buildx $version pushes fine, and a read of the new tag right after misses',
    async (bx) => {
      const p = await proxy([{ match: 'manifest-put', action: { lagMs: 3000 } }]);
      const repo = fresh();
      const r = await merge(p.host, repo, [], bx.path);
      expect(r.code, r.output).toBe(0);
      expect(await readDigest(reg, repo, 'v1')).toBe(expected);
      const inspect = await runProcess(bx.path, ['imagetools', 'inspect', '--raw', `${p.host}/${repo}:v1`], {
        env: { ...process.env, DOCKER_CONFIG: dockerConfig },
        timeoutMs: 25_000,
      });
      expect(inspect.code).not.toBe(0);
      expect(inspect.stdout + inspect.stderr).toMatch(/not found/);
      expect(p.log.some((e) => e.action === 'lag 404')).toBe(true);
    },
  );

  it("immutable: a PUT to an existing tag gets ECR's 400 TAG_INVALID, even with the same digest; new tags and digests pass", async () => {
    const p = await proxy([{ match: 'manifest-put', action: 'immutable' }]);
    const tag = freshTag();
    const first = await putManifest(p, tag);
    expect(first.status).toBe(201);
    const tagInvalid = {
      errors: [
        {
          code: 'TAG_INVALID',
          message: `The image tag '${tag}' already exists in the 'src/app' repository and cannot be overwritten because the repository is immutable.`,
        },
      ],
    };
    // The same manifest again: ECR refuses any overwrite of an existing tag (aws/containers-roadmap#2179).
    const same = await putManifest(p, tag);
    expect(same.status).toBe(400);
    expect(JSON.parse(same.body ?? '')).toEqual(tagInvalid);
    const other = await putManifest(p, tag, 'arm64');
    expect(other.status).toBe(400);
    expect(JSON.parse(other.body ?? '')).toEqual(tagInvalid);
    expect(await readDigest(reg, 'src/app', tag)).toBe(first.digest);
    // By digest, and to a new tag: forwarded.
    expect((await putManifest(p, other.digest, 'arm64')).status).toBe(201);
    const next = freshTag();
    expect((await putManifest(p, next, 'arm64')).status).toBe(201);
    expect(await readDigest(reg, 'src/app', next)).toBe(other.digest);
    expect(p.log.map((e) => e.action)).toEqual([
      'immutable: new tag',
      'immutable: refused',
      'immutable: refused',
      'immutable: by digest',
      'immutable: new tag',
    ]);
    expect(p.stats()).toMatchObject({ faulted: 2, byRule: [5] });
    expect(manifestTag(`/v2/a/b/manifests/${first.digest}`)).toBeUndefined();
    expect(manifestTag('/v2/a/b/manifests/v1?x=y')).toEqual({ repo: 'a/b', tag: 'v1' });
  });

  // buildx 0.13.1 PUTs each child manifest to the tag before the index (docker/buildx#663, #2955),
  // so in an immutable repository its own index PUT is refused on the very first merge; 0.29.1
  // PUTs the children by digest and only the index to the tag, and on a re-run sees the tag already
  // holds the index and PUTs nothing.
  it.each(realBuildxes())('immutable: real buildx $version into a new tag, then again', async (bx) => {
    const p = await proxy([{ match: 'manifest-put', action: 'immutable' }]);
    const repo = fresh();
    const r = await merge(p.host, repo, [], bx.path);
    const tagPuts = p.log.filter((e) => e.method === 'PUT' && /\/manifests\/v1$/.test(e.path));
    if (bx.version === '0.13.1') {
      expect(r.code).not.toBe(0);
      expect(r.output).toMatch(/PUT request to \S+\/manifests\/v1: 400 Bad Request/);
      expect(tagPuts.map((e) => e.action)).toContain('immutable: refused');
      expect(await readDigest(reg, repo, 'v1')).not.toBe(expected);
      return;
    }
    expect(r.code, r.output).toBe(0);
    expect(tagPuts.map((e) => e.action)).toEqual(['immutable: new tag']);
    expect(await readDigest(reg, repo, 'v1')).toBe(expected);
    // 0.29.1 reads the tag first and skips the PUT when it already holds the index.
    const before = p.log.length;
    const again = await merge(p.host, repo, [], bx.path);
    expect(again.code, again.output).toBe(0);
    expect(p.log.slice(before).filter((e) => e.method === 'PUT' && /\/manifests\//.test(e.path))).toEqual([]);
  });

  it("429 with Retry-After: the header carries the wait, the body is Docker Hub's", async () => {
    const p = await proxy([{ match: 'manifest-get', action: { status: 429, retryAfter: 7 } }]);
    const r = await rawRequest(`${p.url}/v2/src/app/manifests/amd64`, 'GET', undefined, accept);
    expect(r.status).toBe(429);
    expect(r.headers?.['retry-after']).toBe('7');
    expect(JSON.parse(r.body ?? '').errors[0]).toMatchObject({ code: 'TOOMANYREQUESTS' });
    expect(p.log.map((e) => e.action)).toEqual(['429 retry-after 7s']);
    const m = await merge(p.host, fresh());
    expect(m.code).not.toBe(0);
    expect(m.output).toMatch(/429 Too Many Requests/);
  });

  it.each(realBuildxes())(
    '429 with the wait in the text (GHCR): no Retry-After, buildx $version prints the wait',
    async (bx) => {
      const p = await proxy([{ match: 'manifest-get', action: { status: 429, waitInText: '12.5ms' } }]);
      const r = await rawRequest(`${p.url}/v2/src/app/manifests/amd64`, 'GET', undefined, accept);
      expect(r.status).toBe(429);
      expect(r.headers?.['retry-after']).toBeUndefined();
      expect(JSON.parse(r.body ?? '')).toEqual({
        errors: [{ code: 'TOOMANYREQUESTS', message: 'retry-after: 12.5ms, allowed: 2000/minute' }],
      });
      const m = await merge(p.host, fresh(), [], bx.path);
      expect(m.code).not.toBe(0);
      expect(m.output).toMatch(/toomanyrequests: retry-after: 12\.5ms, allowed: 2000\/minute/);
    },
  );

  it.each(realBuildxes())(
    "403 secondary rate limit (GHCR): DENIED with GitHub's words; buildx $version fails with 403",
    async (bx) => {
      const p = await proxy([{ match: 'manifest-put', action: 'secondary-rate-limit' }]);
      const tag = freshTag();
      const r = await putManifest(p, tag);
      expect(r.status).toBe(403);
      expect(r.body).toBe(SECONDARY_RATE_LIMIT_BODY + '\n');
      expect(JSON.parse(r.body ?? '').errors[0]).toMatchObject({
        code: 'DENIED',
        message: expect.stringMatching(
          /^permission_denied: .*403 "Forbidden".*You have exceeded a secondary rate limit/s,
        ),
      });
      expect(await readDigest(reg, 'src/app', tag)).toBeNull();
      const repo = fresh();
      const m = await merge(p.host, repo, [], bx.path);
      expect(m.code).not.toBe(0);
      expect(m.output).toMatch(/403 Forbidden/);
      expect(await readDigest(reg, repo, 'v1')).toBeNull();
    },
  );

  it('refuses malformed waits and lags', async () => {
    const q = await proxy();
    const bad: FaultRule[][] = [
      [{ action: { status: 503, retryAfter: 1 } }],
      [{ action: { status: 429, retryAfter: -1 } }],
      [{ action: { status: 429, waitInText: 'soon' } }],
      [{ action: { lagMs: Number.NaN } }],
    ];
    for (const rules of bad) expect(() => q.setRules(rules)).toThrow(/bad action/);
    expect(() => q.setRules([{ action: { status: 429, waitInText: '880.092µs' } }])).not.toThrow();
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
