// What the engine records for the report, beyond attempts and digests: how long a tag's read-back
// waited out registry lag, the manifest PUTs (at once, retries, the waits a registry asked for),
// the annotations checked in the index, and the advice of a failure kept apart from its message.
// A scripted buildx and an in-memory registry, as in engine.test.ts.
import { describe, expect, it } from 'vitest';

import { classifyOutput } from '../../src/buildx/classify.js';
import type { ExecOutcome } from '../../src/exec/buildx.js';
import { type EngineDeps, type MergeResult, mergeOptions, runMerge } from '../../src/merge/engine.js';
import { indexDigest } from '../../src/merge/dry-run.js';
import { readInputs } from '../../src/inputs/inputs.js';

const DESCRIPTION = 'org.opencontainers.image.description';
const INDEX = JSON.stringify({
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.index.v1+json',
  // in no target repository (the scripted registry holds tags only): buildx pushes the first tag
  manifests: [
    { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${'a'.repeat(64)}`, size: 1 },
  ],
  annotations: { [DESCRIPTION]: 'hello' },
});
const DIGEST = indexDigest(`${INDEX}\n`).digest;

type Put = 'ok' | { status: number; retryAfterMs?: number };

interface World {
  /** a tag just written reads as nothing this many times */
  lagReads?: number;
  /** buildx's push: passes, or fails with this output */
  push?: string;
  /** the answers to the manifest PUTs, in order (the last repeats) */
  puts?: Put[];
}

function deps(world: World): EngineDeps {
  const registry = new Map<string, string>();
  const lag = new Map<string, number>();
  const write = (tag: string) => {
    registry.set(tag, DIGEST);
    lag.set(tag, world.lagReads ?? 0);
  };
  const outcome = (text?: string, stdout = ''): ExecOutcome => ({
    ok: text === undefined,
    classification: text === undefined ? undefined : classifyOutput(text),
    exitCode: text === undefined ? 0 : 1,
    signal: null,
    durationMs: 1,
    stdout,
    stdoutTruncated: false,
    tail: text === undefined ? [] : [text],
  });
  let puts = 0;
  return {
    async exec(args) {
      if (args.includes('--dry-run')) return outcome(undefined, `${INDEX}\n`);
      if (world.push) return outcome(world.push);
      args.forEach((a, i) => args[i - 1] === '--tag' && write(a));
      return outcome();
    },
    async readDigest(ref) {
      const left = lag.get(ref.original) ?? 0;
      if (left > 0) {
        lag.set(ref.original, left - 1);
        return null;
      }
      return registry.get(ref.original) ?? null;
    },
    async putManifest(ref) {
      const answer = world.puts?.[Math.min(puts++, world.puts.length - 1)] ?? 'ok';
      await new Promise((r) => setTimeout(r, 5)); // the PUTs overlap, as over a network
      if (answer !== 'ok') throw Object.assign(new Error(`${answer.status} from the registry`), answer);
      write(ref.original);
      return DIGEST;
    },
    async credentialsFor() {
      return 'no';
    },
    sleep: async () => {},
    random: () => 0.5,
    info: () => {},
  };
}

function merge(world: World, inputs: Record<string, string>): Promise<MergeResult> {
  const all: Record<string, string> = { sources: 'r/src/app:amd64', tags: 'r/a:1', ...inputs };
  return runMerge(mergeOptions(readInputs((k) => all[k] ?? '')), deps(world));
}

const FIVE = 'r/a:1,r/a:2,r/a:3,r/a:4,r/a:5';

describe('what the result records for the report', () => {
  it.each<[string, World, Record<string, string>, (r: MergeResult) => unknown, unknown]>([
    [
      'no lag: no lag wait on any tag',
      {},
      { tags: 'r/a:1,r/a:2', 'tag-method': 'buildx' },
      (r) => r.tags.map((t) => t.lagWaitMs),
      [undefined, undefined],
    ],
    [
      'lag: each tag read as nothing 3 times after its write waited 125+250+500 ms (jitter 0.5 of 250 ms, doubling)',
      { lagReads: 3 },
      { tags: 'r/a:1,r/a:2', 'tag-method': 'buildx' },
      (r) => r.tags.map((t) => [t.tag, t.verified, t.lagWaitMs]),
      [
        ['r/a:1', true, 875],
        ['r/a:2', true, 875],
      ],
    ],
    [
      'tag-method buildx: no PUT, no PUT record',
      {},
      { tags: FIVE, 'tag-method': 'buildx' },
      (r) => r.puts,
      undefined,
    ],
    [
      '5 tags, puts-at-once 4: 4 PUTs, at most 4 at once, no retry',
      {},
      { tags: FIVE },
      (r) => [r.puts, r.tags.filter((t) => t.state === 'put').length],
      [{ atOnce: 4, retries: [] }, 4],
    ],
    ['puts-at-once 2', {}, { tags: FIVE, 'puts-at-once': '2' }, (r) => r.puts, { atOnce: 2, retries: [] }],
    [
      'a 429 asking for 2s, then a 503: two retries, the longest asked wait kept',
      { puts: [{ status: 429, retryAfterMs: 2000 }, { status: 503 }, 'ok'] },
      { tags: 'r/a:1,r/a:2', 'retry-delay': '100ms' },
      (r) => [r.ok, r.recovered, r.puts?.atOnce, r.puts?.retries.map((p) => [p.class, p.askedWaitMs])],
      [
        true,
        true,
        1,
        [
          ['transient', 2000],
          ['transient', undefined],
        ],
      ],
    ],
    [
      'annotations: the number of lines checked in the index',
      {},
      { annotations: `index:${DESCRIPTION}=hello` },
      (r) => [r.ok, r.annotations],
      [true, 1],
    ],
    ['no annotations: nothing recorded', {}, {}, (r) => r.annotations, undefined],
    [
      'a failure with advice: kept apart, and still the end of the message',
      { push: 'ERROR: failed to authorize: 401 Unauthorized' },
      {},
      (r) => [
        r.failure?.advice?.startsWith('Authorization failed (401 Unauthorized): no credentials for'),
        r.failure?.message.endsWith(r.failure.advice ?? '-'),
      ],
      [true, true],
    ],
    [
      'a failure without advice: none',
      { push: 'fatal error: concurrent map writes' },
      { 'max-attempts': '1' },
      (r) => [r.failure?.class, r.failure && 'advice' in r.failure],
      ['panic', false],
    ],
  ])('%s', async (_name, world, inputs, pick, want) => {
    expect(pick(await merge(world, inputs))).toEqual(want);
  });
});
