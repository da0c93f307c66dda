import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { annotationLine, parseAnnotations } from '../../src/inputs/annotations.js';
import { readAnnotate, readInputs } from '../../src/inputs/inputs.js';
import { InputError } from '../../src/util/parse.js';

const H = 'a'.repeat(64);
const H2 = 'b'.repeat(64);
const BASE = { sources: 'r:5000/src/app:amd64\nr:5000/src/app:arm64', tags: 'r:5000/dst/app:v1' };
const read = (inputs: Record<string, string>, workspace?: string) =>
  readInputs((name) => ({ ...BASE, ...inputs })[name as keyof typeof BASE] ?? '', workspace);

describe('readInputs: defaults', () => {
  it('gives the documented defaults', () => {
    const i = read({});
    expect(i).toMatchObject({
      sources: ['r:5000/src/app:amd64', 'r:5000/src/app:arm64'],
      annotations: [],
      append: false,
      dryRun: false,
      tagsPerBuildx: 1,
      maxAttempts: 5,
      retryDelayMs: 2000,
      retryMaxDelayMs: 60_000,
      attemptTimeoutMs: 900_000,
      idleTimeoutMs: 300_000,
      lagTimeoutMs: 30_000,
      verify: true,
    });
    expect([...i.retryOn]).toEqual(['panic', 'transient', 'timeout']);
    expect(i.tags.map((t) => t.original)).toEqual(['r:5000/dst/app:v1']);
  });
  it('takes docker/metadata-action outputs as they come', () => {
    const i = read({
      tags: 'ghcr.io/o/app:1.2.3\nghcr.io/o/app:1.2\nghcr.io/o/app:latest\n',
      annotations:
        'index:org.opencontainers.image.description=fast, small, safe\nindex:org.opencontainers.image.version=1.2.3',
    });
    expect(i.tags.map((t) => t.tag)).toEqual(['1.2.3', '1.2', 'latest']);
    expect(i.annotations).toEqual([
      'index:org.opencontainers.image.description=fast, small, safe',
      'index:org.opencontainers.image.version=1.2.3',
    ]);
  });
  it('retry-on any means every class but permanent', () => {
    expect([...read({ 'retry-on': 'any' }).retryOn].sort()).toEqual([
      'panic',
      'timeout',
      'transient',
      'unknown',
    ]);
    expect([...read({ 'retry-on': 'none' }).retryOn]).toEqual([]);
  });
  it('dry-run needs no tags', () => {
    expect(read({ tags: '', 'dry-run': 'true' }).tags).toEqual([]);
  });
});

describe('readInputs: digests-dir', () => {
  it('makes image@sha256:<file> of every digest file, sorted', () => {
    const dir = mkdtempSync(join(tmpdir(), 'digests-'));
    writeFileSync(join(dir, H2), '');
    writeFileSync(join(dir, H), '');
    const i = read({ sources: '', 'digests-dir': dir, 'digests-repository': 'ghcr.io/o/app' });
    expect(i.sources).toEqual([`ghcr.io/o/app@sha256:${H}`, `ghcr.io/o/app@sha256:${H2}`]);
  });
  it('resolves a relative folder in the workspace', () => {
    const ws = mkdtempSync(join(tmpdir(), 'ws-'));
    mkdirSync(join(ws, 'digests'));
    writeFileSync(join(ws, 'digests', H), '');
    expect(
      read({ sources: '', 'digests-dir': 'digests', 'digests-repository': 'ghcr.io/o/app' }, ws).sources,
    ).toHaveLength(1);
  });
});

