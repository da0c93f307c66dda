// Where the content is: the pure pieces (the sources' repositories, the manifests an index lists),
// then the engine over an in-memory registry that keeps manifests per repository and refuses an
// index whose manifests a repository lacks (as registry 2.8 does): a repository holding the
// content gets no buildx push, a failed push that moved the content is completed by PUT.
import { describe, expect, it } from 'vitest';

import { classifyOutput } from '../../src/buildx/classify.js';
import type { ExecOutcome } from '../../src/exec/buildx.js';
import {
  listedManifests,
  repositoriesOf,
  repositoryOfSources,
  sourceRepositories,
} from '../../src/merge/content.js';
import { type EngineDeps, type MergeResult, mergeOptions, runMerge } from '../../src/merge/engine.js';
import { indexDigest } from '../../src/merge/dry-run.js';
import { readInputs } from '../../src/inputs/inputs.js';
import { parseTag } from '../../src/registry/reference.js';

const C1 = `sha256:${'1'.repeat(64)}`;
const C2 = `sha256:${'2'.repeat(64)}`;
const INDEX = JSON.stringify({
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.index.v1+json',
  manifests: [C1, C2].map((digest) => ({
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest,
    size: 500,
  })),
});
const DIGEST = indexDigest(`${INDEX}\n`).digest;

describe('the pure pieces', () => {
  const opts = (sources: string[], append = false, tags = ['r.io/app:1']) => ({
    sources,
    append,
    tags: tags.map(parseTag),
  });
  it.each([
    ['digests of one repository', opts([`r.io/app@${C1}`, `r.io/app@${C2}`]), 'r.io/app'],
    ['tags of one repository', opts(['r.io/app:amd64', 'r.io/app:arm64']), 'r.io/app'],
    [
      'Docker Hub by two names',
      opts([`alpine@${C1}`, `index.docker.io/library/alpine@${C2}`]),
      'docker.io/library/alpine',
    ],
    ['two repositories', opts([`r.io/a@${C1}`, `r.io/b@${C2}`]), undefined],
    ['one repository, --append into another', opts([`r.io/a@${C1}`], true, ['r.io/b:1']), undefined],
    ['one repository, --append into it', opts([`r.io/a@${C1}`], true, ['r.io/a:1']), 'r.io/a'],
    ['a source the grammar refuses', opts(['r.io/a:x', 'not a ref']), undefined],
  ])('%s', (_name, o, want) => {
    expect(repositoryOfSources(o)).toBe(want);
    if (want) expect([...sourceRepositories(o)]).toEqual([want]);
  });

  it.each([
    ['an OCI index with an attestation', INDEX, [C1, C2]],
    ['no manifests', JSON.stringify({ manifests: [] }), []],
    ['a descriptor without a digest is skipped', JSON.stringify({ manifests: [{}, { digest: C1 }] }), [C1]],
  ])('listedManifests: %s', (_name, index, want) => {
    expect(listedManifests(index)).toEqual(want);
  });

  it('repositoriesOf: each repository once, in order', () => {
    const tags = ['r.io/a:1', 'r.io/b:1', 'r.io/a:2'].map(parseTag);
    expect(repositoriesOf(tags).map((t) => t.original)).toEqual(['r.io/a:1', 'r.io/b:1']);
  });
});

type Push = 'pass' | 'crash' | 'copy-then-400' | 'copy-then-hang';

interface World {
  /** what each repository holds of the index's manifests before the run */
  content?: Record<string, string[]>;
  /** buildx's pushes, in order (the last repeats) */
  pushes?: Push[];
  /** the status of every manifest PUT (default: taken when the repository holds the manifests) */
  putStatus?: number;
}

const repoOfRef = (ref: string) => ref.replace(/[:@][^/]*$/, '');

