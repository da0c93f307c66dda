// The token flow as Docker Hub and GHCR run it, against a real registry 2.8 with `auth: token` and
// the test bed's token server: logins kept by credential helpers (credsStore, credHelpers), tokens
// that expire during a run, and one token scope per repository. The action is the bundle run as
// the runner runs it, with each real buildx of the test bed.
import { realpathSync } from 'node:fs';
import { delimiter } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { parseReference } from '../../src/registry/reference.js';
import { RegistryClient } from '../../src/registry/client.js';
import { pushPlatformImages, pushPlatformImagesDetailed } from '../testbed/images.js';
import { node24Path, realBuildxes } from '../testbed/paths.js';
import { useTokenRegistry } from '../testbed/hooks.js';
import { readDigest } from '../testbed/registry.js';
import { type ActionRun, runAction } from '../testbed/runner.js';
import { makeShim } from '../testbed/shim.js';
import {
  basic,
  bearer,
  dockerConfig,
  removeTemps,
  startTokenRegistry,
  type TokenRegistry,
  writeCredentialHelper,
} from '../testbed/token-registry.js';
import type { TokenRequest } from '../testbed/token-server.js';
import { byTheAction } from '../testbed/user-agent.js';

afterAll(() => removeTemps());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The action's own token requests (its User-Agent, ACTION_USER_AGENT), and buildx's (its own). */
const byAction = (requests: TokenRequest[]) => requests.filter((r) => byTheAction(r.userAgent));
const byBuildx = (requests: TokenRequest[]) => requests.filter((r) => !byTheAction(r.userAgent));
const asked = (requests: TokenRequest[]) =>
  requests.map((r) => `${r.method} ${r.grant} ${r.status} ${r.scopes.join(' ')}`).sort();

/** Pushes one amd64 image per tag prefix to each repository; `host/repo:tag` -> digest. */
async function pushTags(
  tr: TokenRegistry,
  repos: string[],
  prefixes: string[],
): Promise<Map<string, string>> {
  const digests = new Map<string, string>();
  for (const repo of repos) {
    for (const prefix of prefixes) {
      const [image] = await pushPlatformImagesDetailed(tr.reg, repo, ['linux/amd64'], {
        auth: bearer(tr.ts, repo),
        tagPrefix: prefix,
      });
      digests.set(`${tr.reg.host}/${repo}:${image!.tag}`, image!.digest);
    }
  }
  return digests;
}

describe('the read-back client: token expiry and one token per repository', () => {
  it('cached tokens that expired between reads: the 401 gets one new token, the reads succeed', async () => {
    const tr = await startTokenRegistry({ ttlSeconds: 2 });
    try {
      const digests = await pushTags(tr, ['exp/app'], ['a-', 'b-', 'c-']);
      const dir = dockerConfig({ auths: { [tr.reg.host]: { auth: basic('ci', 'ci-s3cret') } } });
      const client = new RegistryClient({ dockerConfigDir: dir, attempts: 1 });
      const readAll = () => Promise.all([...digests.keys()].map((r) => client.digestOf(parseReference(r))));
      const early = bearer(tr.ts, 'exp/app');
      expect(await readAll()).toEqual([...digests.values()]);
      expect(await readAll()).toEqual([...digests.values()]);
      expect(tr.ts.requests).toHaveLength(1);
      await sleep(3000);
      // the registry now refuses a token issued with the first one
      await expect(readDigest(tr.reg, 'exp/app', 'a-amd64', early)).rejects.toThrow(/401/);
      expect(await readAll()).toEqual([...digests.values()]);
      expect(tr.ts.requests.map((r) => `${r.grant} ${r.status} ${r.user}`)).toEqual([
        'basic 200 ci',
        'basic 200 ci',
      ]);
    } finally {
      await tr.stop();
    }
  });

  it('reads of tags in two repositories, all at once and again: one token per repository, its own scope', async () => {
    const tr = await startTokenRegistry();
    try {
      const digests = await pushTags(tr, ['one/app', 'two/app'], ['a-', 'b-', 'c-']);
      const dir = dockerConfig({ auths: { [tr.reg.host]: { auth: basic('ci', 'ci-s3cret') } } });
      const client = new RegistryClient({ dockerConfigDir: dir, attempts: 1 });
      for (let round = 0; round < 2; round++) {
        const read = await Promise.all([...digests.keys()].map((r) => client.digestOf(parseReference(r))));
        expect(read).toEqual([...digests.values()]);
      }
      expect(asked(tr.ts.requests)).toEqual([
        'GET basic 200 repository:one/app:pull',
        'GET basic 200 repository:two/app:pull',
      ]);
    } finally {
      await tr.stop();
    }
  });
});

