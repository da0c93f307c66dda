// Smoke test of the test bed itself, with real parts: registry, buildx 0.13.1, the fault shim,
// and the runner emulator on Node 24.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushPlatformImages, pushPlatformImagesDetailed } from '../testbed/images.js';
import { buildxPath, fixturePath, node24Path, repoRoot } from '../testbed/paths.js';
import { runProcess } from '../testbed/proc.js';
import { readDigest, readManifest, startRegistry, type Registry } from '../testbed/registry.js';
import {
  killLeftovers,
  leftoverProcesses,
  MARKER_VAR,
  newMarker,
  parseActionDefaults,
  runAction,
  startAction,
  waitForNoLeftovers,
} from '../testbed/runner.js';
import { makeShim, type Shim } from '../testbed/shim.js';

const tmpDirs: string[] = [];
function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpDirs.push(dir);
  return dir;
}

/** Environment for buildx: its own empty DOCKER_CONFIG. */
function buildxEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, DOCKER_CONFIG: tempDir('sit-docker-'), ...extra };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

let reg: Registry;
const shims: Shim[] = [];

beforeAll(async () => {
  reg = await startRegistry();
});

afterAll(async () => {
  await reg?.stop();
  for (const shim of shims) shim.remove();
  for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true });
});

describe('registry and buildx', () => {
  it('merges two pushed platforms into a tag with the real buildx', async () => {
    const refs = await pushPlatformImages(reg, 'smoke/src', ['linux/amd64', 'linux/arm/v7']);
    expect(refs).toEqual([`${reg.host}/smoke/src:amd64`, `${reg.host}/smoke/src:arm-v7`]);
    expect(await readDigest(reg, 'smoke/src', 'amd64')).toMatch(/^sha256:[0-9a-f]{64}$/);

    const target = `${reg.host}/smoke/app:v1`;
    const env = buildxEnv();
    const dry = await runProcess(buildxPath(), ['imagetools', 'create', '--dry-run', '-t', target, ...refs], {
      env,
    });
    expect(dry.code, dry.stderr).toBe(0);
    expect(await readDigest(reg, 'smoke/app', 'v1')).toBeNull();

    const r = await runProcess(
      buildxPath(),
      ['imagetools', 'create', '--progress=plain', '-t', target, ...refs],
      {
        env,
      },
    );
    expect(r.code, r.stderr).toBe(0);
    const digest = await readDigest(reg, 'smoke/app', 'v1');
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);

    // The design's claim: the expected digest is sha256 of the dry-run JSON without its final newline.
    const printed = dry.stdout.replace(/\n$/, '');
    expect('sha256:' + createHash('sha256').update(printed).digest('hex')).toBe(digest);

    const index = await readManifest(reg, 'smoke/app', 'v1');
    expect(index?.digest).toBe(digest);
    const platforms = (index?.json.manifests as { platform: Record<string, string> }[]).map((m) =>
      [m.platform.os, m.platform.architecture, m.platform.variant].filter(Boolean).join('/'),
    );
    expect(platforms.sort()).toEqual(['linux/amd64', 'linux/arm/v7']);
  });

  it('an htpasswd registry refuses anonymous pushes and takes authenticated ones', async () => {
    const auth = { username: 'ci-bot', password: 'not-a-secret' };
    const secured = await startRegistry({ auth });
    try {
      await expect(pushPlatformImages(secured, 'private/src', ['linux/amd64'])).rejects.toMatchObject({
        status: 401,
      });
      const pushed = await pushPlatformImagesDetailed(
        secured,
        'private/src',
        ['linux/amd64', 'linux/arm64'],
        {
          auth,
        },
      );
      expect(pushed.map((p) => p.tag)).toEqual(['amd64', 'arm64']);
      expect(await readDigest(secured, 'private/src', 'arm64', auth)).toBe(pushed[1]?.digest);
      await expect(readDigest(secured, 'private/src', 'arm64')).rejects.toThrow(/401/);

      // buildx logs in with the credentials in DOCKER_CONFIG/config.json.
      const dockerConfig = tempDir('sit-docker-');
      const token = Buffer.from(`${auth.username}:${auth.password}`).toString('base64');
      writeFileSync(
        path.join(dockerConfig, 'config.json'),
        JSON.stringify({ auths: { [secured.host]: { auth: token } } }),
      );
      const target = `${secured.host}/private/app:v1`;
      const r = await runProcess(
        buildxPath(),
        ['imagetools', 'create', '--progress=plain', '-t', target, ...pushed.map((p) => p.ref)],
        { env: { ...process.env, DOCKER_CONFIG: dockerConfig } },
      );
      expect(r.code, r.stderr).toBe(0);
      expect(await readDigest(secured, 'private/app', 'v1', auth)).toMatch(/^sha256:/);
    } finally {
      await secured.stop();
    }
  });
});

