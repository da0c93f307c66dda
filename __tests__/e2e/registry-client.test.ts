// The registry client's reads (RegistryClient.digestOf) against a real registry 2.8 behind the
// fault proxy: which failures it retries (network errors, 408, 429, 5xx: src/retry/policy.ts), how
// many attempts it makes, and which answers end the read at once (404 is "no such tag", other 4xx
// an error).

import { beforeAll, describe, expect, it } from 'vitest';

import { RegistryClient } from '../../src/registry/client.js';
import { parseReference } from '../../src/registry/reference.js';
import { useProxiedRegistry } from '../testbed/hooks.js';
import { type FaultRule } from '../testbed/fault-proxy.js';
import { platformTag } from '../testbed/images.js';
import { readDigest } from '../testbed/registry.js';

const bed = useProxiedRegistry(['linux/amd64'], 'regclient-');
let expected: string;
const tag = platformTag('linux/amd64');

beforeAll(async () => {
  expected = (await readDigest(bed.reg, 'src/app', tag)) as string;
});

const heads = (): number => bed.proxy.log.filter((e) => e.method === 'HEAD').length;

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
    [
      '408 once, then the digest',
      [{ match: 'manifest-head', action: { status: 408 }, times: 1 }],
      2,
      'digest',
    ],
    ['a reset connection is retried', [{ match: 'manifest-head', action: 'reset', times: 1 }], 2, 'digest'],
    ['403 is not retried', [{ match: 'manifest-head', action: { status: 403 } }], 1, /403/],
    ['404 is no such tag, not retried', [{ match: 'manifest-head', action: { status: 404 } }], 1, null],
  ])('%s', async (_name, rules, expectedHeads, outcome) => {
    bed.proxy.setRules(rules);
    bed.proxy.log.length = 0;
    const client = new RegistryClient({
      dockerConfigDir: bed.dockerConfig,
      attempts: 3,
      requestTimeoutMs: 10_000,
    });
    const ref = parseReference(`${bed.proxy.host}/src/app:${tag}`);
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
