// The nine scenarios of the foundation, each running the bundled dist/index.js on Node 24 the way
// the runner does, against a real registry process and Debian's real buildx, 0.13.1 and 0.29.1.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { pushPlatformImages, pushPlatformImagesDetailed } from '../testbed/images.js';
import { node24Path, realBuildxes, repoRoot } from '../testbed/paths.js';
import { listTags, readDigest, readManifest, type Registry, startRegistry } from '../testbed/registry.js';
import { type ActionRun, leftoverProcesses, runAction, startAction } from '../testbed/runner.js';
import { makeShim, type ShimStep } from '../testbed/shim.js';

const SIX = ['linux/amd64', 'linux/arm64', 'linux/arm/v7', 'linux/s390x', 'linux/ppc64le', 'linux/386'];

let reg: Registry;
let sources2: string[];
let sources6: string[];
let repoCount = 0;
/** a fresh repository name for each test */
const repo = (name: string) => `${name}${++repoCount}/app`;
const tagList = (r: string, n: number) => Array.from({ length: n }, (_, i) => `${reg.host}/${r}:t${i + 1}`);

function errors(run: ActionRun): string[] {
  return run.commands.filter((c) => c.command === 'error').map((c) => c.message);
}

async function expectAllHold(r: string, n: number, digest: string) {
  for (let i = 1; i <= n; i++) expect(await readDigest(reg, r, `t${i}`)).toBe(digest);
}

/** The push attempts of a run's `result` output (the --dry-run's, invocation 'oracle', left out). */
function pushAttempts(
  run: ActionRun,
): { class?: string; signature?: string; exitCode: number | null; signal: string | null }[] {
  const result = JSON.parse(run.outputs.result as string);
  return result.attempts.filter((a: { invocation: unknown }) => a.invocation !== 'oracle');
}

/** One real buildx of the test bed. */
type RealBuildx = ReturnType<typeof realBuildxes>[number];

/** Runs the action with the fault shim as its buildx (passing through to `bx`), following `steps`. */
async function throughShim(
  bx: RealBuildx,
  steps: ShimStep[],
  tags: string[],
  extra: Record<string, string> = {},
) {
  const shim = makeShim({ steps }, { realBuildx: bx.path });
  const run = await runAction({
    inputs: {
      sources: sources2.join('\n'),
      tags: tags.join('\n'),
      'buildx-version': shim.path,
      'retry-delay': '200ms',
      ...extra,
    },
    env: shim.env,
  });
  const log = shim.log();
  shim.remove();
  // `buildx version` passes through the shim: the version under test is the one that ran.
  expect(run.outputs['buildx-version']?.startsWith(bx.version), run.outputs['buildx-version']).toBe(true);
  return { run, log };
}

beforeAll(async () => {
  reg = await startRegistry();
  sources2 = await pushPlatformImages(reg, 'src2/app', SIX.slice(0, 2));
  sources6 = await pushPlatformImages(reg, 'src6/app', SIX);
});
afterAll(async () => {
  await reg?.stop();
});

describe('the runtime', () => {
  it('runs the bundle on Node 24, as runs.using: node24 does', () => {
    const v = spawnSync(node24Path(), ['--version'], { encoding: 'utf8' }).stdout.trim();
    expect(v).toMatch(/^v24\./);
    expect(readFileSync(join(repoRoot, 'action.yml'), 'utf8')).toMatch(/using: node24/);
  });
});

describe('8. bad input: refused, input named, nothing pushed, no shell ran', () => {
  const pwned = join(mkdtempSync(join(tmpdir(), 'pwned-')), 'pwned');
  const cases: [string, Record<string, string>][] = [
    ['sources', { sources: `${'127.0.0.1:1'}/src/app:amd64$(touch ${pwned})` }],
    ['sources', { sources: '127.0.0.1:1/src/app:amd64;touch /tmp/x' }],
    ['tags', { tags: '127.0.0.1:1/dst/app:v1`touch /tmp/x`' }],
    ['tags', { tags: '127.0.0.1:1/dst/app:v1 && touch /tmp/x' }],
    ['sources', { sources: '' }],
    ['tags', { tags: '' }],
    ['max-attempts', { 'max-attempts': '0' }],
    ['tags-per-buildx', { 'tags-per-buildx': '-2' }],
    ['tags-per-buildx', { 'tags-per-buildx': 'many' }],
    ['retry-delay', { 'retry-delay': 'a while' }],
    ['buildx-idle-timeout', { 'buildx-idle-timeout': '5 minutes' }],
    ['buildx-timeout', { 'buildx-timeout': '1d' }],
    ['retry-on', { 'retry-on': 'permanent' }],
    ['buildx-version', { 'buildx-version': 'v0.13.1; touch /tmp/x' }],
  ];
  it.each(cases)('%s: %j', async (name, bad) => {
    const r = repo('bad');
    const shim = makeShim({ steps: ['pass'] });
    const inputs = {
      sources: sources2.join('\n'),
      tags: `${reg.host}/${r}:v1`,
      'buildx-version': shim.path,
      ...bad,
    };
    const run = await runAction({ inputs, env: shim.env });
    expect(run.code).toBe(1);
    const msg = errors(run).join('\n');
    expect(msg).toContain(`Input "${name}"`);
    expect(shim.pushes()).toBe(0);
    expect(await listTags(reg, r)).toEqual([]);
    expect(existsSync(pwned)).toBe(false);
    shim.remove();
  });
});

