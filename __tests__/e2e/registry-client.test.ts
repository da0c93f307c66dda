// The registry client's reads (RegistryClient.digestOf) against a real registry 2.8 behind the
// fault proxy: which failures it retries (network errors, 5xx, 429), how many attempts it makes,
// and which answers end the read at once (404 is "no such tag", other 4xx an error).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { RegistryClient } from '../../src/registry/client.js';
import { parseReference } from '../../src/registry/reference.js';
import { type FaultProxy, type FaultRule, startFaultProxy } from '../testbed/fault-proxy.js';
import { platformTag, pushPlatformImages } from '../testbed/images.js';
import { readDigest, type Registry, startRegistry } from '../testbed/registry.js';

let reg: Registry;
let proxy: FaultProxy;
let dockerConfig: string;
let expected: string;
const tag = platformTag('linux/amd64');

beforeAll(async () => {
  reg = await startRegistry();
  await pushPlatformImages(reg, 'src/app', ['linux/amd64']);
  expected = (await readDigest(reg, 'src/app', tag)) as string;
  proxy = await startFaultProxy({ target: reg.url });
  dockerConfig = mkdtempSync(join(tmpdir(), 'regclient-'));
}, 120_000);
afterEach(() => proxy.setRules([]));
afterAll(async () => {
  await proxy?.stop();
  await reg?.stop();
  rmSync(dockerConfig, { recursive: true, force: true });
});

const heads = (): number => proxy.log.filter((e) => e.method === 'HEAD').length;

describe('RegistryClient.digestOf through the fault proxy (3 attempts)', () => {
  // rules on the manifest HEAD; the HEADs the client sends; the digest read or the error it throws
  it.each<[string, FaultRule[], number, 'digest' | null | RegExp]>([
    ['no fault: one HEAD', [], 1, 'digest'],
    [
      '503 twice, then the digest',
      [{ match: 'manifest-head', action: { status: 503 }, times: 2 }],
      3,
      'digest',
    ],
    ['503 on every attempt: the last error', [{ match: 'manifest-head', action: { status: 503 } }], 3, /503/],
    [
      '429 once, then the digest',
      [{ match: 'manifest-head', action: 'toomanyrequests', times: 1 }],
      2,
      'digest',
    ],
    ['a reset connection is retried', [{ match: 'manifest-head', action: 'reset', times: 1 }], 2, 'digest'],
    ['403 is not retried', [{ match: 'manifest-head', action: { status: 403 } }], 1, /403/],
    ['404 is no such tag, not retried', [{ match: 'manifest-head', action: { status: 404 } }], 1, null],
  ])('%s', async (_name, rules, expectedHeads, outcome) => {
    proxy.setRules(rules);
    proxy.log.length = 0;
    const client = new RegistryClient({
      dockerConfigDir: dockerConfig,
      attempts: 3,
      requestTimeoutMs: 10_000,
    });
    const ref = parseReference(`${proxy.host}/src/app:${tag}`);
    const got = await client.digestOf(ref).then(
      (d) => d,
      (err: Error) => err,
    );
    if (outcome === 'digest') expect(got).toBe(expected);
    else if (outcome === null) expect(got).toBeNull();
    else expect((got as Error).message).toMatch(outcome);
    expect(heads()).toBe(expectedHeads);
  });
});
