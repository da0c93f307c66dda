// Content by manifest PUT: buildx moves content into a repository that lacks it; the action writes
// every index. A target repository already holding every manifest the index lists (the sources
// are in it, or each listed manifest answers a HEAD there) gets no buildx push: after the
// --dry-run every tag gets the index bytes by the action's own PUT. After a failed buildx push
// that moved the content, the tags are completed by PUT (a recovery), not pushed again. The bundle
// run as the runner runs it, each real buildx of the test bed, a real registry 2.8 behind the
// fault proxy (which counts the manifest PUTs, and refuses the action's in one test) and a
// token-flow registry 2.8.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { type PushedByDigest, pushByDigest } from '../testbed/by-digest.js';
import { type FaultLogEntry, type FaultProxy, startFaultProxy } from '../testbed/fault-proxy.js';
import { useTokenRegistry } from '../testbed/hooks.js';
import { pushPlatformImagesDetailed } from '../testbed/images.js';
import { realBuildxes } from '../testbed/paths.js';
import {
  type ManifestRead,
  readDigest,
  readManifest,
  type Registry,
  startRegistry,
} from '../testbed/registry.js';
import { type ActionRun, runAction } from '../testbed/runner.js';
import { makeShim } from '../testbed/shim.js';
import { basic, bearer, dockerConfig, removeTemps } from '../testbed/token-registry.js';

const TWO = ['linux/amd64', 'linux/arm64'];
const NAMES = ['t1', 't2', 't3'];
const DESCRIPTION = 'org.opencontainers.image.description';

interface ResultJson {
  tags?: { tag: string; verified: boolean; state?: string }[];
  attempts?: { invocation: number | 'oracle' }[];
  repositories?: { repository: string; content: string }[];
}

/**
 * What a run did, in the words of its `result` output: buildx pushes (attempts but the
 * --dry-run), how each tag came to hold the index (`put`, `already`, or `buildx` where the
 * result gives no state), whether every tag verified, and the repositories' content.
 */
function outcome(run: ActionRun) {
  const r = JSON.parse(run.outputs.result ?? '{}') as ResultJson;
  return {
    code: run.code,
    buildxPushes: r.attempts?.filter((a) => a.invocation !== 'oracle').length,
    how: r.tags?.map((t) => t.state ?? 'buildx'),
    verified: r.tags?.every((t) => t.verified),
    recovered: run.outputs.recovered,
    repositories: r.repositories?.map(({ repository, content }) => ({ repository, content })),
  };
}

/** The run's warnings, but the policy's about a known-bad buildx (0.13.1). */
const warnings = (run: ActionRun) =>
  run.commands.filter((c) => c.command === 'warning' && !c.props.title?.startsWith('known-bad buildx'));

const manifestPuts = (log: FaultLogEntry[], repo: string) =>
  log.filter((q) => q.method === 'PUT' && q.path.startsWith(`/v2/${repo}/manifests/`));

/** Folders made by digestsDir, and the Docker configs of token-registry.ts, removed at the end. */
const temps: string[] = [];
afterAll(() => {
  for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true });
  removeTemps();
});

/** The build jobs' digest files (one per per-platform digest, empty), in a folder of their own. */
function digestsDir(pushed: PushedByDigest[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'sit-digests-'));
  temps.push(dir);
  for (const p of pushed) writeFileSync(join(dir, p.digest.replace('sha256:', '')), '');
  return dir;
}

/** Every tag (NAMES) of `repo` holds `digest`, read from the registry itself. */
async function expectHeld(reg: Registry, repo: string, digest: string, auth?: string): Promise<void> {
  for (const t of NAMES) expect(await readDigest(reg, repo, t, auth), `${repo}:${t}`).toBe(digest);
}

/** The index lists each image and its attestation manifest, and carries the index annotation. */
function expectAttested(index: ManifestRead | null, pushed: PushedByDigest[], description: string): void {
  const json = index?.json as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
    annotations?: Record<string, string>;
  };
  const attestations = json.manifests.filter(
    (m) => m.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest',
  );
  expect(attestations.map((m) => [m.digest, m.annotations?.['vnd.docker.reference.digest']]).sort()).toEqual(
    pushed.map((p) => [p.attestation, p.image]).sort(),
  );
  expect(json.manifests.map((m) => m.digest).sort()).toEqual(
    pushed.flatMap((p) => [p.image, p.attestation]).sort(),
  );
  expect(json.annotations?.[DESCRIPTION]).toBe(description);
}

