// buildx-version forms end to end: the bundle on Node 24, a local server playing the GitHub
// releases API and download host (serving Debian's real buildx 0.13.1 as v0.13.1), a local bare
// git repository built by a real Go toolchain, and each installed binary running a real merge
// against the test-bed registry.
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { makeBuildxGitRepo, type BuildxGitRepo, REAL_BUILDX_VAR } from '../testbed/gitrepo.js';
import { pushPlatformImages } from '../testbed/images.js';
import { buildxPath } from '../testbed/paths.js';
import { readDigest, type Registry, startRegistry } from '../testbed/registry.js';
import { type ReleaseServer, startReleaseServer } from '../testbed/release-server.js';
import { type ActionRun, runAction } from '../testbed/runner.js';
import { ACTION_USER_AGENT } from '../testbed/user-agent.js';

let reg: Registry;
let server: ReleaseServer;
let repo: BuildxGitRepo;
let sources: string[];
let n = 0;

const TOKEN = 'ghs_testtoken_never_printed_0123456789';

function env(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return { GITHUB_API_URL: server.apiUrl, [REAL_BUILDX_VAR]: buildxPath(), ...extra };
}

/** Runs the action with buildx-version `spec`, merging two platforms into a fresh tag. */
async function merge(
  spec: string,
  extra: Record<string, string> = {},
  envExtra: Record<string, string | undefined> = {},
) {
  const tag = `${reg.host}/installed${++n}/app:v1`;
  // a tool cache of the test's own: the runner emulator's goes with its temp folder
  const toolCache = envExtra.RUNNER_TOOL_CACHE ?? mkdtempSync(join(tmpdir(), 'toolcache-'));
  const runnerTemp = mkdtempSync(join(tmpdir(), 'runner-temp-'));
  const run = await runAction({
    inputs: {
      sources: sources.join('\n'),
      tags: tag,
      'buildx-version': spec,
      'buildx-mirror': server.mirror,
      'github-token': TOKEN,
      ...extra,
    },
    env: env({ RUNNER_TOOL_CACHE: toolCache, RUNNER_TEMP: runnerTemp, ...envExtra }),
  });
  return { run, tag, repo: `installed${n}/app`, toolCache, runnerTemp };
}

function expectMerged(r: { run: ActionRun; repo: string }) {
  expect(r.run.code, r.run.stdout.slice(-4000)).toBe(0);
  return readDigest(reg, r.repo, 'v1').then((d) => expect(d).toBe(r.run.outputs.digest));
}

const errorsOf = (run: ActionRun) =>
  run.commands
    .filter((c) => c.command === 'error')
    .map((c) => c.message)
    .join('\n');
const warningsOf = (run: ActionRun) =>
  run.commands
    .filter((c) => c.command === 'warning')
    .map((c) => c.message)
    .join('\n');

beforeAll(async () => {
  reg = await startRegistry();
  sources = await pushPlatformImages(reg, 'src/app', ['linux/amd64', 'linux/arm64']);
  server = await startReleaseServer({
    binary: buildxPath(),
    binaryTag: 'v0.13.1',
    releases: [
      { tag: 'v0.12.1' },
      { tag: 'v0.13.1' },
      { tag: 'v0.29.1' },
      { tag: 'v0.30.0-rc1', prerelease: true },
      { tag: 'v0.30.0' },
      { tag: 'v0.30.1' },
      { tag: 'v0.36.0' },
      { tag: 'v0.36.1' },
      { tag: 'v0.37.0-rc1', prerelease: true },
      { tag: 'v0.38.0', draft: true },
      { tag: 'v0.40.0', assets: 'wrong-binary' },
      { tag: 'v0.41.0', assets: 'wrong-checksum' },
      { tag: 'v0.42.0', assets: 'no-checksums' },
    ],
  });
  repo = await makeBuildxGitRepo();
});
afterAll(async () => {
  await server?.stop();
  await reg?.stop();
  repo?.remove();
});

