// The command line's options: parseCommandLine over argv and the environment (buildx's flags, the
// action's inputs as flags and SAFE_IMAGETOOLS_* variables, bad usage), errors worded for their
// door, the metadata file and the tool cache; and the two entry points building the same inputs
// from the same values (the runner's INPUT_* read by @actions/core, and the command's flags).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import * as core from '@actions/core';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

import {
  ACTION_INPUTS,
  type CommandLine,
  envName,
  parseCommandLine,
  UsageError,
  wordedFor,
} from '../../src/inputs/command-line.js';
import { readInputs } from '../../src/inputs/inputs.js';
import { metadataOf, toolCacheDir } from '../../src/report/command-line.js';

const root = join(import.meta.dirname, '..', '..');
const action = parse(readFileSync(join(root, 'action.yml'), 'utf8')) as {
  inputs: Record<string, { default?: string }>;
};
const create = (argv: string[], env: Record<string, string> = {}) =>
  parseCommandLine(['create', ...argv], env) as CommandLine;

describe('ACTION_INPUTS', () => {
  it("is action.yml's inputs, in order", () =>
    expect([...ACTION_INPUTS]).toEqual(Object.keys(action.inputs)));
  it.each([
    ['max-attempts', 'SAFE_IMAGETOOLS_MAX_ATTEMPTS'],
    ['buildx-version', 'SAFE_IMAGETOOLS_BUILDX_VERSION'],
    ['dry-run', 'SAFE_IMAGETOOLS_DRY_RUN'],
  ])('%s is given as %s', (input, name) => expect(envName(input)).toBe(name));
});

describe('parseCommandLine', () => {
  it.each([
    // buildx's own flags
    [['-t', 'r/a:1', '--tag', 'r/a:2', 's1', 's2'], {}, { tags: 'r/a:1\nr/a:2', sources: 's1\ns2' }],
    [['--tag=r/a:1', 's1'], {}, { tags: 'r/a:1', sources: 's1' }],
    [
      ['--annotation', 'index:a=b', '--annotation=index:c=d', '-t', 't', 's'],
      {},
      { annotations: 'index:a=b\nindex:c=d', tags: 't', sources: 's' },
    ],
    [['--append', '--dry-run', 's'], {}, { append: 'true', 'dry-run': 'true', sources: 's' }],
    [['--progress', 'plain', '-t', 't', 's'], {}, { tags: 't', sources: 's' }],
    [['-t', 't', '--', '-odd-source'], {}, { tags: 't', sources: '-odd-source' }],
    // the action's inputs, as flags
    [
      ['--max-attempts', '3', '--buildx-version=v0.36.1', 's'],
      {},
      { 'max-attempts': '3', 'buildx-version': 'v0.36.1', sources: 's' },
    ],
    [
      ['--verify=false', '--install-plugin', 's'],
      {},
      { verify: 'false', 'install-plugin': 'true', sources: 's' },
    ],
    [['--tags', 'a', '-t', 'b', '--sources', 'x', 'y'], {}, { tags: 'a\nb', sources: 'x\ny' }],
    // and as variables; a flag wins
    [
      ['s'],
      { SAFE_IMAGETOOLS_MAX_ATTEMPTS: '2', SAFE_IMAGETOOLS_TAGS: 'r/a:1' },
      { 'max-attempts': '2', tags: 'r/a:1', sources: 's' },
    ],
    [
      ['--max-attempts', '4', 's'],
      { SAFE_IMAGETOOLS_MAX_ATTEMPTS: '2' },
      { 'max-attempts': '4', sources: 's' },
    ],
    [
      ['s'],
      { SAFE_IMAGETOOLS_MAX_ATTEMPTS: '', SAFE_IMAGETOOLS_WORKFLOW_ANNOTATIONS: 'true' },
      { sources: 's' },
    ],
  ])('%j with %j', (argv, env, values) => {
    expect(create(argv, env).values).toEqual(values);
  });
  it('says where each value came from', () => {
    const cl = create(['--max-attempts', '4', '-t', 't', 's'], { SAFE_IMAGETOOLS_RETRY_ON: 'none' });
    expect(cl.from).toEqual({
      'max-attempts': '--max-attempts',
      tags: '--tag',
      sources: 'SOURCE',
      'retry-on': 'SAFE_IMAGETOOLS_RETRY_ON',
    });
  });
  it('reads the files asked for', () => {
    expect(create(['--metadata-file', 'm.json', '--summary-file=s.md', 's'])).toMatchObject({
      metadataFile: 'm.json',
      summaryFile: 's.md',
    });
  });
  it.each([
    [[], 'help'],
    [['--help'], 'help'],
    [['-h'], 'help'],
    [['create', '--help'], 'help'],
    [['--version'], 'version'],
  ])('%j is %s', (argv, kind) => expect(parseCommandLine(argv, {}).kind).toBe(kind));
  it.each([
    [['push'], /unknown command "push"/],
    [['create', '--bogus'], /unknown flag --bogus/],
    [['create', '-f', 'x'], /unknown flag -f/],
    [['create', '--workflow-annotations=false'], /unknown flag --workflow-annotations/],
    [['create', '--max-attempts'], /--max-attempts: expected a value/],
    [['create', '-t', '--dry-run'], /-t: expected a value/],
    [
      ['create', '--progress', 'fancy'],
      /--progress: expected one of auto, plain, tty, quiet, rawjson, got "fancy"/,
    ],
  ])('%j is bad usage', (argv, message) => {
    expect(() => parseCommandLine(argv, {})).toThrow(UsageError);
    expect(() => parseCommandLine(argv, {})).toThrow(message);
  });
});