describe('fault shim', () => {
  let sources: string[];

  beforeAll(async () => {
    sources = await pushPlatformImages(reg, 'shim/src', ['linux/amd64', 'linux/arm64']);
  });

  function shimFor(script: Parameters<typeof makeShim>[0]): Shim {
    const shim = makeShim(script);
    shims.push(shim);
    return shim;
  }

  function create(shim: Shim, tag: string, extraEnv: Record<string, string> = {}) {
    return runProcess(
      shim.path,
      ['imagetools', 'create', '--progress=plain', '-t', `${reg.host}/shim/app:${tag}`, ...sources],
      { env: buildxEnv({ ...shim.env, ...extraEnv }) },
    );
  }

  it('crash: prints a real Go crash and exits 2 without pushing; the next step passes', async () => {
    const shim = shimFor({ steps: ['crash', 'pass'] });
    const crashed = await create(shim, 'c1');
    expect(crashed.code).toBe(2);
    expect(crashed.stderr).toContain('fatal error: concurrent map writes');
    expect(crashed.stderr).toContain('goroutine ');
    expect(await readDigest(reg, 'shim/app', 'c1')).toBeNull();

    const passed = await create(shim, 'c1');
    expect(passed.code, passed.stderr).toBe(0);
    expect(await readDigest(reg, 'shim/app', 'c1')).toMatch(/^sha256:/);

    // Dry runs and version pass straight through and are not counted.
    const dry = await runProcess(
      shim.path,
      ['imagetools', 'create', '--dry-run', '-t', 'x/y:z', ...sources],
      {
        env: buildxEnv(shim.env),
      },
    );
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout).manifests).toHaveLength(2);
    const version = await runProcess(shim.path, ['version'], { env: buildxEnv(shim.env) });
    expect(version.stdout).toContain('github.com/docker/buildx 0.13.1');

    expect(shim.pushes()).toBe(2);
    expect(shim.log().map((e) => e.step.mode)).toEqual(['crash', 'pass']);
    expect(shim.log()[0]?.argv).toContain(`${reg.host}/shim/app:c1`);
  });

  it('crash-after-push, registry-error, another fixture, a fake version', async () => {
    const shim = shimFor({
      version: 'github.com/docker/buildx v0.30.0 abcdef',
      steps: [
        'crash-after-push',
        'registry-error',
        { mode: 'crash', fixture: 'v0.30.0-fatal-concurrent-map-writes-2.log' },
      ],
    });
    const after = await create(shim, 'a1');
    expect(after.code).toBe(2);
    expect(after.stderr).toContain('fatal error: concurrent map writes');
    expect(await readDigest(reg, 'shim/app', 'a1')).toMatch(/^sha256:/);

    const regErr = await create(shim, 'a2');
    expect(regErr.code).toBe(1);
    expect(regErr.stderr).toMatch(
      /^ERROR: failed commit on ref "index-sha256:[0-9a-f]{64}": .* 503 Service Unavailable$/m,
    );
    expect(await readDigest(reg, 'shim/app', 'a2')).toBeNull();

    const other = await create(shim, 'a3');
    expect(other.code).toBe(2);
    expect(other.stderr.length).toBeGreaterThan(10_000);

    // Past the end of the script the last step repeats.
    expect((await create(shim, 'a4')).code).toBe(2);
    expect(shim.log().map((e) => e.n)).toEqual([1, 2, 3, 4]);

    const version = await runProcess(shim.path, ['version'], { env: buildxEnv(shim.env) });
    expect(version.stdout).toBe('github.com/docker/buildx v0.30.0 abcdef\n');
    expect(fixturePath('x.log')).toContain(path.join('fixtures', 'buildx-output'));
  });

  it('flood: megabytes of progress lines, then the real push', async () => {
    const shim = shimFor({ steps: [{ mode: 'flood', mb: 8 }] });
    const r = await create(shim, 'f1');
    expect(r.code, r.stderr).toBe(0);
    expect(Buffer.byteLength(r.stdout)).toBe(8 * 1024 * 1024);
    expect(r.stdout.split('\n', 1)[0]).toMatch(/^#1 \d+\.\d{3} copying sha256:[0-9a-f]{64} from \S+ to \S+$/);
    expect(await readDigest(reg, 'shim/app', 'f1')).toMatch(/^sha256:/);
  });

  it('hang: silent after two progress lines, with a child process; gone once the group is killed', async () => {
    const shim = shimFor({ steps: ['hang'] });
    const marker = newMarker();
    const child = spawn(
      shim.path,
      ['imagetools', 'create', '--progress=plain', '-t', `${reg.host}/shim/app:h1`, ...sources],
      {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: buildxEnv({ ...shim.env, [MARKER_VAR]: marker }),
      },
    );
    let output = '';
    child.stdout?.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (output += b.toString()));
    const exited = new Promise<string | null>((resolve) => child.once('exit', (_c, s) => resolve(s)));
    try {
      for (let i = 0; i < 100 && output.split('\n').length < 3; i++) await sleep(50);
      expect(output).toMatch(/^#1 \[internal\] pushing .*shim\/app:h1\n#1 0\.001 copying sha256:/);
      const before = output;
      await sleep(1500);
      expect(output).toBe(before);
      expect(child.exitCode).toBeNull();
      const tree = leftoverProcesses(marker);
      expect(tree).toContain(child.pid);
      expect(tree.length).toBeGreaterThanOrEqual(2);
    } finally {
      if (child.pid) process.kill(-child.pid, 'SIGTERM');
    }
    expect(await exited).toBe('SIGTERM');
    expect(await waitForNoLeftovers(marker)).toEqual([]);
    expect(await readDigest(reg, 'shim/app', 'h1')).toBeNull();
  });

  it('hang with ignoreSigterm: only SIGKILL ends it', async () => {
    const shim = shimFor({ steps: [{ mode: 'hang', ignoreSigterm: true, childStdio: 'ignore' }] });
    const marker = newMarker();
    const child = spawn(shim.path, ['imagetools', 'create', '-t', `${reg.host}/shim/app:h2`, ...sources], {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: buildxEnv({ ...shim.env, [MARKER_VAR]: marker }),
    });
    const exited = new Promise<string | null>((resolve) => child.once('exit', (_c, s) => resolve(s)));
    let started = false;
    child.stderr?.on('data', () => (started = true));
    for (let i = 0; i < 100 && !started; i++) await sleep(50);
    await sleep(200);
    const pid = child.pid as number;
    process.kill(-pid, 'SIGTERM');
    await sleep(500);
    expect(leftoverProcesses(marker)).toEqual([pid]);
    process.kill(-pid, 'SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(await waitForNoLeftovers(marker)).toEqual([]);
  });
});