describe('releases', () => {
  it('an exact release: downloaded, sha256 checked against checksums.txt, version checked, cached; then a real merge', async () => {
    const r = await merge('v0.13.1');
    await expectMerged(r);
    expect(r.run.outputs).toMatchObject({ 'buildx-source': 'release', 'buildx-version': '0.13.1+ds1' });
    const result = JSON.parse(r.run.outputs.result as string);
    expect(result.buildx).toMatchObject({
      resolved: 'v0.13.1',
      checksum: server.checksumOf('v0.13.1', 'linux-amd64'),
    });
    expect(r.run.outputs['buildx-path']).toBe(join(r.toolCache, 'buildx', '0.13.1', 'amd64', 'buildx'));
    expect(existsSync(join(r.toolCache, 'buildx', '0.13.1', 'amd64.complete'))).toBe(true);
    expect(r.run.stdout).toMatch(/downloaded buildx-v0\.13\.1\.linux-amd64 from .*, sha256 verified/);
  });

  it.each([
    ['>=0.30.1 <0.37', 'v0.36.1'],
    ['~0.30.0', 'v0.30.1'],
    ['>=0.30.0 <0.31', 'v0.30.1'],
    ['0.36.x', 'v0.36.1'],
    ['latest', 'v0.42.0'],
    ['>=0.37.0-rc1 <0.38', 'v0.37.0-rc1'],
  ])('%s resolves to %s from the paginated API list, installs it, and merges', async (spec, tag) => {
    const before = server.requests.length;
    const r = await merge(spec);
    await expectMerged(r);
    expect(JSON.parse(r.run.outputs.result as string).buildx.resolved).toBe(tag);
    expect(r.run.stdout).toContain(`resolves to ${tag}`);
    const api = server.requests.slice(before).filter((q) => q.url.includes('/releases'));
    expect(api.length).toBeGreaterThan(0);
    // the token goes to the API as a header, never into a URL or the log
    expect(api.every((q) => q.headers.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(server.requests.slice(before).every((q) => !q.url.includes(TOKEN))).toBe(true);
    expect(r.run.stdout + r.run.stderr).not.toContain(TOKEN);
    // every request, to the API and for the downloads (redirects followed), says who sends it
    const agents = new Set(server.requests.slice(before).map((q) => q.headers['user-agent']));
    expect(agents).toEqual(new Set([ACTION_USER_AGENT]));
  });

  it('a second run of the same version hits the tool cache and makes no network request: the server may be gone', async () => {
    const toolCache = mkdtempSync(join(tmpdir(), 'toolcache-'));
    const first = await merge('0.13.1', {}, { RUNNER_TOOL_CACHE: toolCache });
    await expectMerged(first);
    const before = server.requests.length;
    const second = await merge(
      '0.13.1',
      { 'buildx-mirror': 'http://127.0.0.1:9/unreachable' },
      { RUNNER_TOOL_CACHE: toolCache, GITHUB_API_URL: 'http://127.0.0.1:9' },
    );
    await expectMerged(second);
    expect(server.requests.length).toBe(before);
    expect(second.run.stdout).toMatch(/tool cache \(v0\.13\.1\)/);
  });

  it('a cached binary that no longer runs (its bytes unchanged) is evicted and installed again', async () => {
    const toolCache = mkdtempSync(join(tmpdir(), 'toolcache-'));
    await expectMerged(await merge('v0.13.1', {}, { RUNNER_TOOL_CACHE: toolCache }));
    chmodSync(join(toolCache, 'buildx', '0.13.1', 'amd64', 'buildx'), 0o644);
    const again = await merge('v0.13.1', {}, { RUNNER_TOOL_CACHE: toolCache });
    await expectMerged(again);
    expect(warningsOf(again.run)).toMatch(/no longer runs; removing it and installing again/);
  });

  it('a cached binary whose bytes changed is never run: evicted, downloaded and verified again', async () => {
    const toolCache = mkdtempSync(join(tmpdir(), 'toolcache-'));
    await expectMerged(await merge('v0.13.1', {}, { RUNNER_TOOL_CACHE: toolCache }));
    const marker = join(mkdtempSync(join(tmpdir(), 'ran-')), 'ran');
    writeFileSync(join(toolCache, 'buildx', '0.13.1', 'amd64', 'buildx'), `#!/bin/sh\ntouch '${marker}'\n`);
    const again = await merge('v0.13.1', {}, { RUNNER_TOOL_CACHE: toolCache });
    await expectMerged(again);
    expect(warningsOf(again.run)).toMatch(
      /changed since it was cached \(its sha256 is not the one recorded\)/,
    );
    expect(again.run.stdout).toMatch(/downloaded buildx-v0\.13\.1\.linux-amd64 .*sha256 verified/);
    expect(existsSync(marker)).toBe(false);
  });

  it('a range never picks a draft, nor a release candidate it does not name', async () => {
    // between 0.37 and 0.40 the list holds only v0.37.0-rc1 and the draft v0.38.0
    const r = await merge('>=0.37 <0.40');
    expect(r.run.code).toBe(1);
    expect(errorsOf(r.run)).toMatch(
      /no buildx release satisfies ">=0\.37 <0\.40" \(13 releases listed from the GitHub API; newest v0\.42\.0\)/,
    );
    expect(await readDigest(reg, r.repo, 'v1')).toBeNull();
  });

  it('the API down: the known-releases list shipped in the action, with a warning', async () => {
    server.setApiDown(500);
    try {
      const r = await merge('~0.13.0');
      await expectMerged(r);
      expect(warningsOf(r.run)).toMatch(
        /using the list of known releases shipped in this action \(generated \d{4}-\d{2}-\d{2}\)/,
      );
      expect(JSON.parse(r.run.outputs.result as string).buildx.resolved).toBe('v0.13.1');
    } finally {
      server.setApiDown(false);
    }
  });

  it('API errors are retried', async () => {
    server.setApiFailTimes(2, 502);
    const r = await merge('^0.36');
    await expectMerged(r);
    expect(r.run.stdout).toMatch(/502 Bad Gateway; retrying/);
    expect(warningsOf(r.run)).not.toMatch(/known releases/);
  });
});

describe('releases that must be refused, before any push', () => {
  it.each([
    ['v0.40.0', /reports version v0\.0\.1, not v0\.40\.0: the mirror .* serves the wrong file/],
    [
      'v0.41.0',
      /sha256 of .*buildx-v0\.41\.0\.linux-amd64 is [0-9a-f]{64}, expected [0-9a-f]{64}: refusing to install it/,
    ],
    ['v0.35.0', /404 Not Found/],
  ])('%s', async (spec, message) => {
    const r = await merge(spec);
    expect(r.run.code).toBe(1);
    expect(errorsOf(r.run)).toMatch(message);
    expect(await readDigest(reg, r.repo, 'v1')).toBeNull();
    // nothing cached, no download left behind
    expect(existsSync(join(r.toolCache, 'buildx'))).toBe(false);
    expect(readdirSync(r.runnerTemp).filter((f) => f.startsWith('buildx-'))).toEqual([]);
  });

  it('a release without checksums.txt installs with a warning', async () => {
    const r = await merge('v0.42.0');
    await expectMerged(r);
    expect(warningsOf(r.run)).toMatch(/publishes no checksums\.txt .* without checksum verification/);
  });

  it('buildx-checksum that is not the published one is refused', async () => {
    const r = await merge('v0.13.1', { 'buildx-checksum': 'f'.repeat(64) });
    expect(r.run.code).toBe(1);
    expect(errorsOf(r.run)).toMatch(/buildx-checksum f{64} is not the published sha256/);
  });
});

describe('a URL with buildx-checksum', () => {
  it('downloads, verifies, caches by checksum, and merges', async () => {
    const url = server.serveFile(buildxPath());
    const sha = server.checksumOf('v0.13.1', 'linux-amd64');
    const r = await merge(url, { 'buildx-checksum': `sha256:${sha}` });
    await expectMerged(r);
    expect(r.run.outputs['buildx-source']).toBe('url');
    expect(JSON.parse(r.run.outputs.result as string).buildx.checksum).toBe(sha);
  });
  it('a cache hit by checksum whose file changed is not taken for the pinned binary', async () => {
    const url = server.serveFile(buildxPath());
    const sha = server.checksumOf('v0.13.1', 'linux-amd64');
    const toolCache = mkdtempSync(join(tmpdir(), 'toolcache-'));
    await expectMerged(await merge(url, { 'buildx-checksum': sha }, { RUNNER_TOOL_CACHE: toolCache }));
    const [key] = readdirSync(join(toolCache, 'buildx'));
    writeFileSync(
      join(toolCache, 'buildx', key!, 'amd64', 'buildx'),
      '#!/bin/sh\necho "github.com/docker/buildx v0.13.1 x"\n',
    );
    const again = await merge(url, { 'buildx-checksum': sha }, { RUNNER_TOOL_CACHE: toolCache });
    await expectMerged(again);
    expect(warningsOf(again.run)).toMatch(/changed since it was cached/);
    expect(again.run.stdout).not.toMatch(/tool cache \(by checksum\)/);
  });
  it('refuses a binary whose sha256 differs, with both hashes', async () => {
    const r = await merge(server.serveFile(buildxPath()), { 'buildx-checksum': '0'.repeat(64) });
    expect(r.run.code).toBe(1);
    expect(errorsOf(r.run)).toMatch(
      new RegExp(`is ${server.checksumOf('v0.13.1', 'linux-amd64')}, expected 0{64}`),
    );
  });
});

describe('a fix branch from git', () => {
  it('builds the ref with Go, with version ldflags; a second run of the same commit builds nothing', async () => {
    const toolCache = mkdtempSync(join(tmpdir(), 'toolcache-'));
    const spec = `${repo.url}#fix/imagetools-copy`;
    const first = await merge(spec, {}, { RUNNER_TOOL_CACHE: toolCache });
    await expectMerged(first);
    expect(first.run.outputs).toMatchObject({
      'buildx-source': 'git',
      'buildx-version': 'fix/imagetools-copy',
    });
    expect(JSON.parse(first.run.outputs.result as string).buildx.resolved).toBe(repo.commits.fix);
    expect(first.run.stdout).toMatch(/built fix\/imagetools-copy \([0-9a-f]{12}\) with go build/);
    expect(existsSync(join(toolCache, 'buildx', `0.0.0-git.${repo.commits.fix}`, 'amd64', 'buildx'))).toBe(
      true,
    );

    // the same commit, named by its short id, on a PATH with git and no Go: no build
    const bin = mkdtempSync(join(tmpdir(), 'bin-'));
    symlinkSync('/usr/bin/git', join(bin, 'git'));
    const second = await merge(
      `${repo.url}#${repo.shortFix}`,
      {},
      { RUNNER_TOOL_CACHE: toolCache, PATH: bin },
    );
    await expectMerged(second);
    expect(second.run.stdout).toMatch(/tool cache \(commit/);
    expect(second.run.stdout).not.toMatch(/go build/);
  });

  it.each([
    ['refs/pull/7/head', 'fix'],
    ['v0.99.0', 'tag'],
    ['main', 'main'],
    ['with-vendor', 'withVendor'],
  ] as const)('ref %s', async (ref, which) => {
    const r = await merge(`${repo.url}#${ref}`);
    await expectMerged(r);
    expect(JSON.parse(r.run.outputs.result as string).buildx.resolved).toBe(repo.commits[which]);
  });

  it('https and scp-style URLs of the same repository', async () => {
    for (const url of ['https://github.com/someone/buildx.git', 'git@github.com:someone/buildx.git']) {
      const r = await merge(`${url}#fix/imagetools-copy`, {}, repo.rewriteEnv(url));
      await expectMerged(r);
      expect(r.run.stdout + r.run.stderr).not.toContain(TOKEN);
    }
  });

  it('without Go or Docker: a clear error that names both ways', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'bin-'));
    symlinkSync('/usr/bin/git', join(bin, 'git'));
    const r = await merge(`${repo.url}#main`, {}, { PATH: bin });
    expect(r.run.code).toBe(1);
    expect(errorsOf(r.run)).toMatch(
      /needs Go on PATH \(add actions\/setup-go.*\) or a reachable Docker engine/,
    );
  });

  it('a ref that does not exist', async () => {
    const r = await merge(`${repo.url}#no-such-branch`);
    expect(r.run.code).toBe(1);
    expect(errorsOf(r.run)).toMatch(/"no-such-branch" is not a branch, tag or ref/);
  });
});