describe('readInputs refuses bad input, naming it, before anything runs', () => {
  const emptyDir = mkdtempSync(join(tmpdir(), 'empty-'));
  const badDir = mkdtempSync(join(tmpdir(), 'bad-'));
  writeFileSync(join(badDir, 'not-a-digest'), '');
  it.each([
    [{ sources: '' }, 'sources', /no source images/],
    [{ sources: 'r/app:$(touch /tmp/pwned)' }, 'sources', /not a valid image reference/],
    [{ sources: 'r/app:v1;id' }, 'sources', /not a valid image reference/],
    [{ sources: 'r/app:`id`' }, 'sources', /not a valid image reference/],
    [{ sources: '--output=x' }, 'sources', /not a valid image reference/],
    [{ sources: 'r/app|sh' }, 'sources', /not a valid image reference/],
    [{ sources: `sha256:${H}` }, 'sources', /bare digests need/],
    [{ tags: '' }, 'tags', /at least one target tag/],
    [{ tags: 'r/app:v1 && curl evil' }, 'tags', /not a valid image reference/],
    [{ tags: 'r/App:v1' }, 'tags', /lower-case/],
    [{ tags: `r/app@sha256:${H}` }, 'tags', /cannot hold a digest/],
    [{ tags: 'r/app:v1,r/app:v1' }, 'tags', /listed twice/],
    [{ 'max-attempts': '0' }, 'max-attempts', /from 1 to 20, got 0/],
    [{ 'tags-per-buildx': '-1' }, 'tags-per-buildx', /from 1 to 100/],
    [{ 'tags-per-buildx': 'lots' }, 'tags-per-buildx', /whole number/],
    [{ 'retry-delay': 'soon' }, 'retry-delay', /duration/],
    [{ 'retry-delay': '10s', 'retry-max-delay': '5s' }, 'retry-max-delay', /not be shorter than retry-delay/],
    [{ 'buildx-timeout': '0' }, 'buildx-timeout', /from 1s/],
    [{ 'buildx-idle-timeout': '5 min' }, 'buildx-idle-timeout', /duration/],
    [{ 'lag-timeout': 'a bit' }, 'lag-timeout', /expected a duration such as/],
    [{ 'lag-timeout': '2h' }, 'lag-timeout', /from 0ms to 1h/],
    [{ 'retry-on': 'permanent' }, 'retry-on', /never retried/],
    [{ 'retry-on': 'panics' }, 'retry-on', /unknown class "panics"/],
    [{ verify: 'sure' }, 'verify', /true or false/],
    [{ 'dry-run': 'y' }, 'dry-run', /true or false/],
    [{ annotations: 'no equals sign' }, 'annotations', /not an annotation/],
    [{ 'digests-dir': '/d' }, 'digests-repository', /required with digests-dir/],
    [{ 'digests-repository': 'ghcr.io/o/app' }, 'digests-dir', /required with digests-repository/],
    [
      { 'digests-dir': '/does/not/exist', 'digests-repository': 'ghcr.io/o/app' },
      'digests-dir',
      /cannot read the folder/,
    ],
    [
      { 'digests-dir': emptyDir, 'digests-repository': 'ghcr.io/o/app' },
      'digests-dir',
      /holds no digest files/,
    ],
    [
      { 'digests-dir': badDir, 'digests-repository': 'ghcr.io/o/app' },
      'digests-dir',
      /not a digest file name/,
    ],
    [
      { 'digests-dir': badDir, 'digests-repository': 'ghcr.io/o/app:v1' },
      'digests-repository',
      /without a tag or digest/,
    ],
    [{ append: 'true', tags: '', 'dry-run': 'true' }, 'append', /needs a tag/],
    [{ 'buildx-version': '/x\n/y' }, 'buildx-version', /single line/],
  ] as [Record<string, string>, string, RegExp][])('%j -> %s', (inputs, name, message) => {
    let err: unknown;
    try {
      read(inputs);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).input).toBe(name);
    expect((err as InputError).message).toMatch(new RegExp(`^Input "${name}": `));
    expect((err as InputError).message).toMatch(message);
  });
  it('shows control characters escaped in the message', () => {
    expect(() => read({ sources: 'r/app:v1\u001b[31m' })).toThrow(/\\u001b/);
  });
});

// docker/metadata-action's annotations output: `<level>:<key>=<value>`, one line per level
// (DOCKER_METADATA_ANNOTATIONS_LEVELS, default `manifest`) and key, keys sorted.
const meta = (level: string) => [
  `${level}:org.opencontainers.image.created=2020-01-10T00:30:00.000Z`,
  `${level}:org.opencontainers.image.description=This your first repo!`,
  `${level}:org.opencontainers.image.licenses=`,
  `${level}:org.opencontainers.image.title=Hello-World`,
];

