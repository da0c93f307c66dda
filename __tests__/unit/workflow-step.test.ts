import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import {
  findStep,
  lineFor,
  type LocateEnv,
  locateStep,
  type StepLocation,
  workflowPath,
} from '../../src/report/workflow-step.js';

// The workflows below start at line 1 right after the backtick; the line numbers in the tables are
// the lines of these texts.

const RELEASE = `name: release

on:
  push:
    tags: ['v*']

permissions:
  contents: read
  packages: write

jobs:
  build:
    # one runner per platform
    strategy:
      fail-fast: false
      matrix:
        platform: [linux/amd64, linux/arm64]
    runs-on: \${{ matrix.platform == 'linux/arm64' && 'ubuntu-24.04-arm' || 'ubuntu-latest' }}
    steps:
      - uses: actions/checkout@v4
      - uses: docker/setup-buildx-action@v3
      - id: build
        uses: docker/build-push-action@v6
        with:
          platforms: \${{ matrix.platform }}
          outputs: type=image,push-by-digest=true,name-canonical=true,push=true
      # the merge job reads this
      - run: echo "\${{ steps.build.outputs.digest }}" > digest-\${{ strategy.job-index }}

  merge:
    runs-on: ubuntu-latest
    needs: build
    steps:
      - uses: docker/login-action@v3
        with:
          registry: ghcr.io
          username: \${{ github.actor }}
          password: \${{ secrets.GITHUB_TOKEN }}
      - id: meta
        uses: docker/metadata-action@v5
        with:
          images: ghcr.io/\${{ github.repository }}

      # one index for every platform
      - name: Merge
        id: merge

        # pinned to the major version
        uses: octo/safe-imagetools@v1 # keep in step with the docs
        with:
          sources: |
            ghcr.io/\${{ github.repository }}:build-amd64
            ghcr.io/\${{ github.repository }}:build-arm64
          tags: \${{ steps.meta.outputs.tags }}

          # buildx is pinned too
          buildx-version: v0.19.3
          "policy": strict
      - run: echo "\${{ steps.merge.outputs.digest }}"
`;

// Several uses of the action in one job, with and without ids; the unnamed ones are told apart by
// the runner's generated names: __actions_checkout, __run, __octo_safe-imagetools, [stable],
// __run_2, __octo_safe-imagetools_2, __OCTO_Safe-Imagetools_3 (names are unique case-insensitively),
// __actions_checkout_2.
const PUBLISH = `name: publish
on: workflow_dispatch
jobs:
  publish:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: ./scripts/prepare.sh
      - uses: octo/safe-imagetools@v1
        with:
          tags: ghcr.io/octo/app:edge
      - id: stable
        uses: octo/safe-imagetools@v1
        with:
          tags: ghcr.io/octo/app:stable
      - run: ./scripts/notify.sh
      - uses: octo/safe-imagetools/verify@v1
        with:
          tags: ghcr.io/octo/app:edge
      - uses: OCTO/Safe-Imagetools@v2
        with:
          tags: ghcr.io/octo/app:next
      - uses: actions/checkout@v4
  mirror:
    runs-on: ubuntu-latest
    steps:
      - id: stable
        uses: octo/safe-imagetools@v1
        with: {tags: docker.io/octo/app:stable}
`;

const ANCHORS = `name: images
on: push
jobs:
  merge-ghcr:
    runs-on: ubuntu-latest
    steps:
      - &merge
        id: merge
        uses: octo/safe-imagetools@v1
        with: &merge-with
          buildx-version: v0.19.3
          policy: strict
  merge-hub:
    runs-on: ubuntu-latest
    steps:
      - <<: *merge
        with:
          <<: *merge-with
          tags: docker.io/octo/app:latest
  merge-quay:
    runs-on: ubuntu-latest
    steps:
      - id: merge
        uses: octo/safe-imagetools@v1
        with: *merge-with
  merge-ecr:
    runs-on: ubuntu-latest
    steps:
      - *merge
`;

