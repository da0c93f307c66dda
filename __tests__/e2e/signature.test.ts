// Sigstore signatures of buildx releases, end to end: the bundled action on Node 24 installs
// releases from the test bed's release server, each binary with a `.sigstore.json` made by the
// test bed's own Sigstore deployment (__tests__/testbed/sigstore.ts: a CA, a transparency log,
// a trusted_root.json given as `sigstore-trusted-root`), verified by the real Sigstore libraries.
// A good bundle installs and the summary and `result` name the signer; every bad one is refused
// on the buildx-version line before any push, each with its own reason; a missing bundle warns
// under `signature: optional` and is refused under `required`; a cache hit is not verified again.
import { mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { REAL_BUILDX_VAR } from '../testbed/gitrepo.js';
import { pushPlatformImages } from '../testbed/images.js';
import { buildxPath } from '../testbed/paths.js';
import { readDigest, type Registry, startRegistry } from '../testbed/registry.js';
import { binaryAssetName, type ReleaseServer, startReleaseServer } from '../testbed/release-server.js';
import { type ActionRun, runAction } from '../testbed/runner.js';
import {
  BUILDX_SIGNER,
  makeTrustRoot,
  type SignOptions,
  signFile,
  type TestTrustRoot,
} from '../testbed/sigstore.js';

let reg: Registry;
let server: ReleaseServer;
let root: TestTrustRoot;
let sources: string[];
let n = 0;

/** Each release, signed (or not) its own way. */
const RELEASES: Record<string, SignOptions | 'unsigned'> = {
  'v0.31.1': {},
  'v0.32.0': { tamper: true },
  'v0.32.1': { otherFile: true },
  'v0.33.0': { subject: 'https://github.com/someone/fork/.github/workflows/bake.yml@refs/heads/main' },
  'v0.33.1': { issuer: 'https://gitlab.example.com' },
  'v0.34.0': { selfSigned: true },
  'v0.34.1': { noTlog: true },
  'v0.35.0': 'unsigned',
};

beforeAll(async () => {
  reg = await startRegistry();
  sources = await pushPlatformImages(reg, 'src/app', ['linux/amd64', 'linux/arm64']);
  server = await startReleaseServer({
    binary: buildxPath(),
    binaryTag: 'v0.13.1',
    releases: [{ tag: 'v0.13.1' }, ...Object.keys(RELEASES).map((tag) => ({ tag }))],
  });
  const dir = mkdtempSync(join(tmpdir(), 'sigstore-'));
  root = await makeTrustRoot(dir);
  for (const [tag, how] of Object.entries(RELEASES)) {
    if (how === 'unsigned') continue;
    const asset = binaryAssetName(tag, 'linux-amd64');
    const file = join(dir, asset);
    writeFileSync(file, how.otherFile ? `another binary for ${tag}\n` : server.bytesOf(tag, asset));
    const bundle = await signFile(root, file, how);
    server.addAsset(tag, `${asset}.sigstore.json`, readFileSync(bundle));
  }
}, 120_000);
afterAll(async () => {
  await server?.stop();
  await reg?.stop();
});

async function install(
  spec: string,
  extra: Record<string, string> = {},
  toolCache = mkdtempSync(join(tmpdir(), 'toolcache-')),
): Promise<{ run: ActionRun; repo: string; toolCache: string }> {
  const repo = `signed${++n}/app`;
  const run = await runAction({
    inputs: {
      sources: sources.join('\n'),
      tags: `${reg.host}/${repo}:v1`,
      'buildx-version': spec,
      'buildx-mirror': server.mirror,
      'sigstore-trusted-root': root.trustedRootPath,
      ...extra,
    },
    env: {
      GITHUB_API_URL: server.apiUrl,
      [REAL_BUILDX_VAR]: buildxPath(),
      RUNNER_TOOL_CACHE: toolCache,
      RUNNER_TEMP: mkdtempSync(join(tmpdir(), 'runner-temp-')),
    },
  });
  return { run, repo, toolCache };
}

const said = (run: ActionRun, command: string) =>
  run.commands.filter((c) => c.command === command).map((c) => c.message);

describe('a signed release', () => {
  it('verified: installed, merged; the log, the summary and result name the signer and the log entry', async () => {
    const r = await install('v0.31.1');
    expect(r.run.code, r.run.stdout.slice(-3000)).toBe(0);
    expect(await readDigest(reg, r.repo, 'v1')).toBe(r.run.outputs.digest);
    expect(r.run.stdout).toMatch(
      /buildx v0\.31\.1: Sigstore signature verified \(docker\/github-builder\/\.github\/workflows\/bake\.yml@refs\/tags\/v1\.17\.0, log index 0, sigstore-trusted-root trust root\)/,
    );
    const result = JSON.parse(r.run.outputs.result as string);
    expect(result.buildx.signature).toMatchObject({
      subject: BUILDX_SIGNER.subject,
      issuer: BUILDX_SIGNER.issuer,
      workflow: 'docker/github-builder/.github/workflows/bake.yml',
      ref: 'refs/tags/v1.17.0',
      logIndex: '0',
      trustRoot: 'sigstore-trusted-root',
    });
    expect(r.run.summary).toContain(
      '| signed by | `docker/github-builder/.github/workflows/bake.yml` at `refs/tags/v1.17.0`',
    );
    expect(said(r.run, 'warning')).toEqual([]);
  });

  it('a cache hit of the same file is not verified again (the record beside it says who signed it)', async () => {
    const first = await install('v0.31.1');
    expect(first.run.code).toBe(0);
    server.requests.length = 0;
    const again = await install('v0.31.1', {}, first.toolCache);
    expect(again.run.code, again.run.stdout.slice(-3000)).toBe(0);
    expect(server.requests.filter((q) => q.url.endsWith('.sigstore.json'))).toEqual([]);
    expect(again.run.stdout).not.toContain('Sigstore signature verified');
    expect(JSON.parse(again.run.outputs.result as string).buildx.signature.ref).toBe('refs/tags/v1.17.0');
  });

  it('a cached binary changed in place is never run: evicted, downloaded and verified again', async () => {
    const first = await install('v0.31.1');
    const cached = first.run.outputs['buildx-path'] as string;
    writeFileSync(cached, `${readFileSync(cached, 'utf8')}\n# changed in the cache\n`);
    server.requests.length = 0;
    const again = await install('v0.31.1', {}, first.toolCache);
    expect(again.run.code, again.run.stdout.slice(-3000)).toBe(0);
    expect(said(again.run, 'warning').join('\n')).toMatch(/changed since it was cached/);
    expect(server.requests.filter((q) => q.url.endsWith('.sigstore.json'))).toHaveLength(1);
    expect(again.run.stdout).toContain('Sigstore signature verified');
  });

  it('a cached binary whose bytes are the same but whose stat changed (a restored cache) is verified again, and passes', async () => {
    const first = await install('v0.31.1');
    const cached = first.run.outputs['buildx-path'] as string;
    const now = new Date();
    utimesSync(cached, now, new Date(now.getTime() - 3_600_000));
    server.requests.length = 0;
    const again = await install('v0.31.1', {}, first.toolCache);
    expect(again.run.code, again.run.stdout.slice(-3000)).toBe(0);
    expect(said(again.run, 'warning')).toEqual([]);
    expect(server.requests.filter((q) => q.url.endsWith('.sigstore.json'))).toHaveLength(1);
    expect(server.requests.filter((q) => q.url.endsWith('linux-amd64'))).toEqual([]);
    expect(again.run.stdout).toContain('Sigstore signature verified');
  });
});

describe('the trust root', () => {
  it('a cache hit verified against another trust root is verified again, and refused by this one', async () => {
    const first = await install('v0.31.1');
    expect(first.run.code, first.run.stdout.slice(-3000)).toBe(0);
    const other = await makeTrustRoot(mkdtempSync(join(tmpdir(), 'sigstore-other-')));
    const again = await install(
      'v0.31.1',
      { 'sigstore-trusted-root': other.trustedRootPath },
      first.toolCache,
    );
    expect(again.run.code).toBe(1);
    expect(said(again.run, 'error').join('\n')).toMatch(/v0\.31\.1 refused.*not from the trust root's CA/);
    expect(await readDigest(reg, again.repo, 'v1')).toBeNull();
  });

  it('sigstore-trusted-root that is not a trusted_root.json: an input error before any download', async () => {
    const bad = join(mkdtempSync(join(tmpdir(), 'sigstore-bad-')), 'root.pem');
    writeFileSync(bad, '-----BEGIN CERTIFICATE-----\n');
    server.requests.length = 0;
    const r = await install('v0.31.1', { 'sigstore-trusted-root': bad });
    expect(r.run.code).toBe(1);
    expect(said(r.run, 'error')).toEqual([
      expect.stringMatching(
        /^Input "sigstore-trusted-root": ".*root\.pem": not JSON \(expected a Sigstore trusted_root\.json\)/,
      ),
    ]);
    expect(server.requests).toEqual([]);
  });
});

describe('refused before any push, each for its reason', () => {
  it.each([
    ['v0.32.0', /the signature is not of this file/],
    ['v0.32.1', /the signature is not of this file/],
    ['v0.33.0', /not signed by Docker's build workflow.*someone\/fork/],
    [
      'v0.33.1',
      /not issued for https:\/\/token\.actions\.githubusercontent\.com's tokens.*gitlab\.example\.com/,
    ],
    ['v0.34.0', /the certificate is not from the trust root's CA/],
    ['v0.34.1', /no transparency-log entry/],
  ])('%s', async (tag, reason) => {
    const r = await install(tag);
    expect(r.run.code).toBe(1);
    const errors = r.run.commands.filter((c) => c.command === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(new RegExp(`buildx ${tag.replace(/\./g, '\\.')} refused`));
    expect(errors[0]!.message).toMatch(reason);
    expect(errors[0]!.props.title).toBe('buildx install');
    expect(await readDigest(reg, r.repo, 'v1')).toBeNull(); // nothing pushed
    expect(r.run.stdout).not.toContain('--dry-run');
  });
});

describe('a release without a bundle', () => {
  it('signature: optional (the default): one warning naming the missing signature, then the merge', async () => {
    const r = await install('v0.35.0');
    expect(r.run.code, r.run.stdout.slice(-3000)).toBe(0);
    expect(said(r.run, 'warning')).toEqual([
      expect.stringMatching(
        /v0\.35\.0 has no Sigstore bundle at .*\.sigstore\.json: its signature is not checked/,
      ),
    ]);
  });

  it('signature: required: refused before any push', async () => {
    const r = await install('v0.35.0', { policy: 'buildx:\n  signature: required\n' });
    expect(r.run.code).toBe(1);
    expect(said(r.run, 'error').join('\n')).toMatch(
      /v0\.35\.0 has no Sigstore bundle .*refused \(signature: required/,
    );
    expect(await readDigest(reg, r.repo, 'v1')).toBeNull();
  });

  it('signature: required under mode: warn: a warning, then the merge', async () => {
    const r = await install('v0.35.0', { policy: 'mode: warn\nbuildx:\n  signature: required\n' });
    expect(r.run.code, r.run.stdout.slice(-3000)).toBe(0);
    expect(said(r.run, 'warning')).toEqual([
      expect.stringMatching(
        /v0\.35\.0 has no Sigstore bundle .*not checked \(signature: required in the policy, mode: warn\)/,
      ),
    ]);
    expect(await readDigest(reg, r.repo, 'v1')).toBe(r.run.outputs.digest);
  });

  it('signature: required refuses what no bundle can prove (a release before v0.31.0) before any download', async () => {
    server.requests.length = 0;
    const r = await install('v0.13.1', { policy: 'buildx:\n  signature: required\n' });
    expect(r.run.code).toBe(1);
    expect(said(r.run, 'error').join('\n')).toMatch(
      /releases are signed from v0\.31\.0 on.*signature: required/,
    );
    expect(server.requests.filter((q) => q.url.startsWith('/download/'))).toEqual([]);
  });

  it('signature: off: no bundle fetched, no warning', async () => {
    server.requests.length = 0;
    const r = await install('v0.35.0', { policy: 'buildx:\n  signature: off\n' });
    expect(r.run.code, r.run.stdout.slice(-3000)).toBe(0);
    expect(said(r.run, 'warning')).toEqual([]);
    expect(server.requests.filter((q) => q.url.endsWith('.sigstore.json'))).toEqual([]);
  });
});