describe('registry 2.8 behind the fault proxy', () => {
  let reg: Registry;
  let proxy: FaultProxy;
  /** sources in a repository of their own (`cp-src/app`), by tag through the proxy */
  let elsewhere: string[];
  /** the same in Docker media types (`cp-docker-src/app`) */
  let dockerElsewhere: string[];

  beforeAll(async () => {
    reg = await startRegistry();
    proxy = await startFaultProxy({ target: reg.url });
    const through = (repo: string) => (i: { tag: string }) => `${proxy.host}/${repo}:${i.tag}`;
    elsewhere = (await pushPlatformImagesDetailed(reg, 'cp-src/app', TWO)).map(through('cp-src/app'));
    dockerElsewhere = (
      await pushPlatformImagesDetailed(reg, 'cp-docker-src/app', TWO, { mediaTypes: 'docker' })
    ).map(through('cp-docker-src/app'));
  });
  afterEach(() => proxy.setRules([]));
  afterAll(async () => {
    await proxy?.stop();
    await reg?.stop();
  });

  /** Runs the action on tags t1..t3 of `repo` (through the proxy); the proxy's log of the run. */
  async function merge(repo: string, inputs: Record<string, string>, env?: Record<string, string>) {
    const from = proxy.log.length;
    const tags = NAMES.map((t) => `${proxy.host}/${repo}:${t}`).join('\n');
    const run = await runAction({ inputs: { tags, ...inputs }, env, timeoutMs: 90_000 });
    return { run, requests: proxy.log.slice(from) };
  }

  /** Sources of `repo` itself: two platforms pushed there, named by digest or by tag. */
  async function ownSources(repo: string, form: 'digest' | 'tag'): Promise<string[]> {
    const images = await pushPlatformImagesDetailed(reg, repo, TWO, { tagPrefix: 'src-' });
    return images.map((i) => `${proxy.host}/${repo}${form === 'digest' ? `@${i.digest}` : `:${i.tag}`}`);
  }

  describe.each(realBuildxes())('buildx $version', ({ version, path }) => {
    const repo = (what: string) => `cp-${what}-${version.replace(/\./g, '-')}/app`;
    const target = (what: string) => `${proxy.host}/${repo(what)}`;
    const allPut = NAMES.map(() => 'put');
    /** No buildx push, every tag written by PUT and verified, `repo` holding the content as `content` says; each tag read from the registry. */
    async function expectAllByPut(run: ActionRun, r: string, content: string): Promise<void> {
      expect(outcome(run), run.stdout.slice(-3000)).toMatchObject({
        code: 0,
        buildxPushes: 0,
        how: allPut,
        verified: true,
        repositories: [{ repository: `${proxy.host}/${r}`, content }],
      });
      expect(run.summary).toMatch(/no buildx push/i);
      await expectHeld(reg, r, run.outputs.digest!);
    }

    it('digests-dir with image = the target repository, attestations and an index annotation: no buildx push', async () => {
      const pushed = await pushByDigest(reg, repo('digests'), TWO);
      const { run } = await merge(repo('digests'), {
        'digests-dir': digestsDir(pushed),
        'digests-repository': target('digests'),
        annotations: `index:${DESCRIPTION}=merged by manifest PUT`,
        'buildx-version': path,
      });
      await expectAllByPut(run, repo('digests'), 'sources');
      expectAttested(await readManifest(reg, repo('digests'), 't1'), pushed, 'merged by manifest PUT');
    });

    it.each(['digest', 'tag'] as const)(
      'sources of the target repository by %s: no buildx push, every tag by PUT',
      async (form) => {
        const r = repo(`own-${form}`);
        const sources = await ownSources(r, form);
        const { run } = await merge(r, { sources: sources.join('\n'), 'buildx-version': path });
        await expectAllByPut(run, r, 'sources');
      },
    );

    it('sources elsewhere, every listed manifest (attestations too) in the target already: found, no buildx push', async () => {
      const seed = `found-${version}`;
      const sources = await pushByDigest(reg, repo('found-src'), TWO, { seed });
      const copies = await pushByDigest(reg, repo('found'), TWO, { seed });
      expect(copies.map((c) => c.digest)).toEqual(sources.map((s) => s.digest)); // the same bytes
      const { run } = await merge(repo('found'), {
        sources: sources.map((s) => `${target('found-src')}@${s.digest}`).join('\n'),
        'buildx-version': path,
      });
      await expectAllByPut(run, repo('found'), 'found');
    });

    it('a crash after buildx copied the content: one buildx push, every tag completed by PUT, recovered', async () => {
      // the real buildx pushes to target:shim-copy-1 only, then the shim prints a Go crash
      const shim = makeShim({ steps: ['crash-after-copy', 'pass'] }, { realBuildx: path });
      const { run } = await merge(
        repo('crash'),
        { sources: elsewhere.join('\n'), 'buildx-version': shim.path, 'retry-delay': '100ms' },
        shim.env,
      );
      const shimPushes = shim.pushes();
      shim.remove();
      expect(outcome(run), run.stdout.slice(-3000)).toMatchObject({
        code: 0,
        buildxPushes: 1,
        how: allPut,
        verified: true,
        recovered: 'true',
        repositories: [{ repository: target('crash'), content: 'after-failure' }],
      });
      expect(shimPushes).toBe(1);
      // the real buildx did move the content into the target repository
      expect(await readDigest(reg, repo('crash'), 'shim-copy-1')).toBe(run.outputs.digest);
      await expectHeld(reg, repo('crash'), run.outputs.digest!);
      const w = warnings(run);
      expect(w, JSON.stringify(w)).toHaveLength(1);
      expect(`${w[0]!.props.title} ${w[0]!.message}`).toMatch(/recovered/i);
    });

    it.runIf(version === '0.13.1')(
      'Docker media types elsewhere: after the 400 buildx 0.13.1 gets, the tags are completed by PUT, buildx not run again',
      async () => {
        // buildx 0.13.1 copies the child manifests to the tag (docker/buildx#2955), then the HEAD
        // of that tag before the index PUT answers 400, every time
        const { run } = await merge(repo('docker'), {
          sources: dockerElsewhere.join('\n'),
          'buildx-version': path,
          'retry-delay': '100ms',
        });
        expect(outcome(run), run.stdout.slice(-3000)).toMatchObject({
          code: 0,
          buildxPushes: 1,
          how: allPut,
          verified: true,
          recovered: 'true',
          repositories: [{ repository: target('docker'), content: 'after-failure' }],
        });
        await expectHeld(reg, repo('docker'), run.outputs.digest!);
        const w = warnings(run);
        expect(w, JSON.stringify(w)).toHaveLength(1);
        expect(`${w[0]!.props.title} ${w[0]!.message}`).toMatch(/recovered/i);
      },
    );

    it('a registry refusing the PUT with 405, sources in the target: buildx pushes the tags, one warning', async () => {
      proxy.setRules([{ match: 'manifest-put', from: 'action', action: { status: 405 } }]);
      const r = repo('refused');
      const sources = await ownSources(r, 'digest');
      const { run, requests } = await merge(r, { sources: sources.join('\n'), 'buildx-version': path });
      // the action's own PUT came first (no buildx push before it), and was refused
      expect(manifestPuts(requests, r)[0]?.action, JSON.stringify(manifestPuts(requests, r))).toBe('405');
      expect(outcome(run), run.stdout.slice(-3000)).toMatchObject({
        code: 0,
        buildxPushes: NAMES.length,
        how: NAMES.map(() => 'buildx'),
        verified: true,
        repositories: [{ repository: target('refused'), content: 'sources' }],
      });
      await expectHeld(reg, r, run.outputs.digest!);
      const w = warnings(run);
      expect(w, JSON.stringify(w)).toHaveLength(1);
      expect(w[0]!.message).toContain('405');
    });

    it('a re-run of a merge from the target repository writes nothing', async () => {
      const r = repo('rerun');
      const inputs = { sources: (await ownSources(r, 'digest')).join('\n'), 'buildx-version': path };
      const first = await merge(r, inputs);
      expect(outcome(first.run), first.run.stdout.slice(-3000)).toMatchObject({
        code: 0,
        buildxPushes: 0,
        how: allPut,
      });
      const again = await merge(r, inputs);
      expect(outcome(again.run), again.run.stdout.slice(-3000)).toMatchObject({
        code: 0,
        buildxPushes: 0,
        how: NAMES.map(() => 'already'),
        verified: true,
      });
      expect(again.run.outputs.digest).toBe(first.run.outputs.digest);
      expect(manifestPuts(again.requests, r)).toEqual([]);
    });

    it('tag-method buildx, sources in the target: buildx pushes every tag, as before', async () => {
      const r = repo('by-buildx');
      const sources = await ownSources(r, 'digest');
      const { run } = await merge(r, {
        sources: sources.join('\n'),
        'buildx-version': path,
        'tag-method': 'buildx',
      });
      const o = outcome(run);
      expect(o, run.stdout.slice(-3000)).toMatchObject({
        code: 0,
        how: NAMES.map(() => 'buildx'),
        verified: true,
      });
      expect(o.buildxPushes).toBeGreaterThanOrEqual(1);
      await expectHeld(reg, r, run.outputs.digest!);
    });
  });
});