// The action's own CI: __actions_checkout, __self (a local composite), __self_2, __self_3,
// __alpine_3_20.
const LOCAL = `name: ci
on: [push, pull_request]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: ./.github/actions/setup
      - uses: ./
        with:
          sources: localhost:5000/app:amd64
          tags: localhost:5000/app:v1
      - uses: ./
        with:
          tags: localhost:5000/app:v2
          append: true
      - uses: docker://alpine:3.20
        with:
          args: echo done
`;

// A step using a composite action that uses this action inside; then a direct use.
const COMPOSITE = `name: release
on: push
jobs:
  release:
    runs-on: ubuntu-latest
    steps:
      - id: publish
        uses: octo/release-kit@v3
        with:
          image: ghcr.io/octo/app
      - uses: octo/release-kit@v3
      - id: merge
        uses: octo/safe-imagetools@v1
`;

const REUSABLE_CALLER = `name: release
on:
  push:
    tags: ['v*']
jobs:
  images:
    uses: octo/workflows/.github/workflows/images.yml@v2
    with:
      platforms: linux/amd64,linux/arm64
    secrets: inherit
  publish:
    uses: ./.github/workflows/publish.yml
    needs: images
`;

const FLOW = `name: flow
on: push
jobs:
  "merge":
    runs-on: ubuntu-latest
    steps:
      - {uses: actions/checkout@v4}
      - {id: merge, "uses": octo/safe-imagetools@v1, with: {tags: a, 'buildx-version': v0.19.3}}
      - {
          id: again,
          uses: 'octo/safe-imagetools@v1',
          with: {
            tags: b,
            policy: strict
          }
        }
      - uses: \${{ matrix.action }}
`;

// A repository name of 100 characters makes a generated name longer than the runner's 100: it is cut,
// and the suffix of a repeat replaces its last characters.
const LONG_REPO = `octo/${'a'.repeat(100)}`;
const LONG = `on: push
jobs:
  merge:
    runs-on: ubuntu-latest
    steps:
      - uses: ${LONG_REPO}@v1
      - uses: ${LONG_REPO}@v1
        with:
          tags: x
`;
const LONG_NAME = `__octo_${'a'.repeat(100)}`;

const UNCLOSED = `name: broken
jobs:
  merge:
    runs-on: ubuntu-latest
    steps:
      - id: merge
        uses: octo/safe-imagetools@v1
        with:
          tags: [a, b
`;
const DUPLICATE_KEY = `jobs:
  merge:
    steps:
      - id: merge
        uses: octo/safe-imagetools@v1
        uses: octo/safe-imagetools@v2
`;
const TWO_DOCUMENTS = `jobs:
  merge:
    steps:
      - id: merge
        uses: octo/safe-imagetools@v1
---
jobs: {}
`;
const UNDEFINED_ALIAS = `jobs:
  merge:
    steps:
      - id: merge
        uses: octo/safe-imagetools@v1
        with: *nowhere
`;

const crlf = (text: string) => text.replace(/\n/g, '\r\n');

const APP: LocateEnv = {
  GITHUB_REPOSITORY: 'octo/app',
  GITHUB_ACTION_REPOSITORY: 'octo/safe-imagetools',
  GITHUB_ACTION_REF: 'v1',
};
const env = (workflow: string, more: LocateEnv = {}): LocateEnv => ({
  ...APP,
  GITHUB_WORKFLOW_REF: `octo/app/.github/workflows/${workflow}@refs/heads/main`,
  ...more,
});
const SELF: LocateEnv = {
  GITHUB_REPOSITORY: 'octo/safe-imagetools',
  GITHUB_WORKFLOW_REF: 'octo/safe-imagetools/.github/workflows/ci.yml@refs/pull/7/merge',
  GITHUB_ACTION_REPOSITORY: '',
  GITHUB_ACTION_REF: '',
  GITHUB_JOB: 'test',
};

