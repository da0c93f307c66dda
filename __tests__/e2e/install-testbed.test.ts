// Smoke test of the installer's test bed, with real parts: the fake GitHub release server serving
// the real buildx binary, and a throwaway buildx-like git repository built with the real Go.
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  makeBuildxGitRepo,
  FIX_BRANCH,
  PULL_REF,
  REAL_BUILDX_VAR,
  RELEASE_TAG,
  SOURCES,
  VENDOR_BRANCH,
  type BuildxGitRepo,
} from '../testbed/gitrepo.js';
import { buildxPath } from '../testbed/paths.js';
import { runProcess, type ProcessResult } from '../testbed/proc.js';
import {
  BUILDX_PLATFORMS,
  binaryAssetName,
  DEFAULT_RELEASES,
  startReleaseServer,
  WRONG_BINARY_VERSION,
  type FakeRelease,
  type ReleaseServer,
} from '../testbed/release-server.js';

const tmpDirs: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpDirs.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true });
});

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The hash checksums.txt gives `name`, or undefined. */
function checksumLine(text: string, name: string): string | undefined {
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]{64}) \*(.+)$/.exec(line);
    if (m && m[2] === name) return m[1];
  }
  return undefined;
}

/** Saves bytes as an executable and runs it with `args`. */
async function runBytes(bytes: Buffer, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const file = path.join(tempDir('sit-dl-'), 'docker-buildx');
  writeFileSync(file, bytes);
  chmodSync(file, 0o755);
  return runProcess(file, args, { env });
}

const EXTRA: FakeRelease[] = [
  { tag: 'v0.40.1', assets: 'stall' },
  { tag: 'v0.40.2', assets: 'wrong-binary' },
  { tag: 'v0.40.3', assets: 'truncate' },
  { tag: 'v0.40.4', assets: 'wrong-checksum' },
  { tag: 'v0.40.5', assets: 'missing-line' },
  { tag: 'v0.40.6', assets: 'no-checksums' },
  { tag: 'v0.40.7', assets: '404' },
];

