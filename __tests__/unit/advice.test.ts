// The advice after a failure a retry cannot fix: for authorization failures it depends on whether
// the Docker config holds credentials for the registry (a fact computed at the edge, from the
// config; here given as data).
import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { classifyOutput } from '../../src/buildx/classify.js';
import type { ExecOutcome } from '../../src/exec/buildx.js';
import { advice } from '../../src/merge/advice.js';
import { type EngineDeps, mergeOptions, runMerge } from '../../src/merge/engine.js';
import { indexDigest } from '../../src/merge/dry-run.js';
import type { CredentialsKnown } from '../../src/registry/client.js';
import { readInputs } from '../../src/inputs/inputs.js';
import { fixturePath } from '../testbed/paths.js';

const NO_CREDENTIALS = readFileSync(fixturePath('v0.13.1-token-registry-no-credentials.log'), 'utf8');
const WRONG_PASSWORD = readFileSync(fixturePath('v0.13.1-token-registry-wrong-password.log'), 'utf8');
const VALID = /credentials .*(are valid|were accepted)/;

describe('advice() after an authorization failure', () => {
  const H = 'registry.example:5000';
  it.each<[string, string, CredentialsKnown | undefined, RegExp[], RegExp[]]>([
    // [name, output, credentials for H, must say, must not say]
    [
      'insufficient_scope, no credentials',
      NO_CREDENTIALS,
      'no',
      [/no credentials for registry\.example:5000 were found/i, /docker\/login-action/, /anonymous/],
      [VALID, /lack push permission/],
    ],
    [
      'insufficient_scope, credentials found',
      NO_CREDENTIALS,
      'yes',
      [/credentials for registry\.example:5000 .*lack push permission on this repository/],
      [/no credentials/i],
    ],
    [
      'insufficient_scope, the config could not be read',
      NO_CREDENTIALS,
      'unknown',
      [/either no credentials reached it or they lack push permission/, /registry\.example:5000/],
      [VALID, /no credentials for/i],
    ],
    [
      'insufficient_scope, no fact given',
      NO_CREDENTIALS,
      undefined,
      [/either no credentials reached it or they lack push permission/],
      [VALID],
    ],
    [
      'the token server refused the password',
      WRONG_PASSWORD,
      'yes',
      [
        /token server refused the credentials for registry\.example:5000 \(401\)/,
        /wrong, expired or revoked/,
      ],
      [VALID, /no credentials/i, /lack push permission/],
    ],
    [
      'a Docker Hub style denied, credentials found',
      'ERROR: failed to push docker.io/o/app:t: denied: requested access to the resource is denied',
      'yes',
      [/lack push permission/],
      [/no credentials/i],
    ],
    [
      'a Docker Hub style denied, no credentials',
      'ERROR: failed to push docker.io/o/app:t: denied: requested access to the resource is denied',
      'no',
      [/no credentials for registry\.example:5000 were found/i],
      [VALID, /lack push permission/],
    ],
    [
      'a 401 from a Basic-auth registry, no credentials',
      'ERROR: unexpected status from HEAD request to http://r/v2/a/manifests/t: 401 Unauthorized',
      'no',
      [/Authorization failed \(401 Unauthorized\)/, /no credentials for registry\.example:5000/i],
      [VALID],
    ],
    [
      'a 401 from a Basic-auth registry, credentials found',
      'ERROR: unexpected status from HEAD request to http://r/v2/a/manifests/t: 401 Unauthorized',
      'yes',
      [/Authorization failed \(401 Unauthorized\)/, /refused the credentials for registry\.example:5000/],
      [/no credentials/i],
    ],
  ])('%s', (_name, output, known, must, mustNot) => {
    const hosts = known ? [{ host: H, credentials: known }] : [];
    const text = advice(classifyOutput(output), { action: 'push', hosts });
    for (const re of must) expect(text).toMatch(re);
    for (const re of mustNot) expect(text).not.toMatch(re);
  });

  it('names every host without credentials, and Docker Hub as docker/login-action does', () => {
    const text = advice(classifyOutput(NO_CREDENTIALS), {
      action: 'push',
      hosts: [
        { host: 'docker.io', credentials: 'no' },
        { host: 'ghcr.io', credentials: 'no' },
      ],
    });
    expect(text).toMatch(/no credentials for docker\.io and ghcr\.io were found/i);
    expect(text).toMatch(/Docker Hub/);
  });

  it('says nothing of credentials for other failures', () => {
    expect(
      advice(classifyOutput('ERROR: unknown flag: --progress'), {
        action: 'push',
        hosts: [{ host: H, credentials: 'no' }],
      }),
    ).toMatch(/^ This buildx does not accept/);
  });
});

// The engine asks deps.credentialsFor about the hosts of the failing invocation: the tags' for a
// push, the sources' for the --dry-run that reads them.
describe('runMerge gives advice() the facts of the failing invocation', () => {
  const INDEX = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [],
  });
  const out = (ok: boolean, text = ''): ExecOutcome => ({
    ok,
    classification: ok ? undefined : classifyOutput(text),
    exitCode: ok ? 0 : 1,
    signal: null,
    durationMs: 1,
    stdout: ok ? `${INDEX}\n` : '',
    stdoutTruncated: false,
    tail: text.split('\n'),
  });
  const run = (failDryRun: boolean, known: Record<string, CredentialsKnown>) => {
    const asked: string[] = [];
    const deps: EngineDeps = {
      exec: async (args) =>
        args.includes('--dry-run') && !failDryRun ? out(true) : out(false, NO_CREDENTIALS),
      readDigest: async () => null,
      sleep: async () => {},
      info: () => {},
      credentialsFor: async (host) => {
        asked.push(host);
        return known[host] ?? 'unknown';
      },
    };
    const inputs = readInputs(
      (n) => ({ sources: 'src.example/a/src:amd64', tags: 'dst.example/a/app:v1' })[n] ?? '',
    );
    return { result: runMerge(mergeOptions(inputs), deps), asked };
  };

  it('a push: the tag host', async () => {
    const { result, asked } = run(false, { 'dst.example': 'no', 'src.example': 'yes' });
    const r = await result;
    expect(indexDigest(`${INDEX}\n`).digest).toBe(r.digest);
    expect(r.failure?.message).toMatch(/no credentials for dst\.example were found/i);
    expect(r.failure?.message).not.toMatch(VALID);
    expect(asked).toEqual(['dst.example']);
  });

  it('the --dry-run: the source hosts, and it reads (pull), it does not push', async () => {
    const { result, asked } = run(true, { 'src.example': 'yes' });
    const r = await result;
    expect(r.failure?.message).toMatch(/credentials for src\.example .*lack pull permission/);
    expect(asked).toEqual(['src.example']);
  });
});