const at = (
  workflow: string,
  job: string,
  usesLine: number,
  inputLines: Record<string, number>,
  stepId?: string,
): StepLocation => ({
  file: `.github/workflows/${workflow}`,
  usesLine,
  inputLines,
  job,
  ...(stepId !== undefined && { stepId }),
});

const RELEASE_MERGE = at(
  'release.yml',
  'merge',
  49,
  { sources: 51, tags: 54, 'buildx-version': 57, policy: 58 },
  'merge',
);

interface Case {
  name: string;
  text: string;
  workflow: string;
  env: LocateEnv;
  expected: StepLocation | undefined;
}

const cases: Case[] = [
  // release: a matrix build job and a merge job, comments between keys, a trailing comment on `uses:`,
  // a blank line and a comment inside `with:`, a quoted key
  {
    name: 'release: by id in its job',
    text: RELEASE,
    workflow: 'release.yml',
    env: env('release.yml', { GITHUB_ACTION: 'merge', GITHUB_JOB: 'merge' }),
    expected: RELEASE_MERGE,
  },
  {
    name: 'release: by id without GITHUB_JOB',
    text: RELEASE,
    workflow: 'release.yml',
    env: env('release.yml', { GITHUB_ACTION: 'merge' }),
    expected: RELEASE_MERGE,
  },
  {
    name: 'release: by uses when GITHUB_ACTION is unset',
    text: RELEASE,
    workflow: 'release.yml',
    env: env('release.yml', { GITHUB_JOB: 'merge' }),
    expected: RELEASE_MERGE,
  },
  {
    name: 'release: the only step using the action, of another ref',
    text: RELEASE,
    workflow: 'release.yml',
    env: env('release.yml', { GITHUB_ACTION_REF: 'v2' }),
    expected: RELEASE_MERGE,
  },
  {
    name: 'release: CRLF line endings',
    text: crlf(RELEASE),
    workflow: 'release.yml',
    env: env('release.yml', { GITHUB_ACTION: 'merge', GITHUB_JOB: 'merge' }),
    expected: RELEASE_MERGE,
  },
  {
    name: 'release: a pull-request ref',
    text: RELEASE,
    workflow: 'release.yml',
    env: { ...APP, GITHUB_WORKFLOW_REF: 'octo/app/.github/workflows/release.yml@refs/pull/1/merge' },
    expected: RELEASE_MERGE,
  },
  {
    name: 'release: the matrix job does not use the action',
    text: RELEASE,
    workflow: 'release.yml',
    env: env('release.yml', { GITHUB_JOB: 'build' }),
    expected: undefined,
  },
  {
    name: 'release: GITHUB_JOB not in the file',
    text: RELEASE,
    workflow: 'release.yml',
    env: env('release.yml', { GITHUB_ACTION: 'merge', GITHUB_JOB: 'deploy' }),
    expected: undefined,
  },
  {
    name: 'release: the id names a step of another action',
    text: RELEASE,
    workflow: 'release.yml',
    env: env('release.yml', { GITHUB_ACTION: 'meta', GITHUB_JOB: 'merge' }),
    expected: undefined,
  },
  {
    name: 'release: an id not in the file',
    text: RELEASE,
    workflow: 'release.yml',
    env: env('release.yml', { GITHUB_ACTION: 'push', GITHUB_JOB: 'merge' }),
    expected: undefined,
  },
  {
    name: 'release: another action repository',
    text: RELEASE,
    workflow: 'release.yml',
    env: env('release.yml', { GITHUB_ACTION_REPOSITORY: 'octo/other-action' }),
    expected: undefined,
  },
  {
    name: 'release: run from a reusable workflow of another repository',
    text: RELEASE,
    workflow: 'release.yml',
    env: {
      ...APP,
      GITHUB_WORKFLOW_REF: 'octo/workflows/.github/workflows/release.yml@refs/heads/main',
      GITHUB_ACTION: 'merge',
    },
    expected: undefined,
  },

  // several uses in one job
  {
    name: 'publish: the first unnamed use, by generated name',
    text: PUBLISH,
    workflow: 'publish.yml',
    env: env('publish.yml', { GITHUB_ACTION: '__octo_safe-imagetools', GITHUB_JOB: 'publish' }),
    expected: at('publish.yml', 'publish', 9, { tags: 11 }),
  },
  {
    name: 'publish: the step with an id',
    text: PUBLISH,
    workflow: 'publish.yml',
    env: env('publish.yml', { GITHUB_ACTION: 'stable', GITHUB_JOB: 'publish' }),
    expected: at('publish.yml', 'publish', 13, { tags: 15 }, 'stable'),
  },
  {
    name: 'publish: the second unnamed use, an owner/repo/path form',
    text: PUBLISH,
    workflow: 'publish.yml',
    env: env('publish.yml', { GITHUB_ACTION: '__octo_safe-imagetools_2', GITHUB_JOB: 'publish' }),
    expected: at('publish.yml', 'publish', 17, { tags: 19 }),
  },
  {
    name: 'publish: the third unnamed use, numbered case-insensitively',
    text: PUBLISH,
    workflow: 'publish.yml',
    env: env('publish.yml', {
      GITHUB_ACTION: '__OCTO_Safe-Imagetools_3',
      GITHUB_ACTION_REF: 'v2',
      GITHUB_JOB: 'publish',
    }),
    expected: at('publish.yml', 'publish', 20, { tags: 22 }),
  },
  {
    name: 'publish: the only use of the ref, without GITHUB_ACTION',
    text: PUBLISH,
    workflow: 'publish.yml',
    env: env('publish.yml', { GITHUB_ACTION_REF: 'v2', GITHUB_JOB: 'publish' }),
    expected: at('publish.yml', 'publish', 20, { tags: 22 }),
  },
  {
    name: 'publish: three uses of the ref, without GITHUB_ACTION: ambiguous',
    text: PUBLISH,
    workflow: 'publish.yml',
    env: env('publish.yml', { GITHUB_JOB: 'publish' }),
    expected: undefined,
  },
  {
    name: 'publish: an id used in two jobs, without GITHUB_JOB: ambiguous',
    text: PUBLISH,
    workflow: 'publish.yml',
    env: env('publish.yml', { GITHUB_ACTION: 'stable' }),
    expected: undefined,
  },
  {
    name: 'publish: the same id in the other job, a flow-style with',
    text: PUBLISH,
    workflow: 'publish.yml',
    env: env('publish.yml', { GITHUB_ACTION: 'stable', GITHUB_JOB: 'mirror' }),
    expected: at('publish.yml', 'mirror', 28, { tags: 29 }, 'stable'),
  },
  {
    name: 'publish: a job with one use, without GITHUB_ACTION',
    text: PUBLISH,
    workflow: 'publish.yml',
    env: env('publish.yml', { GITHUB_JOB: 'mirror' }),
    expected: at('publish.yml', 'mirror', 28, { tags: 29 }, 'stable'),
  },
  {
    name: 'publish: a generated name past the last use',
    text: PUBLISH,
    workflow: 'publish.yml',
    env: env('publish.yml', { GITHUB_ACTION: '__octo_safe-imagetools_4', GITHUB_JOB: 'publish' }),
    expected: undefined,
  },
  {
    name: 'publish: a generated name of a run step',
    text: PUBLISH,
    workflow: 'publish.yml',
    env: env('publish.yml', { GITHUB_ACTION: '__run_2', GITHUB_JOB: 'publish' }),
    expected: undefined,
  },
  {
    name: 'publish: a generated name of another action',
    text: PUBLISH,
    workflow: 'publish.yml',
    env: env('publish.yml', { GITHUB_ACTION: '__actions_checkout_2', GITHUB_JOB: 'publish' }),
    expected: undefined,
  },

  // anchors and aliases: positions are where the keys are written
  {
    name: 'anchors: the anchored step',
    text: ANCHORS,
    workflow: 'images.yml',
    env: env('images.yml', { GITHUB_ACTION: 'merge', GITHUB_JOB: 'merge-ghcr' }),
    expected: at('images.yml', 'merge-ghcr', 9, { 'buildx-version': 11, policy: 12 }, 'merge'),
  },
  {
    name: 'anchors: a step merging it, with a with merging the anchored inputs',
    text: ANCHORS,
    workflow: 'images.yml',
    env: env('images.yml', { GITHUB_ACTION: 'merge', GITHUB_JOB: 'merge-hub' }),
    expected: at('images.yml', 'merge-hub', 9, { tags: 19, 'buildx-version': 11, policy: 12 }, 'merge'),
  },
  {
    name: 'anchors: a with given by alias',
    text: ANCHORS,
    workflow: 'images.yml',
    env: env('images.yml', { GITHUB_ACTION: 'merge', GITHUB_JOB: 'merge-quay' }),
    expected: at('images.yml', 'merge-quay', 24, { 'buildx-version': 11, policy: 12 }, 'merge'),
  },
  {
    name: 'anchors: a whole step given by alias',
    text: ANCHORS,
    workflow: 'images.yml',
    env: env('images.yml', { GITHUB_ACTION: 'merge', GITHUB_JOB: 'merge-ecr' }),
    expected: at('images.yml', 'merge-ecr', 9, { 'buildx-version': 11, policy: 12 }, 'merge'),
  },
  {
    name: 'anchors: the id in four jobs, without GITHUB_JOB: ambiguous',
    text: ANCHORS,
    workflow: 'images.yml',
    env: env('images.yml', { GITHUB_ACTION: 'merge' }),
    expected: undefined,
  },

  // uses: ./ in the action's own repository
  {
    name: 'local: the second local use is the first ./',
    text: LOCAL,
    workflow: 'ci.yml',
    env: { ...SELF, GITHUB_ACTION: '__self_2' },
    expected: at('ci.yml', 'test', 9, { sources: 11, tags: 12 }),
  },
  {
    name: 'local: the second ./',
    text: LOCAL,
    workflow: 'ci.yml',
    env: { ...SELF, GITHUB_ACTION: '__self_3' },
    expected: at('ci.yml', 'test', 13, { tags: 15, append: 16 }),
  },
  {
    name: 'local: __self is a local composite action, not this one',
    text: LOCAL,
    workflow: 'ci.yml',
    env: { ...SELF, GITHUB_ACTION: '__self' },
    expected: undefined,
  },
  {
    name: 'local: two ./ uses without GITHUB_ACTION: ambiguous',
    text: LOCAL,
    workflow: 'ci.yml',
    env: SELF,
    expected: undefined,
  },
  {
    name: 'local: a docker:// step',
    text: LOCAL,
    workflow: 'ci.yml',
    env: { ...SELF, GITHUB_ACTION: '__alpine_3_20' },
    expected: undefined,
  },
  {
    name: 'local: a workflow of another repository',
    text: LOCAL,
    workflow: 'ci.yml',
    env: { ...SELF, GITHUB_REPOSITORY: 'octo/app', GITHUB_ACTION: '__self_2' },
    expected: undefined,
  },

  // a composite action using this one: GITHUB_ACTION names the workflow step of the composite
  {
    name: 'composite: the step of the composite action, by id',
    text: COMPOSITE,
    workflow: 'release.yml',
    env: env('release.yml', { GITHUB_ACTION: 'publish', GITHUB_JOB: 'release' }),
    expected: undefined,
  },
  {
    name: 'composite: the step of the composite action, by generated name',
    text: COMPOSITE,
    workflow: 'release.yml',
    env: env('release.yml', { GITHUB_ACTION: '__octo_release-kit', GITHUB_JOB: 'release' }),
    expected: undefined,
  },
  {
    name: 'composite: a nested, fully qualified name',
    text: COMPOSITE,
    workflow: 'release.yml',
    env: env('release.yml', { GITHUB_ACTION: 'publish.__octo_safe-imagetools', GITHUB_JOB: 'release' }),
    expected: undefined,
  },
  {
    name: 'composite: the direct use in the same job',
    text: COMPOSITE,
    workflow: 'release.yml',
    env: env('release.yml', { GITHUB_ACTION: 'merge', GITHUB_JOB: 'release' }),
    expected: at('release.yml', 'release', 13, {}, 'merge'),
  },

  // reusable workflows
  {
    name: 'reusable: the job calls a reusable workflow of another repository',
    text: REUSABLE_CALLER,
    workflow: 'release.yml',
    env: env('release.yml', { GITHUB_ACTION: 'merge', GITHUB_JOB: 'images' }),
    expected: undefined,
  },
  {
    name: 'reusable: the job calls a reusable workflow of the repository',
    text: REUSABLE_CALLER,
    workflow: 'release.yml',
    env: env('release.yml', { GITHUB_JOB: 'publish' }),
    expected: undefined,
  },
  {
    name: 'reusable: without GITHUB_JOB',
    text: REUSABLE_CALLER,
    workflow: 'release.yml',
    env: env('release.yml'),
    expected: undefined,
  },

  // flow style, quoted keys, an expression in uses
  {
    name: 'flow: a one-line flow step',
    text: FLOW,
    workflow: 'flow.yml',
    env: env('flow.yml', { GITHUB_ACTION: 'merge', GITHUB_JOB: 'merge' }),
    expected: at('flow.yml', 'merge', 8, { tags: 8, 'buildx-version': 8 }, 'merge'),
  },
  {
    name: 'flow: a multi-line flow step',
    text: FLOW,
    workflow: 'flow.yml',
    env: env('flow.yml', { GITHUB_ACTION: 'again', GITHUB_JOB: 'merge' }),
    expected: at('flow.yml', 'merge', 11, { tags: 13, policy: 14 }, 'again'),
  },
  {
    name: 'flow: the expression step is not this action',
    text: FLOW,
    workflow: 'flow.yml',
    env: env('flow.yml', { GITHUB_ACTION: '__run', GITHUB_JOB: 'merge' }),
    expected: undefined,
  },

  // generated names longer than the runner's limit
  {
    name: 'long: the first use, its name cut to 100 characters',
    text: LONG,
    workflow: 'long.yml',
    env: env('long.yml', { GITHUB_ACTION_REPOSITORY: LONG_REPO, GITHUB_ACTION: LONG_NAME.slice(0, 100) }),
    expected: at('long.yml', 'merge', 6, {}),
  },
  {
    name: 'long: the second use, the suffix replacing the last characters',
    text: LONG,
    workflow: 'long.yml',
    env: env('long.yml', {
      GITHUB_ACTION_REPOSITORY: LONG_REPO,
      GITHUB_ACTION: `${LONG_NAME.slice(0, 98)}_2`,
    }),
    expected: at('long.yml', 'merge', 7, { tags: 9 }),
  },

  // not a workflow this module can read
  ...(
    [
      ['an unclosed flow sequence', UNCLOSED],
      ['a duplicate key', DUPLICATE_KEY],
      ['two documents', TWO_DOCUMENTS],
      ['an alias of no anchor', UNDEFINED_ALIAS],
      ['an empty file', ''],
      ['a list at the top', '- uses: octo/safe-imagetools@v1\n'],
      ['no jobs', 'name: x\non: push\n'],
      ['jobs not a map', 'on: push\njobs: [merge]\n'],
      [
        'tabs for indentation',
        'jobs:\n\tmerge:\n\t\tsteps:\n\t\t\t- id: merge\n\t\t\t  uses: octo/safe-imagetools@v1\n',
      ],
    ] as const
  ).map(([what, text]): Case => ({
    name: `unparsable: ${what}`,
    text,
    workflow: 'broken.yml',
    env: env('broken.yml', { GITHUB_ACTION: 'merge' }),
    expected: undefined,
  })),
];

