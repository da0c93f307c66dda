// The command line, end to end: the bundled dist/cli.js run as a process on Node 24 (and as its own
// executable, by its shebang), outside GitHub Actions (no GITHUB_* or RUNNER_* variables), against a
// real registry and Debian's real buildx 0.13.1 and 0.29.1: a merge of 5 tags, a recovered crash
// and a failed run through the fault shim, bad flags, --metadata-file and --summary-file read back,
// the tool cache reused across two runs, and the SAFE_IMAGETOOLS_* variables. No line of its output
// is a workflow command, and nothing it started is left running.
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { pushPlatformImages } from '../testbed/images.js';
import { buildxPath, node24Path, realBuildxes, repoRoot } from '../testbed/paths.js';
import { type ProcessResult, runProcess } from '../testbed/proc.js';
import { readDigest, type Registry, startRegistry } from '../testbed/registry.js';
import { type ReleaseServer, startReleaseServer } from '../testbed/release-server.js';
import { leftoverProcesses, MARKER_VAR } from '../testbed/runner.js';
import { makeShim, type ShimStep } from '../testbed/shim.js';

const CLI = join(repoRoot, 'dist', 'cli.js');

let reg: Registry;
let server: ReleaseServer;
let sources: string[];
let n = 0;
const repo = (name: string) => `${name}${++n}/app`;
const tags = (r: string, count: number) =>
  Array.from({ length: count }, (_, i) => `${reg.host}/${r}:t${i + 1}`);
const tmp = (what: string) => mkdtempSync(join(tmpdir(), `cli-${what}-`));

beforeAll(async () => {
  reg = await startRegistry();
  sources = await pushPlatformImages(reg, 'cli-src/app', ['linux/amd64', 'linux/arm64']);
  server = await startReleaseServer({ binary: buildxPath(), releases: [{ tag: 'v0.13.1' }] });
}, 120_000);
afterAll(async () => {
  await server?.stop();
  await reg?.stop();
});

interface CliRun extends ProcessResult {
  home: string;
  leftovers: number[];
}

/** Runs `safe-imagetools <args>` with a clean environment: no GITHUB_*, no RUNNER_*. */
async function cli(args: string[], env: Record<string, string> = {}, direct = false): Promise<CliRun> {
  const home = (env.HOME as string | undefined) ?? tmp('home');
  const marker = `cli-${process.pid}-${++n}`;
  const base = { PATH: process.env.PATH ?? '', HOME: home, DOCKER_CONFIG: join(home, '.docker') };
  const run = await runProcess(direct ? CLI : node24Path(), direct ? args : [CLI, ...args], {
    env: { ...base, [MARKER_VAR]: marker, ...env },
    cwd: home,
    timeoutMs: 120_000,
  });
  return { ...run, home, leftovers: leftoverProcesses(marker) };
}

function expectPlain(run: CliRun): void {
  const commands = `${run.stdout}\n${run.stderr}`.split('\n').filter((l) => l.startsWith('::'));
  expect(commands, 'workflow commands in the output').toEqual([]);
  expect(run.leftovers, 'processes left running').toEqual([]);
}