/** An in-memory registry and a scripted buildx; what ran is in `log`. */
function harness(world: World) {
  const content = new Map(Object.entries(world.content ?? {}).map(([r, d]) => [r, new Set(d)]));
  const tags = new Map<string, string>();
  const log: string[] = [];
  /** reads of each tag */
  const reads = new Map<string, number>();
  const holds = (repo: string) => [C1, C2].every((d) => content.get(repo)?.has(d));
  const copy = (repo: string) => content.set(repo, new Set([C1, C2]));
  const out = (ok: boolean, text = '', stdout = ''): ExecOutcome => ({
    ok,
    classification: ok ? undefined : classifyOutput(text),
    exitCode: ok ? 0 : 1,
    signal: null,
    durationMs: 1,
    stdout,
    stdoutTruncated: false,
    tail: text.split('\n'),
  });
  let n = 0;
  const deps: EngineDeps = {
    async exec(args) {
      if (args.includes('--dry-run')) return out(true, '', `${INDEX}\n`);
      const step = world.pushes?.[Math.min(n++, (world.pushes?.length ?? 1) - 1)] ?? 'pass';
      const to = args.flatMap((a, i) => (args[i - 1] === '--tag' ? [a] : []));
      log.push(`buildx ${to.join(',')} from ${args.at(-1)}`);
      if (step === 'crash') return out(false, 'fatal error: concurrent map writes');
      to.forEach((t) => copy(repoOfRef(t)));
      if (step === 'copy-then-400')
        return out(
          false,
          `ERROR: unexpected status from HEAD request to http://r/v2/x/manifests/1: 400 Bad Request`,
        );
      if (step === 'copy-then-hang')
        return { ...out(false, ''), classification: { class: 'timeout', signature: 'idle', line: '' } };
      to.forEach((t) => tags.set(t, DIGEST));
      return out(true);
    },
    async readDigest(ref) {
      if (ref.digest) return content.get(`${ref.domain}/${ref.path}`)?.has(ref.digest) ? ref.digest : null;
      reads.set(ref.original, (reads.get(ref.original) ?? 0) + 1);
      return tags.get(ref.original) ?? null;
    },
    async putManifest(ref) {
      log.push(`PUT ${ref.original}`);
      const status = world.putStatus ?? (holds(`${ref.domain}/${ref.path}`) ? 201 : 400);
      if (status >= 300) throw Object.assign(new Error(`PUT: ${status}`), { status });
      tags.set(ref.original, DIGEST);
      return DIGEST;
    },
    async credentialsFor() {
      return 'no';
    },
    sleep: async () => {},
    random: () => 0.5,
    info: () => {},
  };
  return { deps, log, tags, reads };
}

async function merge(world: World, inputs: Record<string, string>) {
  const opts = mergeOptions(readInputs((name) => inputs[name] ?? ''));
  const h = harness(world);
  const r = await runMerge(opts, h.deps);
  return { r, log: h.log, reads: h.reads };
}

const buildxPushes = (r: MergeResult) => r.attempts.filter((a) => a.invocation !== 'oracle').length;
const byPut = (r: MergeResult) => r.tags.filter((t) => t.state === 'put').map((t) => t.tag);
const how = (r: MergeResult) =>
  Object.fromEntries((r.repositories ?? []).map((c) => [c.repository, c.content]));