describe('locateStep', () => {
  it.each(cases)('$name', ({ text, workflow, env, expected }) => {
    expect(locateStep(text, `.github/workflows/${workflow}`, env)).toStrictEqual(expected);
  });

  // the broken files above fail because they are broken: mended, the step is found
  it.each<[string, string, string, number]>([
    ['an unclosed flow sequence', UNCLOSED, `${UNCLOSED.trimEnd()}]\n`, 7],
    ['a duplicate key', DUPLICATE_KEY, DUPLICATE_KEY.replace(/ {8}uses: .*@v2\n/, ''), 5],
    ['an alias of no anchor', UNDEFINED_ALIAS, UNDEFINED_ALIAS.replace('*nowhere', '{tags: x}'), 5],
  ])('finds the step once %s is mended', (_what, broken, mended, usesLine) => {
    const e = env('broken.yml', { GITHUB_ACTION: 'merge', GITHUB_JOB: 'merge' });
    expect(locateStep(broken, '.github/workflows/broken.yml', e)).toBeUndefined();
    expect(locateStep(mended, '.github/workflows/broken.yml', e)?.usesLine).toBe(usesLine);
  });

  it('gives the same lines for LF and CRLF files, for every step found', () => {
    const e = env('publish.yml', { GITHUB_JOB: 'publish' });
    for (const action of ['__octo_safe-imagetools', 'stable', '__octo_safe-imagetools_2']) {
      const lf = locateStep(PUBLISH, '.github/workflows/publish.yml', { ...e, GITHUB_ACTION: action });
      const crlfLoc = locateStep(crlf(PUBLISH), '.github/workflows/publish.yml', {
        ...e,
        GITHUB_ACTION: action,
      });
      expect(lf).toBeDefined();
      expect(crlfLoc).toStrictEqual(lf);
    }
  });
});