describe('install-plugin', () => {
  it('places the binary as $DOCKER_CONFIG/cli-plugins/docker-buildx and logs what it replaced', async () => {
    const dockerConfig = mkdtempSync(join(tmpdir(), 'dc-'));
    mkdirSync(join(dockerConfig, 'cli-plugins'));
    writeFileSync(
      join(dockerConfig, 'cli-plugins', 'docker-buildx'),
      "#!/bin/sh\necho 'github.com/docker/buildx v0.9.1 old'\n",
      { mode: 0o755 },
    );
    const r = await merge('v0.13.1', { 'install-plugin': 'true' }, { DOCKER_CONFIG: dockerConfig });
    await expectMerged(r);
    const plugin = join(dockerConfig, 'cli-plugins', 'docker-buildx');
    expect(readFileSync(plugin).equals(readFileSync(buildxPath()))).toBe(true);
    expect(r.run.stdout).toContain(
      `"docker buildx" is now buildx 0.13.1+ds1 at ${plugin}; before, it was ${plugin} (v0.9.1)`,
    );
  });
  it('without it, nothing on the runner changes', async () => {
    const dockerConfig = mkdtempSync(join(tmpdir(), 'dc-'));
    const r = await merge('v0.13.1', {}, { DOCKER_CONFIG: dockerConfig });
    await expectMerged(r);
    expect(existsSync(join(dockerConfig, 'cli-plugins'))).toBe(false);
  });
});