describe.each(realBuildxes())('a token registry, buildx $version', ({ version, path }) => {
  const bed = useTokenRegistry();

  it('digests-dir with image = the target repository, attestations and an index annotation: no buildx push', async () => {
    const repo = `cp-token-${version.replace(/\./g, '-')}/app`;
    const auth = bearer(bed.tr.ts, repo);
    const pushed = await pushByDigest(bed.tr.reg, repo, TWO, { auth });
    const run = await runAction({
      inputs: {
        'digests-dir': digestsDir(pushed),
        'digests-repository': `${bed.tr.reg.host}/${repo}`,
        tags: NAMES.map((t) => `${bed.tr.reg.host}/${repo}:${t}`).join('\n'),
        annotations: `index:${DESCRIPTION}=merged with a token`,
        'buildx-version': path,
      },
      env: {
        DOCKER_CONFIG: dockerConfig({ auths: { [bed.tr.reg.host]: { auth: basic('ci', 'ci-s3cret') } } }),
      },
      timeoutMs: 90_000,
    });
    expect(outcome(run), run.stdout.slice(-3000)).toMatchObject({
      code: 0,
      buildxPushes: 0,
      how: NAMES.map(() => 'put'),
      verified: true,
      repositories: [{ repository: `${bed.tr.reg.host}/${repo}`, content: 'sources' }],
    });
    expect(run.summary).toMatch(/no buildx push/i);
    await expectHeld(bed.tr.reg, repo, run.outputs.digest!, auth);
    expectAttested(await readManifest(bed.tr.reg, repo, 't1', auth), pushed, 'merged with a token');
  });
});
