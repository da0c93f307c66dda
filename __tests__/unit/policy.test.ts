import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { parseBuildxSpec, sourceOf } from '../../src/buildx/spec.js';
import type { Advisory } from '../../src/policy/advisories.js';
import {
  advisoriesFor,
  advisoryForFailure,
  describeKnownFailure,
  lowestUnflagged,
} from '../../src/policy/advisories.js';
import {
  allowedRelease,
  blocking,
  checkActual,
  checkSpec,
  checkVersion,
  pinOf,
  versionCanStop,
} from '../../src/policy/evaluate.js';
import {
  DEFAULT_POLICY,
  loadPolicy,
  normaliseRepo,
  parsePolicy,
  type Policy,
  PolicyError,
} from '../../src/inputs/policy-file.js';

const adv = (
  id: string,
  affected: string,
  fixed: string | null,
  signature: string | null,
  severity = 'crash',
): Advisory => ({
  id,
  issue: `docker/buildx#${id}`,
  url: `https://github.com/docker/buildx/issues/${id}`,
  affected,
  fixed,
  summary: `problem ${id}`,
  short: `problem ${id}`,
  signature,
  class: 'panic',
  retryHelps: true,
  severity,
  verified: true,
  sources: ['test'],
});
const DB = [
  adv('2229', '>=0.9.0-0 <0.13.0', '0.13.0', 'concurrent map writes'),
  adv('3503', '>=0.30.0-rc1 <0.30.1', '0.30.1', 'concurrent map writes'),
  adv('3708', '>=0.31.1', null, 'not found', 'flaky'),
];

const policy = (yaml: string): Policy => parsePolicy(yaml, '.github/buildx-policy.yml');

