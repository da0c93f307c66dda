// Authorization against a registry that uses the Docker token flow, as Docker Hub, GHCR and most
// hosted registries do: a real registry 2.8 with `auth: token`, the test bed's token server
// (RS256 JWTs it verifies against the server's certificate), Debian's real buildx 0.13.1, and the
// bundled action run the way the runner runs it.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { parseReference } from '../../src/registry/reference.js';
import { RegistryClient } from '../../src/registry/client.js';
import { pushPlatformImagesDetailed } from '../testbed/images.js';
import { buildxPath } from '../testbed/paths.js';
import { useTokenRegistry } from '../testbed/hooks.js';
import { readDigest } from '../testbed/registry.js';
import { type ActionRun, runAction } from '../testbed/runner.js';
import { basic, bearer, dockerConfig, removeTemps, startTokenRegistry } from '../testbed/token-registry.js';
import type { TokenServerOptions } from '../testbed/token-server.js';

afterAll(() => removeTemps());

describe('the read-back client and an identity token', () => {
  it.each<[string, TokenServerOptions['refuse']]>([
    ['POST answered 404 (as GCR does): asked again with GET', { POST: 404 }],
    ['POST answered 405: asked again with GET', { POST: 405 }],
    ['POST served: no GET', undefined],
  ])('%s', async (_name, refuse) => {
    const tr = await startTokenRegistry({ refuse });
    try {
      const [image] = await pushPlatformImagesDetailed(tr.reg, 'idt/app', ['linux/amd64'], {
        auth: bearer(tr.ts, 'idt/app'),
      });
      const dir = dockerConfig({ auths: { [tr.reg.host]: { identitytoken: 'idt-ci-0123456789' } } });
      const client = new RegistryClient({ dockerConfigDir: dir, attempts: 1 });
      expect(await client.digestOf(parseReference(`${tr.reg.host}/idt/app:amd64`))).toBe(image?.digest);
      const asked = tr.ts.requests.map((r) => `${r.method} ${r.grant} ${r.status} ${r.user ?? '-'}`);
      expect(asked).toEqual(
        refuse ? [`POST refused ${refuse.POST} -`, 'GET basic 200 ci'] : ['POST refresh_token 200 ci'],
      );
    } finally {
      await tr.stop();
    }
  });

  it('the credentials fact: yes for a login, no without one, unknown for an unreadable config', async () => {
    const host = '127.0.0.1:5999';
    const client = (config: object | string) => {
      const dir = dockerConfig({});
      writeFileSync(join(dir, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
      return new RegistryClient({ dockerConfigDir: dir });
    };
    expect(await client({ auths: { [host]: { auth: basic('ci', 'x') } } }).credentialsKnown(host)).toBe(
      'yes',
    );
    expect(await client({ auths: { [host]: { identitytoken: 't' } } }).credentialsKnown(host)).toBe('yes');
    expect(await client({ auths: { 'other:1': { auth: basic('ci', 'x') } } }).credentialsKnown(host)).toBe(
      'no',
    );
    expect(await client({}).credentialsKnown(host)).toBe('no');
    expect(await client('{ not json').credentialsKnown(host)).toBe('unknown');
    expect(await client({ credsStore: 'sit-no-such-helper' }).credentialsKnown(host)).toBe('unknown');
    expect(
      await new RegistryClient({ dockerConfigDir: join(tmpdir(), 'sit-none-x') }).credentialsKnown(host),
    ).toBe('no');
  });
});

describe('the action against a token registry: what it says when the push is refused', () => {
  const bed = useTokenRegistry();
  let n = 0;

  const errors = (run: ActionRun): string =>
    run.commands
      .filter((c) => c.command === 'error')
      .map((c) => c.message)
      .join('\n');
  const merge = (config: object) =>
    runAction({
      inputs: {
        sources: bed.sources.join('\n'),
        tags: `${bed.tr.reg.host}/dst${++n}/app:v1`,
        'buildx-version': buildxPath(),
      },
      env: { DOCKER_CONFIG: dockerConfig(config) },
    });
  const VALID = /credentials (for \S+ )?(are valid|were accepted)/;

  it('no credentials at all: it names the host, says none were found, points at docker/login-action', async () => {
    const run = await merge({});
    expect(run.code).toBe(1);
    expect(run.outputs.attempts).toBe('1');
    const text = errors(run);
    expect(text).toMatch(/insufficient_scope/);
    expect(text).toContain(`no credentials for ${bed.tr.reg.host} were found`);
    expect(text).toContain(`docker/login-action with \`registry: ${bed.tr.reg.host}\``);
    expect(text).not.toMatch(VALID);
    expect(text).not.toMatch(/lack push permission/);
  });

  it('a wrong password: the token server refused the credentials', async () => {
    const run = await merge({ auths: { [bed.tr.reg.host]: { auth: basic('ci', 'wrong-password') } } });
    expect(run.code).toBe(1);
    // the --dry-run that reads the sources is refused first: permanent, never retried
    const result = JSON.parse(run.outputs.result as string);
    expect(result.failure).toMatchObject({ class: 'permanent', signature: 'oauth token 401' });
    expect(result.attempts.every((a: { try: number }) => a.try === 1)).toBe(true);
    const text = errors(run);
    expect(text).toContain(`token server refused the credentials for ${bed.tr.reg.host} (401)`);
    expect(text).not.toMatch(VALID);
    expect(text).not.toMatch(/no credentials/i);
    for (const t of [run.stdout, run.stderr, run.summary]) expect(t).not.toContain('wrong-password');
  });

  it('a user who may only pull: valid credentials that lack push permission', async () => {
    const run = await merge({ auths: { [bed.tr.reg.host]: { auth: basic('reader', 'reader-s3cret') } } });
    expect(run.code).toBe(1);
    const text = errors(run);
    expect(text).toMatch(
      new RegExp(
        `credentials for ${bed.tr.reg.host.replace(/\./g, '\\.')} were accepted but lack push permission`,
      ),
    );
    expect(text).not.toMatch(/no credentials/i);
  });

  it('a user who may push: pushed, and read back through the token flow', async () => {
    const run = await merge({ auths: { [bed.tr.reg.host]: { auth: basic('ci', 'ci-s3cret') } } });
    expect(run.code, run.stdout.slice(-2000)).toBe(0);
    const result = JSON.parse(run.outputs.result as string);
    expect(result.tags[0]).toMatchObject({ verified: true, digest: run.outputs.digest });
    expect(await readDigest(bed.tr.reg, `dst${n}/app`, 'v1', bearer(bed.tr.ts, `dst${n}/app`))).toBe(
      run.outputs.digest,
    );
    for (const t of [run.stdout, run.stderr, run.summary]) expect(t).not.toContain('ci-s3cret');
  });
});
