// A registry doing the Docker token flow, as Docker Hub, GHCR and most hosted registries do: a real
// registry 2.8 with `auth: token` and the test bed's token server (token-server.ts), plus the
// Docker config folders and credential helpers the action and buildx log in with.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type Registry, startRegistry } from './registry.ts';
import { startTokenServer, type TokenServer, type TokenServerOptions } from './token-server.ts';

/** `ci` may push (also with its identity token), `reader` may only pull. */
export const TOKEN_USERS: NonNullable<TokenServerOptions['users']> = {
  ci: { password: 'ci-s3cret', actions: ['pull', 'push'], identityTokens: ['idt-ci-0123456789'] },
  reader: { password: 'reader-s3cret', actions: ['pull'] },
};

export interface TokenRegistry {
  ts: TokenServer;
  reg: Registry;
  stop(): Promise<void>;
}

/** A token server (users TOKEN_USERS unless given) and a registry 2.8 trusting its tokens. */
export async function startTokenRegistry(opts: TokenServerOptions = {}): Promise<TokenRegistry> {
  const ts = await startTokenServer({ users: TOKEN_USERS, ...opts });
  const reg = await startRegistry({
    token: { realm: ts.realm, service: ts.service, issuer: ts.issuer, certFile: ts.certFile },
  }).catch(async (err: unknown) => {
    await ts.stop();
    throw err;
  });
  return {
    ts,
    reg,
    async stop() {
      await reg.stop();
      await ts.stop();
    },
  };
}

/** An `Authorization` value signed directly by the token server: pull and push on `repo`. */
export const bearer = (ts: TokenServer, repo: string): string =>
  `Bearer ${ts.issue('testbed', [{ type: 'repository', name: repo, actions: ['pull', 'push'] }])}`;

/** The base64 of `user:password`, as config.json's `auth` holds it. */
export const basic = (user: string, password: string): string =>
  Buffer.from(`${user}:${password}`).toString('base64');

/** Temp folders made by the helpers below; `removeTemps()` removes them (call it in afterAll). */
const temps: string[] = [];
export function removeTemps(): void {
  for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** A DOCKER_CONFIG folder holding this config.json. */
export function dockerConfig(config: object): string {
  const dir = mkdtempSync(join(tmpdir(), 'sit-dc-'));
  temps.push(dir);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

export interface CredentialHelper {
  /** the folder holding `docker-credential-<name>`: put it first on PATH */
  dir: string;
  name: string;
  /** one line per call: `<action> <server> <parent>`, the parent being the asking program's executable */
  calls(): string[];
}

/**
 * A real `docker-credential-<name>` executable (a Node script, no shell) answering `get` for the
 * servers given, as a credential helper does: `{"ServerURL","Username","Secret"}` on stdout, or
 * "credentials not found in native keychain" and exit 1. Each call is logged with the program that
 * asked (the action's node, or buildx).
 */
export function writeCredentialHelper(
  name: string,
  servers: Record<string, { Username: string; Secret: string }>,
): CredentialHelper {
  const dir = mkdtempSync(join(tmpdir(), 'sit-credhelper-'));
  temps.push(dir);
  const log = join(dir, 'calls.log');
  const script = `#!${process.execPath}
const fs = require('node:fs');
const servers = ${JSON.stringify(servers)};
const action = process.argv[2] ?? '';
let parent = '?';
try { parent = fs.readlinkSync('/proc/' + process.ppid + '/exe'); } catch {}
let input = '';
process.stdin.on('data', (c) => (input += c));
process.stdin.on('end', () => {
  const server = input.trim();
  fs.appendFileSync(${JSON.stringify(log)}, action + ' ' + server + ' ' + parent + '\\n');
  const found = servers[server];
  if (action === 'get' && found) {
    process.stdout.write(JSON.stringify({ ServerURL: server, ...found }));
  } else if (action === 'list') {
    process.stdout.write('{}');
  } else {
    process.stdout.write('credentials not found in native keychain\\n');
    process.exitCode = 1;
  }
});
`;
  const file = join(dir, `docker-credential-${name}`);
  writeFileSync(file, script);
  chmodSync(file, 0o755);
  return {
    dir,
    name,
    calls() {
      try {
        return readFileSync(log, 'utf8').split('\n').filter(Boolean);
      } catch {
        return [];
      }
    },
  };
}