// Every scenario that runs real buildx (directly, or through the fault shim's pass-through and its
// --dry-run) runs on both real versions of the test bed.
describe.each(realBuildxes())('with buildx $version', (bx) => {
  const { version, path: buildx } = bx;
  describe('1. two platforms into one tag', () => {
    it('succeeds, and the digest output is what the registry serves for the tag', async () => {
      const r = repo('one');
      const run = await runAction({
        inputs: { sources: sources2.join('\n'), tags: `${reg.host}/${r}:v1`, 'buildx-version': buildx },
      });
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.outputs.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(await readDigest(reg, r, 'v1')).toBe(run.outputs.digest);
      expect(run.outputs).toMatchObject({
        attempts: '1',
        recovered: 'false',
        panics: '0',
        'buildx-path': buildx,
      });
      expect(run.outputs['buildx-version']?.startsWith(version), run.outputs['buildx-version']).toBe(true);
      const result = JSON.parse(run.outputs.result as string);
      expect(result.tags).toEqual([
        { tag: `${reg.host}/${r}:v1`, digest: run.outputs.digest, verified: true },
      ]);
      expect(run.summary).toContain('Pushed 1 tag');
      // one group per attempt, and buildx output cannot issue workflow commands
      expect(run.stdout).toMatch(/::group::push .*:v1 \(invocation 1, attempt 1\)/);
      expect(run.stdout).toMatch(/::stop-commands::[0-9a-f]{32}/);
    });

    it('a dry run computes the digest and pushes nothing', async () => {
      const r = repo('dry');
      const run = await runAction({
        inputs: {
          sources: sources2.join(','),
          tags: `${reg.host}/${r}:v1`,
          'dry-run': 'true',
          'buildx-version': buildx,
        },
      });
      expect(run.code).toBe(0);
      expect(run.outputs.digest).toMatch(/^sha256:/);
      expect(await listTags(reg, r)).toEqual([]);
    });
  });

  describe('other forms of input', () => {
    it("buildx-version empty runs the runner's docker buildx (the docker CLI with its buildx plugin)", async () => {
      const dockerConfig = mkdtempSync(join(tmpdir(), 'dc-plugin-'));
      mkdirSync(join(dockerConfig, 'cli-plugins'));
      symlinkSync(buildx, join(dockerConfig, 'cli-plugins', 'docker-buildx'));
      const r = repo('runner');
      const run = await runAction({
        inputs: { sources: sources2.join('\n'), tags: tagList(r, 2).join('\n') },
        env: { DOCKER_CONFIG: dockerConfig },
      });
      expect(run.code, run.stdout.slice(-2000)).toBe(0);
      expect(run.outputs['buildx-path']).toBe(join(dockerConfig, 'cli-plugins', 'docker-buildx'));
      expect(run.stdout).toMatch(/::group::push .* \S*docker buildx imagetools create --progress=plain/);
      await expectAllHold(r, 2, run.outputs.digest as string);
    });

    it('annotations land in the index, and copies to further tags keep the same digest', async () => {
      const r = repo('annotated');
      const run = await runAction({
        inputs: {
          sources: sources2.join(','),
          tags: tagList(r, 2).join(','),
          annotations:
            'index:org.opencontainers.image.description=merged, safely\nindex:org.opencontainers.image.version=1.2.3',
          'buildx-version': buildx,
        },
      });
      expect(run.code, run.stdout.slice(-2000)).toBe(0);
      const index = await readManifest(reg, r, 't2');
      expect(index?.digest).toBe(run.outputs.digest);
      expect((index?.json as { annotations?: Record<string, string> }).annotations).toEqual({
        'org.opencontainers.image.description': 'merged, safely',
        'org.opencontainers.image.version': '1.2.3',
      });
    });

    it("digests-dir + digests-repository: Docker's multi-runner merge pattern", async () => {
      const pushed = await pushPlatformImagesDetailed(reg, 'bydigest/app', SIX.slice(0, 3));
      const ws = mkdtempSync(join(tmpdir(), 'ws-digests-'));
      mkdirSync(join(ws, 'digests'));
      for (const p of pushed) writeFileSync(join(ws, 'digests', p.digest.replace('sha256:', '')), '');
      const r = repo('merged');
      const run = await runAction({
        inputs: {
          'digests-dir': join(ws, 'digests'),
          'digests-repository': `${reg.host}/bydigest/app`,
          tags: `${reg.host}/${r}:v1`,
          'buildx-version': buildx,
        },
      });
      expect(run.code, run.stdout.slice(-2000)).toBe(0);
      const index = await readManifest(reg, r, 'v1');
      const children = (index?.json as { manifests: { digest: string }[] }).manifests
        .map((m) => m.digest)
        .sort();
      expect(children).toEqual(pushed.map((p) => p.digest).sort());
    });

    it('append adds sources to the index the first tag holds', async () => {
      const r = repo('append');
      const first = await runAction({
        inputs: { sources: sources6[0] as string, tags: `${reg.host}/${r}:v1`, 'buildx-version': buildx },
      });
      expect(first.code).toBe(0);
      const run = await runAction({
        inputs: {
          sources: sources6[1] as string,
          tags: `${reg.host}/${r}:v1`,
          append: 'true',
          'buildx-version': buildx,
        },
      });
      expect(run.code, run.stdout.slice(-2000)).toBe(0);
      const index = await readManifest(reg, r, 'v1');
      expect(index?.digest).toBe(run.outputs.digest);
      expect((index?.json as { manifests: unknown[] }).manifests).toHaveLength(2);
    });
  });

  describe('2. six platforms into twenty tags of one fresh repository', () => {
    it.each([1, 2, 3])('succeeds with the defaults, every tag verified (run %d)', async () => {
      const r = repo('twenty');
      const run = await runAction({
        inputs: {
          sources: sources6.join('\n'),
          tags: tagList(r, 20).join('\n'),
          'buildx-version': buildx,
        },
      });
      expect(run.code, run.stdout.slice(-3000)).toBe(0);
      const result = JSON.parse(run.outputs.result as string);
      expect(result.tags).toHaveLength(20);
      expect(result.tags.every((t: { verified: boolean }) => t.verified)).toBe(true);
      await expectAllHold(r, 20, run.outputs.digest as string);
    });

    it('is meaningful: raw imagetools create with all twenty tags in one call fails on this registry', async () => {
      // The evidence, kept beside the scenario: what the action replaces breaks here.
      let failures = 0;
      const lines: string[] = [];
      // Up to six tries, until one fails: on a loaded machine three in a row have gone through.
      for (let trial = 0; trial < 6 && failures === 0; trial++) {
        const r = repo('raw');
        const args = [
          'imagetools',
          'create',
          '--progress=plain',
          ...tagList(r, 20).flatMap((t) => ['--tag', t]),
          ...sources6,
        ];
        const env = { ...process.env, DOCKER_CONFIG: mkdtempSync(join(tmpdir(), 'dc-')) };
        const p = spawnSync(buildx, args, { encoding: 'utf8', env, timeout: 60_000 });
        if (p.status !== 0) {
          failures++;
          lines.push(p.stderr.split('\n').find((l) => l.startsWith('ERROR')) ?? '');
        }
      }
      expect(
        failures,
        `raw buildx ${version} pushed 20 tags into registry 2.8 in one call six times running`,
      ).toBeGreaterThan(0);
      expect(lines.join('\n')).toMatch(/400 Bad Request|500 Internal Server Error/);
    });
  });

  describe('3-6. crashes, hangs and cancellation, through the fault shim', () => {
    it('3. crash, crash, pass: three attempts, recovered, two panics, tags verified', async () => {
      const r = repo('crash1');
      const { run } = await throughShim(bx, ['crash', 'crash', 'pass'], [`${reg.host}/${r}:t1`]);
      expect(run.code, run.stdout.slice(-3000)).toBe(0);
      expect(run.outputs).toMatchObject({ attempts: '3', recovered: 'true', panics: '2' });
      const pushes = pushAttempts(run);
      expect(pushes.map((a) => a.class ?? 'ok')).toEqual(['panic', 'panic', 'ok']);
      expect(pushes[0]).toMatchObject({ signature: 'concurrent map writes', exitCode: 2 });
      expect(await readDigest(reg, r, 't1')).toBe(run.outputs.digest);
      const warnings = run.commands.filter((c) => c.command === 'warning').map((c) => c.message);
      expect(warnings.join('\n')).toMatch(/concurrent map writes/);
    });

    it('3b. crash, crash, pass with two tags: the second tag needs one more attempt', async () => {
      const r = repo('crash');
      // buildx copies the second tag (tag-method buildx): the shim's third step is its attempt
      const { run } = await throughShim(bx, ['crash', 'crash', 'pass'], tagList(r, 2), {
        'tag-method': 'buildx',
      });
      expect(run.code, run.stdout.slice(-3000)).toBe(0);
      expect(run.outputs).toMatchObject({ attempts: '4', recovered: 'true', panics: '2' });
      expect(pushAttempts(run).map((a) => a.class ?? 'ok')).toEqual(['panic', 'panic', 'ok', 'ok']);
      await expectAllHold(r, 2, run.outputs.digest as string);
    });

    it('a registry 503 is transient: retried, then success', async () => {
      const r = repo('503');
      const { run } = await throughShim(bx, ['registry-error', 'pass'], [`${reg.host}/${r}:t1`]);
      expect(run.code).toBe(0);
      expect(pushAttempts(run)[0]).toMatchObject({
        class: 'transient',
        signature: '503 Service Unavailable',
        exitCode: 1,
      });
      expect(run.outputs).toMatchObject({ attempts: '2', recovered: 'true', panics: '0' });
    });

    it('a source that does not exist: real buildx says not found; a short budget of retries, then it fails as permanent', async () => {
      const r = repo('missing');
      const run = await runAction({
        inputs: {
          sources: `${reg.host}/src2/app:no-such-tag`,
          tags: `${reg.host}/${r}:t1`,
          'buildx-version': buildx,
          'retry-delay': '100ms',
          'max-attempts': '10',
        },
      });
      expect(run.code).toBe(1);
      const result = JSON.parse(run.outputs.result as string);
      // the --dry-run, tried three times, and the first push, which ran alongside and failed too
      expect(result.attempts.map((a: { invocation: unknown }) => a.invocation)).toEqual([
        'oracle',
        'oracle',
        'oracle',
        1,
      ]);
      expect(result.failure).toMatchObject({ class: 'permanent', signature: 'not found' });
      expect(errors(run).join('\n')).toMatch(/no-such-tag: not found/);
      expect(await listTags(reg, r)).toEqual([]);
    });

    it('4. a crash after the push landed: success, and the landed tag is not pushed again', async () => {
      const r = repo('landed');
      const { run, log } = await throughShim(bx, ['crash-after-push', 'pass'], tagList(r, 3), {
        'tag-method': 'buildx', // every tag by buildx, so the shim's log shows each invocation
      });
      expect(run.code, run.stdout.slice(-3000)).toBe(0);
      await expectAllHold(r, 3, run.outputs.digest as string);
      const pushedTags = log.map((e) => e.argv.filter((_, i, a) => a[i - 1] === '--tag'));
      expect(pushedTags).toEqual([[`${reg.host}/${r}:t1`], [`${reg.host}/${r}:t2`], [`${reg.host}/${r}:t3`]]);
      expect(run.outputs).toMatchObject({ panics: '1', recovered: 'true' });
    });

    it('5. hang, then pass, with buildx-idle-timeout 3s: success well under 20 s, nothing of the hung attempt left', async () => {
      const r = repo('hang');
      const { run } = await throughShim(bx, ['hang', 'pass'], [`${reg.host}/${r}:t1`], {
        'buildx-idle-timeout': '3s',
      });
      expect(run.code, run.stdout.slice(-3000)).toBe(0);
      expect(run.durationMs).toBeLessThan(20_000);
      expect(pushAttempts(run)[0]).toMatchObject({ class: 'timeout', signal: 'SIGTERM' });
      expect(pushAttempts(run)[0]?.signature).toMatch(/buildx-idle-timeout/);
      expect(leftoverProcesses(run.marker)).toEqual([]);
      expect(run.stdioOpenAfterExit).toBe(false);
    });

    it('6. SIGTERM to the action mid-attempt: it exits non-zero promptly, and no child is left', async () => {
      const r = repo('cancel');
      const shim = makeShim({ steps: ['hang'] }, { realBuildx: buildx });
      const started = startAction({
        inputs: { sources: sources2.join('\n'), tags: `${reg.host}/${r}:t1`, 'buildx-version': shim.path },
        env: shim.env,
      });
      // wait for the hung attempt to be under way
      for (let i = 0; i < 100 && shim.pushes() === 0; i++) await new Promise((res) => setTimeout(res, 100));
      expect(shim.pushes()).toBe(1);
      await new Promise((res) => setTimeout(res, 300));
      const t0 = Date.now();
      started.child.kill('SIGTERM');
      const run = await started.result;
      expect(run.code).not.toBe(0);
      expect(run.code).not.toBeNull();
      expect(Date.now() - t0).toBeLessThan(8000);
      expect(errors(run).join('\n')).toMatch(/Cancelled/);
      expect(leftoverProcesses(run.marker)).toEqual([]);
      shim.remove();
    });
  });

  describe('7. authorization', () => {
    let secure: Registry;
    beforeAll(async () => {
      secure = await startRegistry({ auth: { username: 'ci', password: 's3cret-pass' } });
    });
    afterAll(async () => {
      await secure?.stop();
    });

    it('a push without login: exactly one attempt, a non-zero exit, and it says 401', async () => {
      const run = await runAction({
        inputs: {
          sources: sources2.join('\n'),
          tags: `${secure.host}/locked/app:v1`,
          'buildx-version': buildx,
        },
      });
      expect(run.code).toBe(1);
      expect(run.outputs.attempts).toBe('1');
      const result = JSON.parse(run.outputs.result as string);
      expect(result.failure).toMatchObject({ class: 'permanent' });
      expect(errors(run).join('\n')).toMatch(/Authorization failed \(401 Unauthorized\)/);
      expect(errors(run).join('\n')).toMatch(/permanent error/);
      // the runner's DOCKER_CONFIG holds no login: it says so, for this host
      expect(errors(run).join('\n')).toContain(`no credentials for ${secure.host} were found`);
    });

    it('with a docker login in DOCKER_CONFIG, it pushes, reads back with the same credentials, and logs no secret', async () => {
      const dockerConfig = mkdtempSync(join(tmpdir(), 'dc-login-'));
      const auth = Buffer.from('ci:s3cret-pass').toString('base64');
      writeFileSync(
        join(dockerConfig, 'config.json'),
        JSON.stringify({ auths: { [secure.host]: { auth } } }),
      );
      const run = await runAction({
        inputs: {
          sources: sources2.join('\n'),
          tags: `${secure.host}/open/app:v1`,
          'buildx-version': buildx,
        },
        env: { DOCKER_CONFIG: dockerConfig },
      });
      expect(run.code, run.stdout.slice(-2000)).toBe(0);
      const result = JSON.parse(run.outputs.result as string);
      expect(result.tags[0]).toMatchObject({ verified: true, digest: run.outputs.digest });
      expect(await readDigest(secure, 'open/app', 'v1', { username: 'ci', password: 's3cret-pass' })).toBe(
        run.outputs.digest,
      );
      for (const text of [run.stdout, run.stderr, run.summary, JSON.stringify(run.outputs)]) {
        expect(text).not.toContain('s3cret-pass');
        expect(text).not.toContain(auth);
      }
    });
  });

  describe('9. 200 MB of output from the child', () => {
    it("keeps the action's peak RSS under 150 MB, and still succeeds", async () => {
      const r = repo('flood');
      const shim = makeShim({ steps: [{ mode: 'flood', mb: 200 }] }, { realBuildx: buildx });
      const run = await runAction({
        inputs: { sources: sources2.join('\n'), tags: `${reg.host}/${r}:v1`, 'buildx-version': shim.path },
        env: shim.env,
        measureRss: true,
        timeoutMs: 170_000,
      });
      expect(run.code, run.stdout.slice(-2000)).toBe(0);
      expect(run.stdoutBytes).toBeGreaterThan(200 * 1024 * 1024);
      expect(run.peakRssKb).toBeGreaterThan(0);
      expect(run.peakRssKb as number).toBeLessThan(150 * 1024);
      expect(await readDigest(reg, r, 'v1')).toBe(run.outputs.digest);
      shim.remove();
    }, 180_000);
  });
});