describe('the engine: buildx moves content, the action writes every index', () => {
  const same = { sources: `r.io/app@${C1}\nr.io/app@${C2}`, tags: 'r.io/app:1\nr.io/app:2\nr.io/app:3' };
  const other = { sources: `r.io/src@${C1}\nr.io/src@${C2}`, tags: 'r.io/app:1\nr.io/app:2' };
  it.each<[string, World, Record<string, string>, (r: MergeResult, log: string[]) => unknown, unknown]>([
    [
      'sources in the target repository: no buildx push, every tag by PUT',
      { content: { 'r.io/app': [C1, C2] } },
      same,
      (r) => [r.ok, buildxPushes(r), byPut(r).length, how(r)],
      [true, 0, 3, { 'r.io/app': 'sources' }],
    ],
    [
      'sources elsewhere, their manifests in the target already: no buildx push (found by HEAD)',
      { content: { 'r.io/src': [C1, C2], 'r.io/app': [C1, C2] } },
      other,
      (r) => [r.ok, buildxPushes(r), byPut(r).length, how(r)],
      [true, 0, 2, { 'r.io/app': 'found' }],
    ],
    [
      'sources by tag elsewhere: their repository is not read, buildx starts alongside the --dry-run',
      { content: { 'r.io/src': [C1, C2], 'r.io/app': [C1, C2] } },
      { sources: 'r.io/src:amd64\nr.io/src:arm64', tags: other.tags },
      (r, log) => [r.ok, log, how(r)],
      [true, ['buildx r.io/app:1 from r.io/src:arm64', 'PUT r.io/app:2'], { 'r.io/app': 'buildx' }],
    ],
    [
      'sources elsewhere, the target lacks them: one buildx push, then PUT',
      { content: { 'r.io/src': [C1, C2] } },
      other,
      (r, log) => [r.ok, log, how(r)],
      [true, [`buildx r.io/app:1 from r.io/src@${C2}`, 'PUT r.io/app:2'], { 'r.io/app': 'buildx' }],
    ],
    [
      'a push that moved the content, then failed: completed by PUT, one buildx push, recovered',
      { content: { 'r.io/src': [C1, C2] }, pushes: ['copy-then-400'] },
      other,
      (r) => [r.ok, r.recovered, buildxPushes(r), byPut(r), how(r)],
      [true, true, 1, ['r.io/app:1', 'r.io/app:2'], { 'r.io/app': 'after-failure' }],
    ],
    [
      'a push that moved the content, then hung: completed by PUT',
      { content: { 'r.io/src': [C1, C2] }, pushes: ['copy-then-hang'] },
      other,
      (r) => [r.ok, r.recovered, buildxPushes(r), how(r)],
      [true, true, 1, { 'r.io/app': 'after-failure' }],
    ],
    [
      'a crash before anything moved: buildx again',
      { content: { 'r.io/src': [C1, C2] }, pushes: ['crash', 'pass'] },
      other,
      (r) => [r.ok, r.recovered, buildxPushes(r), how(r)],
      [true, true, 2, { 'r.io/app': 'buildx' }],
    ],
    [
      'two repositories, one holding the content: PUT there, one buildx copy into the other from it',
      { content: { 'r.io/app': [C1, C2] } },
      { sources: same.sources, tags: 'r.io/app:1\nr.io/mirror:1\nr.io/mirror:2' },
      (r, log) => [r.ok, log, how(r)],
      [
        true,
        ['PUT r.io/app:1', `buildx r.io/mirror:1 from r.io/app@${DIGEST}`, 'PUT r.io/mirror:2'],
        { 'r.io/app': 'sources', 'r.io/mirror': 'buildx' },
      ],
    ],
    [
      'the registry refuses the PUT (405): buildx pushes the tags, with the warning',
      { content: { 'r.io/app': [C1, C2] }, putStatus: 405 },
      same,
      (r) => [r.ok, buildxPushes(r), byPut(r), r.warning?.startsWith('The registry refused a manifest PUT')],
      [true, 3, [], true],
    ],
    [
      'tag-method: buildx: buildx for every tag, as before',
      { content: { 'r.io/app': [C1, C2] } },
      { ...same, 'tag-method': 'buildx' },
      (r) => [r.ok, buildxPushes(r), byPut(r), r.repositories],
      [true, 3, [], undefined],
    ],
  ])('%s', async (_name, world, inputs, pick, want) => {
    const { r, log } = await merge(world, inputs);
    expect(pick(r, log)).toEqual(want);
  });

  it('a tag written by PUT is read back as soon as it is written, and not again', async () => {
    const { r, reads } = await merge({ content: { 'r.io/app': [C1, C2] } }, same);
    expect(r.tags.every((t) => t.verified)).toBe(true);
    // once before the run (what it held), once after its PUT
    expect(Object.fromEntries(reads)).toEqual({ 'r.io/app:1': 2, 'r.io/app:2': 2, 'r.io/app:3': 2 });
  });

  it('verify: false reads nothing after the PUTs', async () => {
    const { r, reads } = await merge({ content: { 'r.io/app': [C1, C2] } }, { ...same, verify: 'false' });
    expect([r.ok, Object.fromEntries(reads)]).toEqual([
      true,
      { 'r.io/app:1': 1, 'r.io/app:2': 1, 'r.io/app:3': 1 },
    ]);
  });
});