describe.each(realBuildxes())('buildx $version', (bx) => {
  it('merges 5 tags: exit 0, every tag holds the index; the metadata and summary files say so', async () => {
    const r = repo('five');
    const meta = join(tmp('meta'), 'metadata.json');
    const summary = join(tmp('summary'), 'summary.md');
    const flags = tags(r, 5).flatMap((t) => ['-t', t]);
    const run = await cli([
      'create',
      ...flags,
      '--buildx-version',
      bx.path,
      '--metadata-file',
      meta,
      '--summary-file',
      summary,
      ...sources,
    ]);
    expect(run.code, run.stdout.slice(-3000) + run.stderr).toBe(0);
    expectPlain(run);
    const metadata = JSON.parse(readFileSync(meta, 'utf8'));
    const digest = metadata['containerimage.digest'] as string;
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    for (let i = 1; i <= 5; i++) expect(await readDigest(reg, r, `t${i}`)).toBe(digest);
    expect(metadata['image.name']).toBe(tags(r, 5).join(','));
    expect(metadata['safe-imagetools.result']).toMatchObject({ ok: true, digest });
    expect(readFileSync(summary, 'utf8')).toMatch(/Pushed 5 tags, every one verified/);
    expect(run.stdout).toMatch(/safe-imagetools: Pushed 5 tags, every one verified/);
    expect(run.stdout).toMatch(/^==> /m); // buildx's runs under plain headers
  });

  it('a crash, then a retry that goes through: exit 0, the recovery said in plain words', async () => {
    const r = repo('crash');
    const shim = makeShim({ steps: ['crash', 'pass'] satisfies ShimStep[] }, { realBuildx: bx.path });
    const meta = join(tmp('meta'), 'metadata.json');
    const args = [
      'create',
      '-t',
      `${reg.host}/${r}:v1`,
      '--buildx-version',
      shim.path,
      '--retry-delay',
      '200ms',
    ];
    const run = await cli([...args, '--metadata-file', meta, ...sources], shim.env);
    expect(run.code, run.stdout.slice(-3000)).toBe(0);
    expectPlain(run);
    expect(shim.pushes()).toBe(2);
    expect(run.stdout).toMatch(/^push .*attempt 1\): .*panic/im); // the attempt's verdict, one line
    expect(run.stdout).toMatch(/^warning: recovered from panic: concurrent map writes \(2 attempts\)/m);
    const result = JSON.parse(readFileSync(meta, 'utf8'))['safe-imagetools.result'];
    expect(result.ok).toBe(true);
    expect(result.attempts.map((a: { class?: string }) => a.class ?? 'ok')).toContain('panic');
    expect(await readDigest(reg, r, 'v1')).toBe(result.digest);
    shim.remove();
  });

  it('a failed run: exit 1, one error that says what to do first; nothing left running', async () => {
    const r = repo('failed');
    const shim = makeShim({ steps: ['crash'] }, { realBuildx: bx.path });
    const args = ['create', '-t', `${reg.host}/${r}:v1`, '--buildx-version', shim.path];
    const run = await cli([...args, '--max-attempts', '2', '--retry-delay', '100ms', ...sources], shim.env);
    expect(run.code, run.stdout.slice(-3000)).toBe(1);
    expectPlain(run);
    expect(shim.pushes()).toBe(2);
    const errors = run.stdout.split('\n').filter((l) => l.startsWith('error: '));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/crash/i);
    expect(run.stdout).toMatch(/^safe-imagetools: Failed/m);
    // the crash's telling lines, at the end, after the goroutine dumps streamed as buildx printed them
    const end = run.stdout.slice(run.stdout.lastIndexOf('safe-imagetools: Failed'));
    expect(end).toMatch(/^The crash of attempts \d+ and \d+ \(panic: concurrent map writes\):\n {2}/m);
    expect(end).toMatch(/^ {2}fatal error: concurrent map writes$/m);
    expect(await readDigest(reg, r, 'v1')).toBeNull();
    shim.remove();
  });
});

describe('failures', () => {
  it.each([
    [['create', '--bogus', 'x'], /unknown flag --bogus/],
    [
      ['create', '--max-attempts', '0', '-t', 'TAG', 'SRC'],
      /--max-attempts: expected a whole number from 1 to 20, got 0/,
    ],
    [
      ['create', '--progress', 'fancy', '-t', 'TAG', 'SRC'],
      /--progress: expected one of auto, plain, tty, quiet, rawjson/,
    ],
    [['create', '-t', 'TAG'], /SOURCE: no source images/],
    [['create', 'SRC'], /--tag: at least one target tag is required/],
    [
      ['create', '-t', 'TAG', 'SRC', '--policy', 'mode: strict'],
      /--policy: policy \(inline\).*mode must be one of/,
    ],
    [['push', 'x'], /unknown command "push"/],
  ])('bad usage %j: exit 2, nothing pushed', async (args, message) => {
    const r = repo('usage');
    const fill = (a: string) => (a === 'TAG' ? `${reg.host}/${r}:v1` : a === 'SRC' ? sources[0]! : a);
    const run = await cli(args.map(fill), { SAFE_IMAGETOOLS_BUILDX_VERSION: buildxPath() });
    expect(run.code).toBe(2);
    expect(`${run.stdout}${run.stderr}`).toMatch(message);
    expectPlain(run);
    expect(await readDigest(reg, r, 'v1')).toBeNull();
  });

  it('a --metadata-file that cannot be written: exit 1 and says so; the tags are pushed all the same', async () => {
    const r = repo('meta');
    const meta = join(tmp('meta'), 'no-such-dir', 'metadata.json');
    const run = await cli(['create', '-t', `${reg.host}/${r}:v1`, '--metadata-file', meta, ...sources], {
      SAFE_IMAGETOOLS_BUILDX_VERSION: buildxPath(),
    });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^error: --metadata-file: cannot write ".*metadata\.json" \(ENOENT\)$/m);
    expect(await readDigest(reg, r, 'v1')).toMatch(/^sha256:/);
  });

  it('--help and --version: exit 0; runnable by its shebang (the package bin)', async () => {
    expect(statSync(CLI).mode & 0o111).not.toBe(0);
    const help = await cli(['--help'], {}, true);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: safe-imagetools create \[OPTIONS\] SOURCE/);
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
    expect(pkg.bin).toEqual({ 'safe-imagetools': 'dist/cli.js' });
    const version = await cli(['--version'], {}, true);
    expect(version.stdout.trim()).toBe(`safe-imagetools ${pkg.version}`);
  });
});