describe('annotationLine: the levels buildx imagetools create writes', () => {
  it.each([
    // taken as given
    [
      'index:org.opencontainers.image.title=Hello-World',
      ['index:org.opencontainers.image.title=Hello-World'],
    ],
    ['index:org.opencontainers.image.licenses=', ['index:org.opencontainers.image.licenses=']],
    ['index:a=b=c, d', ['index:a=b=c, d']],
    ['index:a:b=c', ['index:a:b=c']],
    ['manifest-descriptor:a=b', ['manifest-descriptor:a=b']],
    ['manifest-descriptor[linux/amd64]:a=b', ['manifest-descriptor[linux/amd64]:a=b']],
    ['manifest-descriptor[linux/arm/v7]:a=b', ['manifest-descriptor[linux/arm/v7]:a=b']],
    ['index[linux/amd64]:a=b', ['index[linux/amd64]:a=b']],
    // several levels: one line each (buildx before 0.16 reads `index,manifest-descriptor:` as no level)
    ['index,manifest-descriptor:a=b', ['index:a=b', 'manifest-descriptor:a=b']],
    ['index,manifest-descriptor[linux/amd64]:a=b', ['index:a=b', 'manifest-descriptor[linux/amd64]:a=b']],
    // manifest: left out, counted
    ['manifest:a=b', [], 1],
    ['manifest[linux/amd64]:a=b', [], 1],
    ['manifest,index:a=b', ['index:a=b'], 1],
  ] as [string, string[], number?][])('%j -> %j', (line, keep, manifest = 0) => {
    expect(annotationLine(line)).toEqual({ keep, manifest });
  });
  it.each([
    [
      'org.opencontainers.image.title=Hello-World',
      /has no level: write index:org\.opencontainers\.image\.title=Hello-World/,
    ],
    ['index-descriptor:a=b', /index-descriptor annotations .*use index: instead/],
    ['index,index-descriptor:a=b', /index-descriptor annotations/],
    ['INDEX:a=b', /"INDEX" is not a level/],
    ['bogus:a=b', /"bogus" is not a level/],
    [
      'manifest-descriptor[linux/amd64,linux/arm64]:a=b',
      /"manifest-descriptor\[linux\/amd64" is not a level/,
    ],
    ['manifest-descriptor[]:a=b', /is not a level/],
    ['index:a', /is not an annotation/],
    ['index:=b', /has no key/],
    ['index:a b=c', /has no key, or a key with spaces/],
    ['index:a=b\u001b[31m', /is not an annotation/],
  ])('refuses %j', (line, why) => {
    const v = annotationLine(line);
    expect('refused' in v && v.refused).toMatch(why);
  });
});

describe('parseAnnotations: the whole input', () => {
  it.each([
    ['index only', meta('index'), meta('index'), undefined],
    [
      'index,manifest-descriptor',
      [...meta('index'), ...meta('manifest-descriptor')],
      [...meta('index'), ...meta('manifest-descriptor')],
      undefined,
    ],
    [
      'manifest,index: the manifest: lines skipped, with a notice',
      [...meta('manifest'), ...meta('index')],
      meta('index'),
      'Skipped 4 manifest: annotations (buildx imagetools create cannot change the platform manifests; the build step annotates those) and wrote the other 4.',
    ],
    ['nothing', [], [], undefined],
  ] as [string, string[], string[], string?][])('%s', (_name, lines, annotations, notice) => {
    expect(parseAnnotations(lines)).toEqual(notice ? { annotations, notice } : { annotations });
  });
  it.each([
    [
      "metadata-action's default (manifest only)",
      meta('manifest'),
      /^Input "annotations": all 4 lines are manifest: annotations \(such as "manifest:org\.opencontainers\.image\.created=2020-01-10T00:30:00\.000Z"\), which buildx imagetools create cannot write: .*set DOCKER_METADATA_ANNOTATIONS_LEVELS: index in the env of its step/,
    ],
    ['one manifest: line', ['manifest:a=b'], /the only line is a manifest: annotation/],
    [
      'each refused line named, then what is taken',
      ['index:a=b', 'c=d', 'index-descriptor:e=f'],
      /^Input "annotations": "c=d" has no level: .*; "index-descriptor:e=f": index-descriptor .*\. buildx imagetools create writes index: and manifest-descriptor: annotations/,
    ],
    [
      'at most five named',
      ['a=1', 'b=1', 'c=1', 'd=1', 'e=1', 'f=1', 'g=1'],
      /"e=1" has no level.*; and 2 more\./,
    ],
  ])('refuses %s', (_name, lines, message) => {
    expect(() => parseAnnotations(lines)).toThrow(InputError);
    expect(() => parseAnnotations(lines)).toThrow(message);
  });
  it('readInputs refuses a refused line before anything runs, naming the annotations input', () => {
    expect(() => read({ annotations: meta('manifest').join('\n') })).toThrow(
      /^Input "annotations": all 4 lines are manifest: annotations/,
    );
    expect(read({ annotations: [...meta('manifest'), ...meta('index')].join('\n') })).toMatchObject({
      annotations: meta('index'),
      annotationsNotice: expect.stringMatching(/^Skipped 4 manifest: annotations/),
    });
  });
});

describe('readAnnotate: the one reading of the annotate input', () => {
  const get = (value: string) => (name: string) => (name === 'workflow-annotations' ? value : '');
  it.each([
    ['', true],
    ['true', true],
    [' Yes ', true],
    ['false', false],
    ['OFF', false],
    ['0', false],
  ])('"%s" -> %s, strict or lenient', (value, expected) => {
    expect(readAnnotate(get(value))).toBe(expected);
    expect(readAnnotate(get(value), true)).toBe(expected);
  });
  it.each(['maybe', 'flase'])('"%s": refused by readInputs, true for the step that reports it', (value) => {
    expect(() => read({ 'workflow-annotations': value })).toThrow(
      new InputError('workflow-annotations', `expected true or false, got "${value}"`),
    );
    expect(readAnnotate(get(value), true)).toBe(true);
  });
});