describe('runner emulator', () => {
  // A stand-in for dist/index.js that uses the real @actions/core, so the parsing is checked
  // against the library's own formats.
  function fakeAction(body: string): string {
    const core = pathToFileURL(
      path.join(repoRoot, 'node_modules', '@actions', 'core', 'lib', 'core.js'),
    ).href;
    const file = path.join(tempDir('sit-entry-'), 'index.mjs');
    writeFileSync(
      file,
      `import * as core from ${JSON.stringify(core)};\nimport { spawn } from 'node:child_process';\n${body}\n`,
    );
    return file;
  }

  it('runs on Node 24 with inputs, file commands, annotations and leftovers', async () => {
    const entry = fakeAction(`
      const hold = Buffer.alloc(64 * 1024 * 1024, 1);
      console.log('node ' + process.version + ' ' + hold.length);
      console.log('inputs ' + JSON.stringify([core.getInput('tags-per-buildx'), core.getInput('some input'), core.getMultilineInput('tags')]));
      console.log('env ' + JSON.stringify([process.env.GITHUB_WORKFLOW_REF, process.env.RUNNER_TEMP !== undefined, process.env.DOCKER_CONFIG !== undefined]));
      core.setOutput('digest', 'sha256:0123');
      core.setOutput('result', JSON.stringify({ tags: ['a', 'b'] }, null, 2));
      core.error('buildx crashed: 100% sure\\nsecond line', { title: 'Crash: a, b', file: '.github/workflows/release.yml', startLine: 12 });
      core.warning('plain warning');
      core.exportVariable('FOO', 'bar');
      core.addPath('/opt/fake/bin');
      core.saveState('attempts', '3');
      await core.summary.addHeading('safe-imagetools').addRaw('all good').write();
      const sleeper = spawn('sleep', ['30'], { stdio: 'ignore', detached: true });
      sleeper.unref();
      process.exitCode = 1;
    `);
    const run = await runAction({
      entry,
      inputs: { 'tags-per-buildx': '2', 'some input': 'x y', tags: 'a\nb' },
      measureRss: true,
    });
    try {
      expect(run.code, run.stderr).toBe(1);
      expect(run.stdout).toMatch(/^node v24\.\d+\.\d+ 67108864$/m);
      expect(run.stdout).toContain('inputs ["2","x y",["a","b"]]');
      expect(run.stdout).toContain(
        'env ["octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main",true,true]',
      );
      expect(run.outputs).toEqual({
        digest: 'sha256:0123',
        result: JSON.stringify({ tags: ['a', 'b'] }, null, 2),
      });
      expect(run.commands).toContainEqual({
        command: 'error',
        props: { title: 'Crash: a, b', file: '.github/workflows/release.yml', line: '12' },
        message: 'buildx crashed: 100% sure\nsecond line',
      });
      expect(run.commands.map((c) => c.command)).toEqual(['error', 'warning']);
      expect(run.exportedEnv).toEqual({ FOO: 'bar' });
      expect(run.addedPath).toEqual(['/opt/fake/bin']);
      expect(run.state).toEqual({ attempts: '3' });
      expect(run.summary).toContain('<h1>safe-imagetools</h1>');
      expect(run.fileCommandErrors).toEqual([]);
      expect(run.peakRssKb).toBeGreaterThan(64 * 1024);
      expect(run.stdioOpenAfterExit).toBe(false);
      // The detached sleep outlived the action: the marker finds it.
      expect(leftoverProcesses(run.marker)).toHaveLength(1);
    } finally {
      killLeftovers(run.marker);
    }
    expect(await waitForNoLeftovers(run.marker)).toEqual([]);
  });

  it('startAction hands out the child so a test can cancel the run', async () => {
    const entry = fakeAction(`
      process.on('SIGTERM', () => { console.log('::warning::cancelled'); process.exit(143); });
      console.log('ready');
      setInterval(() => {}, 1000);
    `);
    let ready!: () => void;
    const isReady = new Promise<void>((resolve) => (ready = resolve));
    const started = startAction({ entry, inputs: {}, timeoutMs: 20_000 });
    started.child.stdout?.on('data', (b: Buffer) => {
      if (b.toString().includes('ready')) ready();
    });
    await isReady;
    started.child.kill('SIGTERM');
    const run = await started.result;
    expect(run.code).toBe(143);
    expect(run.commands).toEqual([{ command: 'warning', props: {}, message: 'cancelled' }]);
    expect(run.timedOut).toBe(false);
  });

  it('reports a leftover holding stdout, kills on timeout, and bounds what it keeps of stdout', async () => {
    const holder = await runAction({
      entry: fakeAction(`spawn('sleep', ['30'], { stdio: ['ignore', 'inherit', 'inherit'] }).unref();`),
      inputs: {},
      drainMs: 300,
    });
    expect(holder.code).toBe(0);
    expect(holder.stdioOpenAfterExit).toBe(true);
    expect(leftoverProcesses(holder.marker)).toHaveLength(1);
    killLeftovers(holder.marker);
    expect(await waitForNoLeftovers(holder.marker)).toEqual([]);

    const stuck = await runAction({
      entry: fakeAction(`spawn('sleep', ['30'], { stdio: 'ignore' }); setInterval(() => {}, 1000);`),
      inputs: {},
      timeoutMs: 1000,
    });
    expect(stuck.timedOut).toBe(true);
    expect(stuck.signal).toBe('SIGKILL');
    expect(await waitForNoLeftovers(stuck.marker)).toEqual([]);

    const loud = await runAction({
      entry: fakeAction(`
        const line = 'x'.repeat(99) + '\\n';
        for (let i = 0; i < 50_000; i++) process.stdout.write(line);
        core.error('after the flood');
      `),
      inputs: {},
      maxCaptureBytes: 1024 * 1024,
    });
    expect(loud.stdoutBytes).toBeGreaterThan(5_000_000);
    expect(loud.stdout.length).toBeLessThan(1.1 * 1024 * 1024);
    expect(loud.stdout).toMatch(/\[\.\.\. \d+ bytes not kept by the test runner \.\.\.\]/);
    expect(loud.stdout.endsWith('::error::after the flood\n')).toBe(true);
    expect(loud.commands).toEqual([{ command: 'error', props: {}, message: 'after the flood' }]);
  });

  it('applies action.yml defaults like the runner', () => {
    const yml = [
      'name: x',
      'inputs:',
      '  max-attempts:',
      "    description: 'how many'",
      "    default: '5'",
      '  github-token:',
      '    default: ${{ github.token }}',
      '  retry-on:',
      '    default: panic,transient # comment',
      '  policy:',
      '    description: |',
      '      multi',
      '      line',
      '  annotations:',
      '    default: |',
      '      a',
      '      b',
      'runs:',
      '  using: node24',
    ].join('\n');
    expect(parseActionDefaults(yml)).toEqual({
      'max-attempts': '5',
      'github-token': '${{ github.token }}',
      'retry-on': 'panic,transient',
      annotations: 'a\nb\n',
    });
  });

  it('Node 24 is the one the bundle runs on', async () => {
    const r = await runProcess(node24Path(), ['--version']);
    expect(r.stdout).toMatch(/^v24\./);
  });
});