describe('wordedFor: an input error names the flag or variable it came by', () => {
  const from = { 'max-attempts': '--max-attempts', verify: 'SAFE_IMAGETOOLS_VERIFY', tags: '--tags/--tag' };
  it.each([
    ['Input "max-attempts": expected a whole number', '--max-attempts: expected a whole number'],
    ['Input "verify": expected true or false', 'SAFE_IMAGETOOLS_VERIFY: expected true or false'],
    ['Input "sources": no source images', 'SOURCE: no source images'],
    ['Input "tags": "x" is listed twice', '--tags/--tag: "x" is listed twice'],
    ['Input "retry-delay": bad', '--retry-delay: bad'],
    ['Input "policy": policy (inline), line 1: bad', '--policy: policy (inline), line 1: bad'],
    ['something else', 'something else'],
  ])('%s', (message, worded) => expect(wordedFor(message, from)).toBe(worded));
});

describe('metadataOf and toolCacheDir', () => {
  it.each([
    [
      { digest: 'sha256:ab', result: '{"ok":true}' },
      ['r/a:1', 'r/a:2'],
      {
        'containerimage.digest': 'sha256:ab',
        'image.name': 'r/a:1,r/a:2',
        'safe-imagetools.result': { ok: true },
      },
    ],
    [
      { result: '{"ok":false}' },
      ['r/a:1'],
      { 'image.name': 'r/a:1', 'safe-imagetools.result': { ok: false } },
    ],
    [{ digest: 'sha256:ab', result: 'not json' }, [], { 'containerimage.digest': 'sha256:ab' }],
  ])('%j', (outputs, tags, metadata) => expect(metadataOf(outputs, tags)).toEqual(metadata));
  it.each([
    [{ RUNNER_TOOL_CACHE: '/opt/tc', XDG_CACHE_HOME: '/x' }, '/opt/tc'],
    [{ XDG_CACHE_HOME: '/x' }, '/x/safe-imagetools'],
    [{}, '/home/u/.cache/safe-imagetools'],
  ])('%j', (env, dir) => expect(toolCacheDir(env, '/home/u')).toBe(dir));
});

describe('the two entry points build the same inputs from the same values', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  });
  /** The runner's way: every input in INPUT_*, action.yml's defaults filled in, read by @actions/core. */
  const asRunner = (given: Record<string, string>) => {
    for (const [name, input] of Object.entries(action.inputs)) {
      const value = given[name] ?? (name === 'github-token' ? '' : (input.default ?? ''));
      process.env[`INPUT_${name.toUpperCase()}`] = value;
    }
    return readInputs((name) => core.getInput(name), root);
  };
  const asCommand = (argv: string[], env: Record<string, string> = {}) => {
    const cl = create(argv, env);
    return readInputs((name) => cl.values[name] ?? '', root);
  };
  const plain = (i: object) => JSON.stringify(i, (_, v) => (v instanceof Set ? [...(v as Set<unknown>)] : v));
  it.each([
    [
      { sources: 'r.io/s:amd64\nr.io/s:arm64', tags: 'r.io/a:1\nr.io/a:2' },
      ['-t', 'r.io/a:1', '-t', 'r.io/a:2', 'r.io/s:amd64', 'r.io/s:arm64'],
      {},
    ],
    [
      {
        sources: 'r.io/s:1',
        tags: 'r.io/a:1',
        'max-attempts': '3',
        'retry-on': 'any',
        'lag-timeout': '0',
        verify: 'false',
      },
      [
        '--max-attempts',
        '3',
        '--retry-on=any',
        '--lag-timeout',
        '0',
        '--verify=false',
        '-t',
        'r.io/a:1',
        'r.io/s:1',
      ],
      {},
    ],
    [
      { sources: 'r.io/s:1', 'dry-run': 'true', 'tag-method': 'buildx', 'buildx-version': 'v0.36.1' },
      ['--dry-run', 'r.io/s:1'],
      { SAFE_IMAGETOOLS_TAG_METHOD: 'buildx', SAFE_IMAGETOOLS_BUILDX_VERSION: 'v0.36.1' },
    ],
    [
      {
        sources: 'r.io/s:1',
        tags: 'r.io/a:1',
        annotations: 'index:a=b',
        append: 'true',
        policy: 'buildx:\n  pin: exact',
      },
      [
        '--annotation',
        'index:a=b',
        '--append',
        '--policy',
        'buildx:\n  pin: exact',
        '-t',
        'r.io/a:1',
        'r.io/s:1',
      ],
      {},
    ],
  ])('%j', (given, argv, env) => {
    expect(plain(asCommand(argv, env))).toBe(plain(asRunner(given)));
  });
  it('and refuse the same bad value, each naming its own door', () => {
    expect(() => asRunner({ sources: 'r.io/s:1', tags: 'r.io/a:1', 'max-attempts': '0' })).toThrow(
      'Input "max-attempts": expected a whole number from 1 to 20, got 0',
    );
    const cl = create(['--max-attempts', '0', '-t', 'r.io/a:1', 'r.io/s:1']);
    let message = '';
    try {
      readInputs((name) => cl.values[name] ?? '', root);
    } catch (err) {
      message = wordedFor((err as Error).message, cl.from);
    }
    expect(message).toBe('--max-attempts: expected a whole number from 1 to 20, got 0');
  });
});