describe('workflowPath', () => {
  it.each<[string, LocateEnv, string | undefined]>([
    [
      'a branch',
      {
        GITHUB_WORKFLOW_REF: 'octo/app/.github/workflows/x.yml@refs/heads/main',
        GITHUB_REPOSITORY: 'octo/app',
      },
      '.github/workflows/x.yml',
    ],
    [
      'a pull request',
      {
        GITHUB_WORKFLOW_REF: 'octo/app/.github/workflows/x.yml@refs/pull/1/merge',
        GITHUB_REPOSITORY: 'octo/app',
      },
      '.github/workflows/x.yml',
    ],
    [
      'a tag',
      {
        GITHUB_WORKFLOW_REF: 'octo/app/.github/workflows/x.yaml@refs/tags/v1.2.0',
        GITHUB_REPOSITORY: 'octo/app',
      },
      '.github/workflows/x.yaml',
    ],
    [
      'a branch with an @',
      {
        GITHUB_WORKFLOW_REF: 'octo/app/.github/workflows/x.yml@refs/heads/me@work',
        GITHUB_REPOSITORY: 'octo/app',
      },
      '.github/workflows/x.yml',
    ],
    [
      'the repository in another case',
      {
        GITHUB_WORKFLOW_REF: 'Octo/App/.github/workflows/x.yml@refs/heads/main',
        GITHUB_REPOSITORY: 'octo/app',
      },
      '.github/workflows/x.yml',
    ],
    [
      'no GITHUB_REPOSITORY to compare with',
      { GITHUB_WORKFLOW_REF: 'octo/app/.github/workflows/x.yml@refs/heads/main' },
      '.github/workflows/x.yml',
    ],
    ['no ref', { GITHUB_WORKFLOW_REF: 'octo/app/.github/workflows/x.yml' }, '.github/workflows/x.yml'],
    [
      'a reusable workflow of another repository',
      {
        GITHUB_WORKFLOW_REF: 'octo/workflows/.github/workflows/images.yml@refs/heads/main',
        GITHUB_REPOSITORY: 'octo/app',
      },
      undefined,
    ],
    ['unset', { GITHUB_REPOSITORY: 'octo/app' }, undefined],
    ['empty', { GITHUB_WORKFLOW_REF: '', GITHUB_REPOSITORY: 'octo/app' }, undefined],
    ['no path', { GITHUB_WORKFLOW_REF: 'octo/app@refs/heads/main' }, undefined],
    ['outside .github/workflows', { GITHUB_WORKFLOW_REF: 'octo/app/ci/x.yml@refs/heads/main' }, undefined],
    [
      'a path climbing out',
      { GITHUB_WORKFLOW_REF: 'octo/app/.github/workflows/../../../etc/passwd@refs/heads/main' },
      undefined,
    ],
  ])('%s', (_name, e, expected) => {
    expect(workflowPath(e)).toBe(expected);
  });
});