describe('parsePolicy', () => {
  it('reads every key', () => {
    expect(
      policy(`mode: warn
buildx:
  versions: ">=0.30.1"
  deny: ["0.31.1", "<0.13.0"]
  pin: exact
  sources: [release, git]
  git-repos: ["github.com/docker/buildx", "https://github.com/jedevc/buildx.git"]
  checksum: required
  advisories: enforce
  signature: required
`),
    ).toEqual({
      mode: 'warn',
      versions: '>=0.30.1',
      deny: ['0.31.1', '<0.13.0'],
      pin: 'exact',
      sources: ['release', 'git'],
      gitRepos: ['github.com/docker/buildx', 'github.com/jedevc/buildx'],
      checksum: 'required',
      advisories: 'enforce',
      signature: 'required',
      origin: '.github/buildx-policy.yml',
    });
  });
  it('defaults: a policy enforces; pin any, checksum optional, advisories warn, signature optional', () => {
    expect(policy('buildx: {}')).toMatchObject({
      mode: 'enforce',
      pin: 'any',
      checksum: 'optional',
      advisories: 'warn',
      signature: 'optional',
      deny: [],
    });
  });
  it('reads JSON too', () => {
    expect(policy('{"mode": "enforce", "buildx": {"versions": "^0.36"}}').versions).toBe('^0.36');
  });
  it.each([
    [
      'mode: enforce\nbuildx:\n  version: ">=0.30"\n',
      3,
      /unknown key "buildx\.version" \(expected versions, deny/,
    ],
    ['modes: warn\n', 1, /unknown key "modes"/],
    ['mode: strict\n', 1, /mode must be one of enforce, warn, not "strict"/],
    ['buildx:\n  versions: 0.30\n', 2, /buildx\.versions must be a string/],
    ['buildx:\n  versions: "newest"\n', 2, /"newest" is not a semver range/],
    [
      'buildx:\n  deny:\n    - "0.31.1"\n    - "soon"\n',
      4,
      /buildx\.deny "soon" is not a version or semver range/,
    ],
    [
      'buildx:\n  sources: [release, ftp]\n',
      2,
      /buildx\.sources: "ftp" is not one of runner, release, git, url, path/,
    ],
    ['buildx:\n  pin: loose\n', 2, /buildx\.pin must be one of exact, range, any/],
    ['buildx:\n  checksum: yes\n', 2, /buildx\.checksum must be one of required, optional, not "yes"/],
    ['buildx:\n  checksum: true\n', 2, /buildx\.checksum must be a string/],
    ['buildx:\n  advisories: error\n', 2, /advisories must be one of enforce, warn, off/],
    ['buildx:\n  signature: yes\n', 2, /buildx\.signature must be one of required, optional, off/],
    ['buildx: [a]\n', 1, /buildx must be a mapping/],
    ['- a\n- b\n', 1, /expected a mapping/],
    ['mode: enforce\nmode: warn\n', 2, /not valid YAML or JSON/],
    ['buildx:\n  versions: ">=0.30\n', undefined, /not valid YAML or JSON/],
  ])('%j is refused at line %s', (yaml, line, message) => {
    let err: unknown;
    try {
      policy(yaml);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PolicyError);
    expect((err as PolicyError).message).toMatch(message);
    expect((err as PolicyError).message).toMatch(/^Input "policy": \.github\/buildx-policy\.yml/);
    if (line !== undefined) expect((err as PolicyError).line).toBe(line);
  });
  it('loads a file relative to the workspace, or inline YAML, or nothing', () => {
    const ws = mkdtempSync(join(tmpdir(), 'ws-'));
    mkdirSync(join(ws, '.github'));
    writeFileSync(join(ws, '.github', 'p.yml'), 'buildx:\n  pin: exact\n');
    expect(loadPolicy('.github/p.yml', ws)).toMatchObject({ pin: 'exact', origin: '.github/p.yml' });
    expect(loadPolicy('mode: warn\nbuildx:\n  pin: range', ws)).toMatchObject({
      mode: 'warn',
      pin: 'range',
      origin: 'policy (inline)',
    });
    expect(loadPolicy('', ws)).toBe(DEFAULT_POLICY);
    expect(() => loadPolicy('.github/missing.yml', ws)).toThrow(
      /\.github\/missing\.yml: cannot read the policy file \(ENOENT\)/,
    );
  });
  it.each([
    ['https://github.com/Docker/buildx.git', 'github.com/docker/buildx'],
    ['git@github.com:jedevc/buildx.git', 'github.com/jedevc/buildx'],
    ['github.com/docker/buildx/', 'github.com/docker/buildx'],
    ['ssh://git@ghe.example.com/org/buildx.git#main', 'ghe.example.com/org/buildx'],
  ])('normaliseRepo %s', (url, repo) => expect(normaliseRepo(url)).toBe(repo));
});

describe('checkSpec: before anything is downloaded', () => {
  const rules = (yaml: string, spec: string, checksum = false) =>
    checkSpec(policy(yaml), parseBuildxSpec(spec), checksum, DB).map((f) => `${f.severity} ${f.rule}`);
  it.each([
    // pin
    ['buildx: {pin: exact}', 'latest', false, ['error pin']],
    ['buildx: {pin: exact}', '^0.36', false, ['error pin']],
    ['buildx: {pin: exact}', '', false, ['error pin']],
    ['buildx: {pin: exact}', 'v0.29.1', false, []],
    ['buildx: {pin: exact}', 'v0.36.1', false, []], // a flaky advisory does not flag a version
    ['buildx: {pin: exact}', `https://github.com/o/buildx.git#${'a'.repeat(40)}`, false, []],
    ['buildx: {pin: exact}', 'https://github.com/o/buildx.git#main', false, ['error pin']],
    ['buildx: {pin: exact}', 'https://example.com/buildx', true, []],
    ['buildx: {pin: exact}', 'https://example.com/buildx', false, ['error pin']],
    ['buildx: {pin: range}', '^0.36', false, []],
    ['buildx: {pin: range}', 'latest', false, ['error pin']],
    ['buildx: {pin: range}', '', false, ['error pin']],
    ['buildx: {pin: any}', 'latest', false, []],
    // sources and repositories
    ['buildx: {sources: [release]}', 'https://github.com/o/buildx.git#main', false, ['error sources']],
    ['buildx: {sources: [release]}', '', false, ['error sources']],
    ['buildx: {sources: [runner, release]}', '', false, []],
    [
      'buildx: {git-repos: [github.com/docker/buildx]}',
      'https://github.com/jedevc/buildx.git#fix',
      false,
      ['error git-repos'],
    ],
    ['buildx: {git-repos: [github.com/docker/buildx]}', 'git@github.com:docker/buildx.git#fix', false, []],
    // checksums
    ['buildx: {checksum: required}', 'https://example.com/buildx', false, ['error checksum']],
    ['buildx: {checksum: required}', 'https://example.com/buildx', true, []],
    // signatures: required refuses what no Sigstore bundle can prove
    ['buildx: {signature: required}', 'v0.29.1', false, ['error signature']],
    ['buildx: {signature: required}', 'v0.31.0', false, []],
    ['buildx: {signature: required}', '^0.36', false, []],
    ['buildx: {signature: required}', 'latest', false, []],
    ['buildx: {signature: required}', '', false, ['error signature']],
    ['buildx: {signature: required}', 'https://example.com/buildx', true, ['error signature']],
    [
      'buildx: {signature: required}',
      `https://github.com/o/buildx.git#${'a'.repeat(40)}`,
      false,
      ['error signature'],
    ],
    ['buildx: {signature: required}', './bin/buildx', false, ['error signature']],
    ['buildx: {signature: optional}', 'v0.29.1', false, []],
    ['buildx: {signature: off}', '', false, []],
    // explicit versions
    ['buildx: {versions: ">=0.30.1"}', 'v0.29.1', false, ['error versions']],
    ['buildx: {versions: ">=0.30.1"}', 'v0.30.1', false, []],
    ['buildx: {deny: ["0.31.1", "<0.13.0"]}', '0.31.1', false, ['error deny']],
    ['buildx: {deny: ["0.31.1", "<0.13.0"]}', 'v0.12.1', false, ['error deny', 'warning advisory']],
    // advisories: warn by default, enforce, off; pre-releases
    ['buildx: {}', 'v0.30.0', false, ['warning advisory']],
    ['buildx: {advisories: enforce}', 'v0.30.0', false, ['error advisory']],
    ['buildx: {advisories: enforce}', 'v0.30.0-rc1', false, ['error advisory']],
    ['buildx: {advisories: enforce}', 'v0.30.1', false, []],
    ['buildx: {advisories: off}', 'v0.30.0', false, []],
    // warn mode: the same findings, as warnings
    [
      'mode: warn\nbuildx: {pin: exact, versions: ">=0.31"}',
      'v0.30.0',
      false,
      ['warning versions', 'warning advisory'],
    ],
  ])('%s with %j (checksum %s)', (yaml, spec, checksum, expected) => {
    expect(rules(yaml, spec, checksum)).toEqual(expected);
  });
  it('names the policy file and what to do', () => {
    const [f] = checkSpec(policy('buildx: {pin: exact}'), parseBuildxSpec('latest'), false, DB);
    expect(f?.message).toMatch(/pin: exact in \.github\/buildx-policy\.yml.*give a release like v0\.36\.1/);
    expect(f?.input).toBe('buildx-version');
    expect(blocking([f!])).toBe(true);
  });
});

describe('resolution and what actually runs', () => {
  it('a range skips known-bad and denied releases', () => {
    const allowed = allowedRelease(policy('buildx: {deny: ["0.31.1"]}'), DB);
    expect(['v0.30.0', 'v0.30.0-rc2', 'v0.30.1', 'v0.31.1', 'v0.36.1', 'v0.12.1'].filter(allowed)).toEqual([
      'v0.30.1',
      'v0.36.1',
    ]);
    expect(allowedRelease(policy('buildx: {advisories: off}'), DB)('v0.30.0')).toBe(true);
  });
  it('signature: required lets a range pick only signed releases (v0.31.0 on)', () => {
    const allowed = allowedRelease(policy('buildx: {signature: required, advisories: off}'), DB);
    expect(['v0.30.1', 'v0.31.0-rc1', 'v0.31.0', 'v0.36.1'].filter(allowed)).toEqual(['v0.31.0', 'v0.36.1']);
  });
  it('signature: required names what can satisfy it', () => {
    const [f] = checkSpec(policy('buildx: {signature: required}'), parseBuildxSpec('v0.29.1'), false, DB);
    expect(f?.message).toMatch(
      /buildx v0\.29\.1 \(releases are signed from v0\.31\.0 on\) has no Sigstore signature to check \(signature: required in \.github\/buildx-policy\.yml\): use a release from v0\.31\.0 on/,
    );
  });
  it.each([
    ['0.13.1+ds1', 'release', 'buildx: {versions: ">=0.30.1"}', ['error versions']],
    ['v0.30.0', 'runner', 'buildx: {}', ['warning advisory']],
    ['v0.30.0', 'path', 'buildx: {advisories: enforce}', ['error advisory']],
    ['0.30.0+ds1', 'runner', 'buildx: {advisories: enforce}', ['error advisory']],
    ['fix/imagetools-copy', 'git', 'buildx: {versions: ">=0.30.1", advisories: enforce}', []],
  ])('%s from %s under %s', (version, source, yaml, expected) => {
    expect(checkActual(policy(yaml), version, source, DB).map((f) => `${f.severity} ${f.rule}`)).toEqual(
      expected,
    );
  });
  // [policy, buildx-version, what the binary reports, findings at the spec, findings on what runs]
  it.each([
    ['buildx: {}', 'v0.12.1', '0.12.1+ds1', ['warning advisory:2229'], []],
    ['buildx: {}', 'v0.12.1', 'v0.12.1', ['warning advisory:2229'], []],
    ['buildx: {advisories: enforce}', 'v0.30.0', '0.30.0', ['error advisory:3503'], []],
    [
      'mode: warn\nbuildx: {versions: ">=0.30.1", deny: ["<0.13"]}',
      'v0.12.1',
      '0.12.1+ds1',
      ['warning versions', 'warning deny', 'warning advisory:2229'],
      [],
    ],
    // nothing to report at the spec: everything is found on what runs
    ['buildx: {}', '^0.30', '0.30.0', [], ['warning advisory:3503']],
    ['buildx: {}', '', '0.12.1+ds1', [], ['warning advisory:2229']],
    ['buildx: {}', './tools/buildx', 'v0.30.0', [], ['warning advisory:3503']],
    // a binary reporting another version than the spec named (a path install, a wrapper): judged again
    [
      'mode: warn\nbuildx: {versions: ">=0.30.0"}',
      'v0.12.1',
      'v0.30.0',
      ['warning versions', 'warning advisory:2229'],
      ['warning advisory:3503'],
    ],
    [
      'mode: warn\nbuildx: {versions: ">=0.31"}',
      'v0.12.1',
      'v0.30.0',
      ['warning versions', 'warning advisory:2229'],
      ['warning versions', 'warning advisory:3503'],
    ],
  ])('%j with %j reporting %s: each finding once', (yaml, spec, reported, atSpec, atRun) => {
    const p = policy(yaml);
    const show = (fs: { severity: string; rule: string; advisory?: Advisory }[]) =>
      fs.map((f) => `${f.severity} ${f.rule}${f.advisory ? `:${f.advisory.id}` : ''}`);
    const specFindings = checkSpec(p, parseBuildxSpec(spec), false, DB);
    expect(show(specFindings)).toEqual(atSpec);
    const source = sourceOf(parseBuildxSpec(spec));
    expect(show(checkActual(p, reported, source, DB, specFindings))).toEqual(atRun);
  });
  it('the default policy only warns about advisories', () => {
    expect(checkVersion(DEFAULT_POLICY, 'v0.30.0', 'buildx', DB).map((f) => f.severity)).toEqual(['warning']);
  });
  it.each([
    ['v0.13.1', 'exact'],
    ['^0.36', 'range'],
    ['latest', 'floating'],
    ['', 'floating'],
  ])('pinOf %j', (spec, pin) => expect(pinOf(parseBuildxSpec(spec), false)).toBe(pin));
});

describe('versionCanStop: whether the check of what runs must come before the --dry-run', () => {
  const VERSIONS = [
    'v0.12.1',
    '0.13.1+ds1',
    'v0.30.0',
    '0.30.1',
    'v0.31.1',
    '0.40.0',
    'v9.0.0',
    'fix/branch',
  ];
  // [policy, can stop]: when it cannot, no version at all yields a blocking finding
  it.each([
    ['', false],
    ['buildx: {}', false],
    ['mode: warn\nbuildx: {versions: ">=0.31", deny: ["0.30.0"], advisories: warn}', false],
    ['mode: enforce\nbuildx: {pin: exact, sources: [path], checksum: required}', false],
    ['mode: enforce\nbuildx: {advisories: off}', false],
    ['mode: enforce\nbuildx: {versions: ">=0.13"}', true],
    ['mode: enforce\nbuildx: {deny: ["0.30.0"]}', true],
    ['buildx: {advisories: enforce}', true],
    ['mode: warn\nbuildx: {advisories: enforce}', true],
  ])('%j: %s', (yaml, canStop) => {
    const p = yaml === '' ? DEFAULT_POLICY : policy(yaml);
    expect(versionCanStop(p)).toBe(canStop);
    const stops = VERSIONS.filter((v) => blocking(checkActual(p, v, 'path', DB)));
    if (!canStop) expect(stops).toEqual([]);
    else expect(stops.length).toBeGreaterThan(0);
  });
});

describe('advisories', () => {
  it.each([
    ['v0.12.1', ['2229']],
    ['0.12.1', ['2229']],
    ['v0.13.0', []],
    ['v0.30.0-rc1', ['3503']],
    ['0.30.0+ds1', ['3503']],
    ['v0.30.1', []],
    ['v0.31.1', []], // flaky: not flagged before a run
    ['v0.99.0', []],
    ['main', []],
  ])('%s', (version, ids) => {
    expect(advisoriesFor(version, DB).map((a) => a.id)).toEqual(ids);
  });
  it('names a run-time crash of a known-bad version', () => {
    const a = advisoryForFailure('v0.30.0', 'concurrent map writes', DB);
    expect(a?.id).toBe('3503');
    expect(describeKnownFailure('0.30.0', a!)).toBe(
      'buildx 0.30.0 is known to crash this way: docker/buildx#3503, fixed in 0.30.1',
    );
    expect(advisoryForFailure('v0.30.1', 'concurrent map writes', DB)).toBeUndefined();
    expect(advisoryForFailure('v0.30.0', '503 Service Unavailable', DB)).toBeUndefined();
    // a flaky advisory is named when a run fails its way
    expect(advisoryForFailure('v0.31.1', 'not found', DB)?.id).toBe('3708');
  });
});

describe('lowestUnflagged: the release to advise, at or above the highest fix', () => {
  const db = [
    adv('2229', '>=0.9.0-0 <0.13.0', '0.13.0', null),
    adv('2232', '>=0.10.0-0 <0.20.0', '0.20.0', null),
    adv('3503', '>=0.30.0-rc1 <0.30.1', '0.30.1', null),
    adv('3722', '<0.33.0-rc1', '0.33.0', null, 'flaky'),
    adv('3708', '>=0.31.1', null, null, 'flaky'),
  ];
  const releases = ['v0.34.0', 'v0.33.0', 'v0.31.1', 'v0.31.0', 'v0.31.0-rc1', 'v0.30.1', 'v0.30.0'];
  const older = ['v0.20.0', 'v0.20.0-rc1', 'v0.13.0', 'v0.12.1'];
  it.each<[string, string, string[], string[], string | undefined]>([
    ['the floor itself, when unflagged', '0.30.1', releases, [], '0.30.1'],
    ['a floor given as a tag', 'v0.30.1', releases, [], '0.30.1'],
    ['a flagged floor moves up to the next unflagged', '0.13.0', [...releases, ...older], [], '0.20.0'],
    ['a floor not in the list: the next release up', '0.29.1', releases, [], '0.30.1'],
    ['a flagged release above the floor is passed over', '0.29.1', ['v0.30.0', 'v0.31.0'], [], '0.31.0'],
    ['pre-releases skipped', '0.30.1', ['v0.31.0-rc1', 'v0.30.0', 'v0.31.0'], [], '0.31.0'],
    ['any order, unreadable tags ignored', '0.13.0', ['latest', 'v0.33.0', 'v0.20.0', 'main'], [], '0.20.0'],
    ['a flaky advisory not in play is not avoided', '0.31.1', releases, [], '0.31.1'],
    ['a flaky advisory in play is still avoided', '0.30.1', releases, ['docker/buildx#3722'], '0.33.0'],
    [
      'an unfixed flaky advisory in play: nothing left',
      '0.31.1',
      releases,
      ['docker/buildx#3708'],
      undefined,
    ],
    ['nothing at or above the floor', '0.35.0', releases, [], undefined],
    ['only flagged releases at or above the floor', '0.30.0', ['v0.30.0', 'v0.12.1'], [], undefined],
    ['an empty list', '0.13.0', [], [], undefined],
    ['an unreadable floor', 'main', releases, [], undefined],
  ])('%s', (_name, atLeast, list, avoid, expected) => {
    expect(lowestUnflagged(atLeast, list, db, avoid)).toBe(expected);
  });
});