describe('release server', () => {
  let srv: ReleaseServer;
  const asset = (tag: string) => binaryAssetName(tag, 'linux-amd64');
  const dl = (tag: string, name = asset(tag), init?: RequestInit) =>
    fetch(`${srv.mirror}/${tag}/${name}`, init);

  beforeAll(async () => {
    srv = await startReleaseServer({ binary: buildxPath(), releases: [...DEFAULT_RELEASES, ...EXTRA] });
  });
  afterAll(async () => {
    await srv?.stop();
  });

  it('lists releases newest first, paginated with a Link header, like GitHub', async () => {
    srv.requests.length = 0;
    const token = 'ghs_testbedtoken000';
    const pages: string[][] = [];
    let next: string | undefined = `${srv.apiUrl}/repos/docker/buildx/releases?per_page=2&page=1`;
    while (next) {
      const res = await fetch(next, { headers: { Authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { tag_name: string; draft: boolean; assets: unknown[] }[];
      expect(body.length).toBeLessThanOrEqual(2);
      pages.push(body.map((r) => r.tag_name));
      next = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get('link') ?? '')?.[1];
      expect(pages.length).toBeLessThan(50);
    }
    const tags = pages.flat();
    expect(pages).toHaveLength(Math.ceil((DEFAULT_RELEASES.length + EXTRA.length) / 2));
    expect(tags).toEqual(srv.releases.map((r) => r.tag));
    expect(new Set(tags).size).toBe(tags.length);
    expect(tags[0]).toBe('v0.38.0'); // the draft, on top as on GitHub
    expect(tags).toContain('v0.30.0-rc1');
    // Publish order, not version order: v0.29.1 came out after v0.30.0-rc1.
    expect(tags.indexOf('v0.29.1')).toBeLessThan(tags.indexOf('v0.30.0-rc1'));
    // Every request carried the token, none in its URL; the Link URLs use GitHub's /repositories/<id> form.
    expect(srv.requests).toHaveLength(pages.length);
    for (const r of srv.requests) {
      expect(r.headers.authorization).toBe(`Bearer ${token}`);
      expect(r.url).not.toContain(token);
    }
    expect(srv.requests[1]?.url).toMatch(/^\/api\/repositories\/\d+\/releases\?per_page=2&page=2$/);

    // per_page=100: one page, no Link.
    const all = await fetch(`${srv.apiUrl}/repos/docker/buildx/releases?per_page=100`);
    expect(all.headers.get('link')).toBeNull();
    expect(((await all.json()) as unknown[]).length).toBe(tags.length);

    const one = (await (await fetch(`${srv.apiUrl}/repos/docker/buildx/releases/tags/v0.36.1`)).json()) as {
      tag_name: string;
      prerelease: boolean;
      published_at: string;
      assets: { name: string; browser_download_url: string }[];
    };
    expect(one.tag_name).toBe('v0.36.1');
    expect(one.prerelease).toBe(false);
    const names = one.assets.map((a) => a.name);
    for (const p of BUILDX_PLATFORMS) expect(names).toContain(binaryAssetName('v0.36.1', p));
    expect(names).toContain('buildx-v0.36.1.windows-amd64.exe');
    expect(names).toContain('checksums.txt');
    expect(one.assets.find((a) => a.name === 'checksums.txt')?.browser_download_url).toBe(
      `${srv.mirror}/v0.36.1/checksums.txt`,
    );
    expect((await fetch(`${srv.apiUrl}/repos/docker/buildx/releases/tags/v0.38.0`)).status).toBe(404);
    expect((await fetch(`${srv.apiUrl}/repos/docker/buildx/releases/tags/v9.9.9`)).status).toBe(404);
    const latest = (await (await fetch(`${srv.apiUrl}/repos/docker/buildx/releases/latest`)).json()) as {
      tag_name: string;
    };
    expect(latest.tag_name).toBe('v0.40.7');
  });

  it('serves the real binary, matching its checksums.txt line', async () => {
    const sums = await (await dl('v0.36.1', 'checksums.txt')).text();
    const res = await dl('v0.36.1');
    expect(res.status).toBe(200);
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(Number(res.headers.get('content-length'))).toBe(bytes.length);
    const real = readFileSync(buildxPath());
    expect(bytes.equals(real)).toBe(true);
    expect(checksumLine(sums, asset('v0.36.1'))).toBe(sha256(bytes));
    expect(srv.checksumOf('v0.36.1', 'linux-amd64')).toBe(sha256(bytes));
    // Every platform's asset has its line; the look-alike .sbom.json line is another one.
    for (const p of BUILDX_PLATFORMS) expect(checksumLine(sums, binaryAssetName('v0.36.1', p))).toBeDefined();
    expect(checksumLine(sums, `${asset('v0.36.1')}.sbom.json`)).not.toBe(sha256(bytes));
    expect((await dl('v0.36.1', 'buildx-v0.36.1.linux-mips64')).status).toBe(404);
    expect((await dl('v0.99.9')).status).toBe(404);

    const version = await runBytes(bytes, ['version']);
    expect(version.code, version.stderr).toBe(0);
    expect(version.stdout).toContain('github.com/docker/buildx 0.13.1');
  });

  it('stall: headers and a little of the body, then nothing', async () => {
    const started = Date.now();
    const res = await dl('v0.40.1', undefined, { signal: AbortSignal.timeout(1000) });
    expect(res.status).toBe(200);
    await expect(res.arrayBuffer()).rejects.toThrow(/abort|timeout/i);
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(5000);
  });

  it('truncate: the connection closes short of Content-Length', async () => {
    const res = await dl('v0.40.3');
    expect(res.status).toBe(200);
    expect(Number(res.headers.get('content-length'))).toBe(readFileSync(buildxPath()).length);
    await expect(res.arrayBuffer()).rejects.toThrow();
  });

  it('wrong-binary: checksums match, but `version` names v0.0.1', async () => {
    const bytes = Buffer.from(await (await dl('v0.40.2')).arrayBuffer());
    const sums = await (await dl('v0.40.2', 'checksums.txt')).text();
    expect(checksumLine(sums, asset('v0.40.2'))).toBe(sha256(bytes));
    const version = await runBytes(bytes, ['version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toBe(WRONG_BINARY_VERSION);
    expect(WRONG_BINARY_VERSION).toBe('github.com/docker/buildx v0.0.1 deadbeef');
    const plugin = await runBytes(bytes, ['buildx', 'version']);
    expect(plugin.stdout.trim()).toBe(WRONG_BINARY_VERSION);
    const passthrough = await runBytes(bytes, ['imagetools', '--help'], {
      ...process.env,
      [REAL_BUILDX_VAR]: buildxPath(),
    });
    expect(passthrough.code, passthrough.stderr).toBe(0);
    expect(passthrough.stdout).toContain('imagetools');
  });

  it('wrong-checksum, missing-line, no-checksums, 404', async () => {
    const bytes = Buffer.from(await (await dl('v0.40.4')).arrayBuffer());
    const wrong = checksumLine(await (await dl('v0.40.4', 'checksums.txt')).text(), asset('v0.40.4'));
    expect(wrong).toMatch(/^[0-9a-f]{64}$/);
    expect(wrong).not.toBe(sha256(bytes));

    const missing = await (await dl('v0.40.5', 'checksums.txt')).text();
    expect(checksumLine(missing, asset('v0.40.5'))).toBeUndefined();
    expect(missing).toContain(`${asset('v0.40.5')}.sbom.json`);
    expect((await dl('v0.40.5')).status).toBe(200);

    expect((await dl('v0.40.6', 'checksums.txt')).status).toBe(404);
    expect((await dl('v0.40.6')).status).toBe(200);

    expect((await dl('v0.40.7')).status).toBe(404);
    expect(checksumLine(await (await dl('v0.40.7', 'checksums.txt')).text(), asset('v0.40.7'))).toBeDefined();
  });

  it('fault switches: API failures, API down, download failures; serveFile', async () => {
    const list = () => fetch(`${srv.apiUrl}/repos/docker/buildx/releases?per_page=1`);
    srv.setApiFailTimes(2, 429);
    const limited = await list();
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect((await list()).status).toBe(429);
    expect((await list()).status).toBe(200);
    srv.setApiFailTimes(1, 502);
    expect((await list()).status).toBe(502);
    expect((await list()).status).toBe(200);

    srv.setApiDown(500);
    expect((await list()).status).toBe(500);
    srv.setApiDown('reset');
    await expect(list()).rejects.toThrow();
    srv.setApiDown(false);
    expect((await list()).status).toBe(200);

    srv.setDownloadFailTimes(1, 503);
    expect((await dl('v0.36.1', 'checksums.txt')).status).toBe(503);
    expect((await dl('v0.36.1', 'checksums.txt')).status).toBe(200);

    const file = path.join(tempDir('sit-file-'), 'my-buildx');
    writeFileSync(file, 'not really a binary\n');
    const url = srv.serveFile(file);
    expect(url).toBe(`${srv.url}/files/my-buildx`);
    expect(srv.serveFile(file)).toBe(url);
    expect(await (await fetch(url)).text()).toBe('not really a binary\n');
    expect(srv.requests.at(-1)?.url).toBe('/files/my-buildx');
  });

  it('redirectDownloads: a 302 to /objects/, as github.com does; stop() ends a stalled download', async () => {
    const other = await startReleaseServer({
      binary: buildxPath(),
      releases: [{ tag: 'v0.36.1' }, { tag: 'v0.36.2', assets: 'stall' }],
      redirectDownloads: true,
    });
    try {
      const url = `${other.mirror}/v0.36.1/checksums.txt`;
      const manual = await fetch(url, { redirect: 'manual' });
      expect(manual.status).toBe(302);
      expect(manual.headers.get('location')).toBe(`${other.url}/objects/v0.36.1/checksums.txt`);
      expect(checksumLine(await (await fetch(url)).text(), 'buildx-v0.36.1.linux-arm64')).toBe(
        other.checksumOf('v0.36.1', 'linux-arm64'),
      );

      const stalled = await fetch(`${other.mirror}/v0.36.2/${binaryAssetName('v0.36.2', 'linux-amd64')}`);
      const body = stalled.arrayBuffer();
      body.catch(() => undefined);
      const started = Date.now();
      await other.stop();
      expect(Date.now() - started).toBeLessThan(2000);
      await expect(body).rejects.toThrow();
    } finally {
      await other.stop();
    }
  });
});

describe('buildx git repository', () => {
  let repo: BuildxGitRepo;
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    repo = await makeBuildxGitRepo();
  });
  afterAll(() => {
    repo?.remove();
    if (Object.keys(timings).length > 0) console.log('go build timings (ms):', JSON.stringify(timings));
  });

  const git = (args: string[], cwd?: string, env?: NodeJS.ProcessEnv) =>
    runProcess('git', args, { cwd, env: env ?? repo.gitEnv });

  function goEnv(cache: string): NodeJS.ProcessEnv {
    const home = tempDir('sit-gohome-');
    return {
      ...process.env,
      GOTOOLCHAIN: 'local',
      GOFLAGS: '',
      GOPROXY: 'off',
      GOCACHE: cache,
      HOME: home,
      GOPATH: path.join(home, 'go'),
    };
  }

  async function goBuild(dir: string, out: string, env: NodeJS.ProcessEnv, extra: string[] = []) {
    const commit = (await git(['rev-parse', 'HEAD'], dir)).stdout.trim();
    const ldflags =
      `-X github.com/docker/buildx/version.Version=fix ` +
      `-X github.com/docker/buildx/version.Revision=${commit}`;
    const r = await runProcess('go', ['build', ...extra, '-ldflags', ldflags, '-o', out, './cmd/buildx'], {
      cwd: dir,
      env,
      timeoutMs: 110_000,
    });
    return { r, commit };
  }

  async function shallowClone(ref: string): Promise<string> {
    const dir = path.join(tempDir('sit-clone-'), 'src');
    const r = await git(['clone', '-q', '--depth', '1', '--branch', ref, repo.url, dir]);
    expect(r.code, r.stderr).toBe(0);
    return dir;
  }

  it('git ls-remote lists the branches, the annotated tag and the pull ref', async () => {
    const r = await git(['ls-remote', repo.url]);
    expect(r.code, r.stderr).toBe(0);
    const refs = Object.fromEntries(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => l.split('\t').reverse() as [string, string]),
    );
    expect(refs).toEqual({
      HEAD: repo.commits.main,
      'refs/heads/main': repo.commits.main,
      [`refs/heads/${FIX_BRANCH}`]: repo.commits.fix,
      [`refs/heads/${VENDOR_BRANCH}`]: repo.commits.withVendor,
      [PULL_REF]: repo.commits.fix,
      [`refs/tags/${RELEASE_TAG}`]: repo.tagObject,
      [`refs/tags/${RELEASE_TAG}^{}`]: repo.commits.tag,
    });
    expect(repo.url).toMatch(/^file:\/\/\/.*\/buildx\.git$/);
    expect(repo.shortFix).toBe(repo.commits.fix.slice(0, 7));
    expect(new Set(Object.values(repo.commits)).size).toBe(4);
  });

  it('git fetch --depth 1 of a commit that no ref points at, over protocol v0 and v2', async () => {
    const old = repo.commits.withVendor;
    const moved = await repo.addCommit(VENDOR_BRANCH, 'vendor: one more commit');
    expect(moved).not.toBe(old);
    for (const proto of ['0', '2']) {
      const dir = tempDir('sit-fetch-');
      expect((await git(['init', '-q'], dir)).code).toBe(0);
      expect((await git(['remote', 'add', 'origin', repo.url], dir)).code).toBe(0);
      const r = await git(
        ['-c', `protocol.version=${proto}`, 'fetch', '-q', '--depth', '1', 'origin', old],
        dir,
      );
      expect(r.code, r.stderr).toBe(0);
      expect((await git(['rev-parse', 'FETCH_HEAD'], dir)).stdout.trim()).toBe(old);
      // A short id is not a ref: the server cannot resolve it.
      const short = await git(['fetch', '-q', '--depth', '1', 'origin', repo.shortFix], dir);
      expect(short.code).not.toBe(0);
    }
    // Other URL forms, redirected to the bare repository by url.<file-url>.insteadOf.
    const env = {
      ...repo.gitEnv,
      ...repo.rewriteEnv('https://github.com/owner/buildx.git', 'git@github.com:owner/buildx.git'),
    };
    for (const url of ['https://github.com/owner/buildx.git', 'git@github.com:owner/buildx.git']) {
      const r = await git(['ls-remote', url, PULL_REF], undefined, env);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(`${repo.commits.fix}\t${PULL_REF}\n`);
    }
  });

  it('a shallow clone of the fix branch builds with buildx ldflags; the binary answers version and runs the real buildx', async () => {
    const dir = await shallowClone(FIX_BRANCH);
    const cache = tempDir('sit-gocache-');
    const out = path.join(tempDir('sit-bin-'), 'docker-buildx');
    const cold = await goBuild(dir, out, goEnv(cache));
    expect(cold.r.code, cold.r.stderr).toBe(0);
    timings.cold = cold.r.durationMs;
    expect(cold.commit).toBe(repo.commits.fix);

    const version = await runProcess(out, ['version']);
    expect(version.code, version.stderr).toBe(0);
    expect(version.stdout).toBe(`github.com/docker/buildx fix ${repo.commits.fix}\n`);
    expect((await runProcess(out, ['buildx', 'version'])).stdout).toBe(version.stdout);

    const realEnv = { ...process.env, [REAL_BUILDX_VAR]: buildxPath() };
    const help = await runProcess(out, ['imagetools', '--help'], { env: realEnv });
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/imagetools/);
    expect(help.stdout).toMatch(/\bcreate\b/);
    // The real buildx's exit status passes through.
    const failing = await runProcess(out, ['imagetools', 'create'], { env: realEnv });
    expect(failing.code).toBe(1);
    expect(failing.stderr).toContain('no sources specified');
    // Without the variable: exit 3, naming the source it was built from.
    const noReal = await runProcess(out, ['imagetools', '--help'], {
      env: { ...process.env, [REAL_BUILDX_VAR]: '' },
    });
    expect(noReal.code).toBe(3);
    expect(noReal.stderr).toContain(`(source: ${SOURCES.fix})`);

    // Warm: the same cache, a fresh clone of the same commit (as a second install would do).
    const again = await shallowClone(FIX_BRANCH);
    const out2 = path.join(tempDir('sit-bin-'), 'docker-buildx');
    const warm = await goBuild(again, out2, goEnv(cache));
    expect(warm.r.code, warm.r.stderr).toBe(0);
    timings.warm = warm.r.durationMs;
    expect((await runProcess(out2, ['version'])).stdout).toBe(version.stdout);
  });

  it('with-vendor builds only with its vendor folder', async () => {
    const dir = await shallowClone(VENDOR_BRANCH);
    const cache = tempDir('sit-gocache-');
    const out = path.join(tempDir('sit-bin-'), 'docker-buildx');
    const built = await goBuild(dir, out, goEnv(cache));
    expect(built.r.code, built.r.stderr).toBe(0);
    timings.vendor = built.r.durationMs;
    const noReal: ProcessResult = await runProcess(out, ['imagetools'], {
      env: { ...process.env, [REAL_BUILDX_VAR]: '' },
    });
    expect(noReal.stderr).toContain(`(source: ${SOURCES.withVendor})`);
    const modMod = await goBuild(dir, out, goEnv(cache), ['-mod=mod']);
    expect(modMod.r.code).not.toBe(0);
    expect(modMod.r.stderr).toMatch(/example\.com\/testbed\/source/);
  });
});