describe('findStep', () => {
  const workspace = () => {
    const dir = mkdtempSync(join(tmpdir(), 'locate-'));
    mkdirSync(join(dir, '.github', 'workflows'), { recursive: true });
    return dir;
  };

  it('reads the workflow from the workspace', () => {
    const dir = workspace();
    writeFileSync(join(dir, '.github', 'workflows', 'release.yml'), RELEASE);
    expect(findStep(dir, env('release.yml', { GITHUB_ACTION: 'merge', GITHUB_JOB: 'merge' }))).toStrictEqual(
      RELEASE_MERGE,
    );
  });

  it('reads a CRLF workflow', () => {
    const dir = workspace();
    writeFileSync(join(dir, '.github', 'workflows', 'release.yml'), crlf(RELEASE));
    expect(findStep(dir, env('release.yml', { GITHUB_ACTION: 'merge' }))).toStrictEqual(RELEASE_MERGE);
  });

  it.each<[string, (dir: string) => void, LocateEnv]>([
    ['a missing file', () => undefined, env('release.yml', { GITHUB_ACTION: 'merge' })],
    [
      'a directory in place of the file',
      (dir) => mkdirSync(join(dir, '.github', 'workflows', 'release.yml')),
      env('release.yml', { GITHUB_ACTION: 'merge' }),
    ],
    [
      'an unparsable file',
      (dir) => writeFileSync(join(dir, '.github', 'workflows', 'release.yml'), UNCLOSED),
      env('release.yml', { GITHUB_ACTION: 'merge' }),
    ],
    [
      'no GITHUB_WORKFLOW_REF',
      (dir) => writeFileSync(join(dir, '.github', 'workflows', 'release.yml'), RELEASE),
      { ...APP, GITHUB_ACTION: 'merge' },
    ],
    [
      'a reusable workflow of another repository',
      (dir) => writeFileSync(join(dir, '.github', 'workflows', 'release.yml'), RELEASE),
      { ...APP, GITHUB_WORKFLOW_REF: 'octo/workflows/.github/workflows/release.yml@refs/heads/main' },
    ],
  ])('gives undefined for %s', (_name, setup, e) => {
    const dir = workspace();
    setup(dir);
    expect(findStep(dir, e)).toBeUndefined();
  });

  it('gives undefined for a missing workspace', () => {
    expect(findStep(join(tmpdir(), 'locate-no-such-workspace'), env('release.yml'))).toBeUndefined();
  });
});

describe('lineFor', () => {
  it.each<[string, string | undefined, number]>([
    ['no input: the uses line', undefined, 49],
    ['an input under with', 'buildx-version', 57],
    ['a quoted key', 'policy', 58],
    ['an input in another case', 'Buildx-Version', 57],
    ['an input not given: the uses line', 'annotations', 49],
    ['a name of Object.prototype', 'constructor', 49],
  ])('%s', (_name, input, expected) => {
    expect(lineFor(RELEASE_MERGE, input)).toBe(expected);
  });
});