describe('the npm package', () => {
  it('packs the command line and its chunks, its bin pointing at dist/cli.js', async () => {
    const pack = await runProcess('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: repoRoot,
    });
    expect(pack.code, pack.stderr).toBe(0);
    const [info] = JSON.parse(pack.stdout) as { files: { path: string }[] }[];
    const files = info!.files.map((f) => f.path);
    expect(files).toEqual(
      expect.arrayContaining(['dist/cli.js', 'dist/cli/index.js', 'dist/index.js', 'action.yml']),
    );
    expect(
      files.filter((f) => f.startsWith('dist/cli/') && /^\d+\.index\.js$/.test(f.split('/').pop()!)),
    ).not.toEqual([]);
    expect(files.filter((f) => /^(src|__tests__|bench|scripts)\//.test(f))).toEqual([]);
  });
});

describe('outside GitHub: variables and the tool cache', () => {
  it('SAFE_IMAGETOOLS_* variables give the inputs; a flag wins over its variable', async () => {
    const r = repo('env');
    const run = await cli(['create', '-t', `${reg.host}/${r}:v1`, '--tag-method', 'buildx', ...sources], {
      SAFE_IMAGETOOLS_BUILDX_VERSION: buildxPath(),
      SAFE_IMAGETOOLS_TAG_METHOD: 'put',
      SAFE_IMAGETOOLS_MAX_ATTEMPTS: '2',
    });
    expect(run.code, run.stdout.slice(-3000)).toBe(0);
    expect(run.stdout).toContain(`at ${buildxPath()}`);
    expect(await readDigest(reg, r, 'v1')).toMatch(/^sha256:/);
    const bad = await cli(['create', '-t', `${reg.host}/${r}:v2`, ...sources], {
      SAFE_IMAGETOOLS_VERIFY: 'maybe',
    });
    expect(bad.code).toBe(2);
    expect(bad.stdout).toMatch(/SAFE_IMAGETOOLS_VERIFY: expected true or false, got "maybe"/);
  });

  it('a release is installed into $XDG_CACHE_HOME/safe-imagetools once: the second run downloads nothing', async () => {
    const home = tmp('home');
    const env = { HOME: home, XDG_CACHE_HOME: join(home, 'xdg'), GITHUB_API_URL: server.apiUrl };
    const args = (t: string) => [
      'create',
      '--dry-run',
      '--buildx-version',
      'v0.13.1',
      '--buildx-mirror',
      server.mirror,
      ...sources,
      '-t',
      t,
    ];
    const first = await cli(args(`${reg.host}/${repo('cache')}:v1`), env);
    expect(first.code, first.stdout.slice(-3000)).toBe(0);
    expect(first.stdout).toMatch(
      /^buildx 0\.13\.1\S* \(release: downloaded .*\) at .*xdg\/safe-imagetools\//m,
    );
    server.requests.length = 0;
    const second = await cli(args(`${reg.host}/${repo('cache')}:v1`), env);
    expect(second.code, second.stdout.slice(-3000)).toBe(0);
    expect(second.stdout).toMatch(/^buildx 0\.13\.1\S* \(release: tool cache/m);
    expect(server.requests.filter((q) => q.url.startsWith('/download/'))).toEqual([]);
    expectPlain(second);
  });
});
