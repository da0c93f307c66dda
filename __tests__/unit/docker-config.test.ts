// Where the Docker config lives, and how credentials are found in it: real files, real credential
// helper processes.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { pluginDirs } from '../../src/install/find-binary.js';
import { dockerConfigDir } from '../../src/docker/config-dir.js';
import { installPlugin } from '../../src/install/plugin.js';
import { parseReference } from '../../src/registry/reference.js';
import { configKeys, RegistryClient, registryBaseUrl } from '../../src/registry/client.js';

const saved = { ...process.env };
const temps: string[] = [];
const temp = (prefix: string): string => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  temps.push(d);
  return d;
};
afterEach(() => {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
  for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('dockerConfigDir: the Docker CLI meaning (empty is unset)', () => {
  it.each<[string, NodeJS.ProcessEnv, string]>([
    ['set', { DOCKER_CONFIG: '/etc/dc', HOME: '/home/u' }, '/etc/dc'],
    ['empty', { DOCKER_CONFIG: '', HOME: '/home/u' }, '/home/u/.docker'],
    ['unset', { HOME: '/home/u' }, '/home/u/.docker'],
    ['relative, taken as given', { DOCKER_CONFIG: 'dc', HOME: '/home/u' }, 'dc'],
  ])('%s', (_name, env, dir) => {
    expect(dockerConfigDir(env)).toBe(dir);
  });
});

describe('DOCKER_CONFIG="" means ~/.docker everywhere', () => {
  it("the buildx locator's plugin folders", () => {
    expect(pluginDirs({ DOCKER_CONFIG: '', HOME: '/home/u' })[0]).toBe('/home/u/.docker/cli-plugins');
  });

  it('the plugin installer', async () => {
    const home = temp('sit-home-');
    process.env.HOME = home;
    const binary = join(temp('sit-bin-'), 'buildx');
    writeFileSync(binary, '#!/bin/sh\necho "github.com/docker/buildx v0.0.1 x"\n', { mode: 0o755 });
    const r = await installPlugin(binary, { DOCKER_CONFIG: '', HOME: home, PATH: process.env.PATH });
    expect(r.path).toBe(join(home, '.docker', 'cli-plugins', 'docker-buildx'));
  });

  it('the registry client reads ~/.docker/config.json', async () => {
    const home = temp('sit-home-');
    mkdirSync(join(home, '.docker'));
    const auth = Buffer.from('ci:pw').toString('base64');
    writeFileSync(join(home, '.docker', 'config.json'), JSON.stringify({ auths: { 'r.example': { auth } } }));
    process.env.HOME = home;
    process.env.DOCKER_CONFIG = '';
    expect(await new RegistryClient().credentialsFor('r.example')).toEqual({
      username: 'ci',
      password: 'pw',
    });
  });
});

/** A `docker-credential-<name>` on PATH that knows one server's credentials (a real child process). */
function credentialHelper(name: string, server: string, secret: string): void {
  const bin = temp('sit-helper-');
  const file = join(bin, `docker-credential-${name}`);
  writeFileSync(
    file,
    `#!/usr/bin/env node
let s = '';
process.stdin.on('data', (c) => (s += c)).on('end', () => {
  if (process.argv[2] !== 'get' || s.trim() !== ${JSON.stringify(server)}) {
    process.stdout.write('credentials not found in native keychain\\n');
    process.exit(1);
  }
  process.stdout.write(JSON.stringify({ ServerURL: s.trim(), Username: 'hub-user', Secret: ${JSON.stringify(secret)} }));
});
`,
  );
  chmodSync(file, 0o755);
  process.env.PATH = `${bin}${delimiter}${process.env.PATH ?? ''}`;
}

describe("Docker Hub's other names find Docker Hub's credentials and registry", () => {
  it.each(['index.docker.io/org/app:v1', 'registry-1.docker.io/org/app:v1', 'org/app:v1'])(
    '%s: a credsStore helper is asked for https://index.docker.io/v1/',
    async (text) => {
      credentialHelper('sit-hub', 'https://index.docker.io/v1/', 'hub-secret');
      const dir = temp('sit-dc-');
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ credsStore: 'sit-hub' }));
      const client = new RegistryClient({ dockerConfigDir: dir });
      expect(await client.credentialsFor(parseReference(text).domain)).toEqual({
        username: 'hub-user',
        password: 'hub-secret',
      });
    },
  );

  it.each(['index.docker.io/org/app:v1', 'registry-1.docker.io/org/app:v1'])(
    '%s: auths under https://index.docker.io/v1/',
    async (text) => {
      const dir = temp('sit-dc-');
      const auth = Buffer.from('hub-user:hub-secret').toString('base64');
      writeFileSync(
        join(dir, 'config.json'),
        JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth } } }),
      );
      const client = new RegistryClient({ dockerConfigDir: dir });
      expect(await client.credentialsFor(parseReference(text).domain)).toMatchObject({
        username: 'hub-user',
      });
    },
  );

  it.each(['index.docker.io/org/app:v1', 'registry-1.docker.io/org/app:v1', 'docker.io/org/app'])(
    '%s: read back from registry-1.docker.io',
    (text) => {
      const domain = parseReference(text).domain;
      expect(registryBaseUrl(domain)).toBe('https://registry-1.docker.io');
      expect(configKeys(domain)[0]).toBe('https://index.docker.io/v1/');
    },
  );
});