const SECRETS = ['ci-s3cret', 'idt-ci-0123456789', basic('ci', 'ci-s3cret')];
function expectNoSecret(run: ActionRun): void {
  for (const secret of SECRETS)
    for (const t of [run.stdout, run.stderr, run.summary]) expect(t).not.toContain(secret);
}

describe.each(realBuildxes())('the action against a token registry, buildx $version', (bx) => {
  const bed = useTokenRegistry();
  let n = 0;

  it.each([
    ['credsStore, a username and password', 'store', { Username: 'ci', Secret: 'ci-s3cret' }, 'GET basic'],
    [
      'credHelpers, an identity token',
      'helper',
      { Username: '<token>', Secret: 'idt-ci-0123456789' },
      'POST refresh_token',
    ],
  ])(
    '%s: the action and buildx log in through the helper; pushed and read back',
    async (_n, kind, answer, grant) => {
      const repo = `cred${++n}/app`;
      const helper = writeCredentialHelper(`sit-${kind}`, { [bed.tr.reg.host]: answer });
      const config =
        kind === 'store' ? { credsStore: helper.name } : { credHelpers: { [bed.tr.reg.host]: helper.name } };
      const from = bed.tr.ts.requests.length;
      const run = await runAction({
        inputs: {
          sources: bed.sources.join('\n'),
          tags: `${bed.tr.reg.host}/${repo}:v1\n${bed.tr.reg.host}/${repo}:v2`,
          'buildx-version': bx.path,
        },
        env: { DOCKER_CONFIG: dockerConfig(config), PATH: `${helper.dir}${delimiter}${process.env.PATH}` },
      });
      expect(run.code, run.stdout.slice(-3000)).toBe(0);
      const result = JSON.parse(run.outputs.result as string);
      expect(result.tags).toEqual([
        expect.objectContaining({ verified: true, digest: run.outputs.digest }),
        expect.objectContaining({ verified: true, digest: run.outputs.digest }),
      ]);
      for (const tag of ['v1', 'v2'])
        expect(await readDigest(bed.tr.reg, repo, tag, bearer(bed.tr.ts, repo))).toBe(run.outputs.digest);
      // asked by the action (node) and by buildx itself, for this host
      expect(helper.calls().every((c) => c.startsWith(`get ${bed.tr.reg.host} `))).toBe(true);
      const programs = new Set(helper.calls().map((c) => c.split(' ')[2]));
      expect(programs).toContain(realpathSync(node24Path()));
      expect(programs).toContain(realpathSync(bx.path));
      const requests = bed.tr.ts.requests.slice(from);
      // a pull token for the reads, a push token for v2's manifest PUT
      expect(
        byAction(requests)
          .map((r) => `${r.method} ${r.grant} ${r.status} ${r.user} ${r.scopes.join(' ')}`)
          .sort(),
      ).toEqual([`${grant} 200 ci repository:${repo}:pull`, `${grant} 200 ci repository:${repo}:pull,push`]);
      expect(
        byBuildx(requests).some(
          (r) => r.user === 'ci' && r.scopes.some((s) => s.includes(`${repo}:`) && s.includes('push')),
        ),
      ).toBe(true);
      expectNoSecret(run);
    },
  );

  it('tokens that expire during the run (2 s, a push that takes 3.5 s): the read-back gets new ones', async () => {
    const short = await startTokenRegistry({ ttlSeconds: 2 });
    const shim = makeShim({ steps: [{ mode: 'pass', sleepMs: 3500 }] }, { realBuildx: bx.path });
    try {
      const src = await pushPlatformImages(short.reg, 'src/app', ['linux/amd64', 'linux/arm64'], {
        auth: bearer(short.ts, 'src/app'),
      });
      const run = await runAction({
        inputs: {
          sources: src.join('\n'),
          tags: `${short.reg.host}/exp/app:v1\n${short.reg.host}/exp/app:v2`,
          'buildx-version': shim.path,
        },
        env: {
          ...shim.env,
          DOCKER_CONFIG: dockerConfig({ auths: { [short.reg.host]: { auth: basic('ci', 'ci-s3cret') } } }),
        },
      });
      expect(run.code, run.stdout.slice(-3000)).toBe(0);
      expect(shim.pushes()).toBeGreaterThan(0);
      const result = JSON.parse(run.outputs.result as string);
      expect(result.tags.map((t: { verified: boolean }) => t.verified)).toEqual([true, true]);
      expect(run.stdout).not.toMatch(/Could not read/);
      // read before the push with one token, after a push with another: the one before had expired
      const mine = byAction(short.ts.requests);
      expect(mine.length).toBeGreaterThanOrEqual(2);
      for (const r of mine)
        expect(`${r.grant} ${r.status} ${r.scopes}`).toMatch(/^basic 200 repository:exp\/app:pull(,push)?$/);
      expectNoSecret(run);
    } finally {
      shim.remove();
      await short.stop();
    }
  });

  it('tags in two repositories, sources in a third: one token scope each, every tag pushed and verified', async () => {
    const from = bed.tr.ts.requests.length;
    const repos = [`multi${++n}/one`, `multi${n}/two`];
    const tags = repos.flatMap((r) => ['v1', 'v2', 'v3'].map((t) => `${bed.tr.reg.host}/${r}:${t}`));
    const run = await runAction({
      inputs: { sources: bed.sources.join('\n'), tags: tags.join('\n'), 'buildx-version': bx.path },
      env: {
        DOCKER_CONFIG: dockerConfig({ auths: { [bed.tr.reg.host]: { auth: basic('ci', 'ci-s3cret') } } }),
      },
    });
    expect(run.code, run.stdout.slice(-3000)).toBe(0);
    const result = JSON.parse(run.outputs.result as string);
    expect(result.tags.map((t: { tag: string; verified: boolean }) => `${t.tag} ${t.verified}`)).toEqual(
      tags.map((t) => `${t} true`),
    );
    for (const t of tags) {
      const ref = parseReference(t);
      expect(await readDigest(bed.tr.reg, ref.path, ref.tag!, bearer(bed.tr.ts, ref.path))).toBe(
        run.outputs.digest,
      );
    }
    const requests = bed.tr.ts.requests.slice(from);
    // the action: one token per repository it reads (pull) and one per repository it writes tags
    // to by manifest PUT (pull,push); never the sources' repository
    expect(asked(byAction(requests))).toEqual(
      repos.flatMap((r) => [`GET basic 200 repository:${r}:pull`, `GET basic 200 repository:${r}:pull,push`]),
    );
    // buildx: push on each repository of the tags, pull on the sources'
    const scopes = byBuildx(requests).flatMap((r) => r.scopes.flatMap((s) => s.split(' ')));
    for (const r of repos) expect(scopes).toContain(`repository:${r}:pull,push`);
    expect(scopes).toContain('repository:src/app:pull');
    expectNoSecret(run);
  });
});
