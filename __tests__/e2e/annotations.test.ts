// The `annotations` input end to end: docker/metadata-action's real output shapes given to the
// bundled action, Debian's real buildx 0.13.1 and a real registry 2.8; annotations read back from
// the pushed index, the action's own annotations read back with their file and line.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { pushPlatformImages } from '../testbed/images.js';
import { buildxPath, realBuildxes } from '../testbed/paths.js';
import { listTags, readManifest, type Registry, startRegistry } from '../testbed/registry.js';
import { type ActionRun, runAction, type WorkflowCommand } from '../testbed/runner.js';

const WORKFLOW = `name: release
on: push
jobs:
  merge:
    runs-on: ubuntu-latest
    steps:
      - id: meta
        uses: docker/metadata-action@v5
        with:
          images: ghcr.io/octocat/hello-world
      - id: merge
        uses: ./
        with:
          sources: \${{ needs.build.outputs.sources }}
          tags: \${{ steps.meta.outputs.tags }}
          annotations: \${{ steps.meta.outputs.annotations }}
`;
const FILE = '.github/workflows/release.yml';
const ANNOTATIONS_LINE = WORKFLOW.split('\n').findIndex((l) => l.includes('annotations: ${{')) + 1;

// docker/metadata-action's annotations for one repository (its own tests' shape: one line per
// level and key, keys sorted, `<level>:<key>=<value>`), at the levels given in
// DOCKER_METADATA_ANNOTATIONS_LEVELS (default `manifest`).
const META: [string, string][] = [
  ['org.opencontainers.image.created', '2020-01-10T00:30:00.000Z'],
  ['org.opencontainers.image.description', 'This your first repo!'],
  ['org.opencontainers.image.licenses', ''],
  ['org.opencontainers.image.revision', '860c1904a1ce19322e91ac35af1ab07466440c37'],
  ['org.opencontainers.image.source', 'https://github.com/octocat/Hello-World'],
  ['org.opencontainers.image.title', 'Hello-World'],
  ['org.opencontainers.image.url', 'https://github.com/octocat/Hello-World'],
  ['org.opencontainers.image.version', 'v1.2.3'],
];
const metadataAction = (levels = 'manifest'): string =>
  levels
    .split(',')
    .flatMap((level) => META.map(([k, v]) => `${level}:${k}=${v}`))
    .join('\n');

let reg: Registry;
let sources: string[];
let n = 0;

function workspace(): string {
  const ws = mkdtempSync(join(tmpdir(), 'ws-annotations-'));
  mkdirSync(join(ws, '.github', 'workflows'), { recursive: true });
  writeFileSync(join(ws, FILE), WORKFLOW);
  return ws;
}

async function run(annotations: string, buildx = buildxPath()) {
  const repo = `annotations${++n}/app`;
  const r = await runAction({
    inputs: {
      sources: sources.join('\n'),
      tags: `${reg.host}/${repo}:v1\n${reg.host}/${repo}:latest`,
      annotations,
      'buildx-version': buildx,
      'retry-delay': '100ms',
    },
    env: { GITHUB_WORKSPACE: workspace(), GITHUB_ACTION: 'merge' },
  });
  return { r, repo };
}

const of = (r: ActionRun, kind: string): WorkflowCommand[] => r.commands.filter((c) => c.command === kind);

interface Index {
  annotations?: Record<string, string>;
  manifests: { platform: { architecture: string }; annotations?: Record<string, string> }[];
}

beforeAll(async () => {
  reg = await startRegistry();
  sources = await pushPlatformImages(reg, 'src/app', ['linux/amd64', 'linux/arm64']);
});
afterAll(async () => {
  await reg?.stop();
});

describe('docker/metadata-action output', () => {
  it('its default (manifest: lines only) is refused before buildx runs, on the annotations: line', async () => {
    const { r, repo } = await run(metadataAction());
    expect(r.code).toBe(1);
    expect(await listTags(reg, repo)).toEqual([]);
    expect(r.stdout).not.toMatch(/::group::|--dry-run/); // buildx never ran
    const errors = of(r, 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.props).toMatchObject({ file: FILE, line: String(ANNOTATIONS_LINE) });
    expect(errors[0]?.message).toMatch(/^Input "annotations": /);
    expect(errors[0]?.message).toMatch(/all 8 lines are manifest: annotations/);
    expect(errors[0]?.message).toMatch(/DOCKER_METADATA_ANNOTATIONS_LEVELS: index/);
  });

  it.each(realBuildxes())(
    'levels manifest,index, buildx $version: the index gets the index: lines; the manifest: lines are skipped with one notice',
    async ({ path }) => {
      const { r, repo } = await run(metadataAction('manifest,index'), path);
      expect(r.code, r.stdout.slice(-3000)).toBe(0);
      const index = await readManifest(reg, repo, 'latest');
      expect(index?.digest).toBe(r.outputs.digest);
      expect((index?.json as unknown as Index).annotations).toEqual(Object.fromEntries(META));
      const notices = of(r, 'notice');
      expect(notices).toHaveLength(1);
      expect(notices[0]?.props).toMatchObject({ file: FILE, line: String(ANNOTATIONS_LINE) });
      expect(notices[0]?.message).toMatch(/^Skipped 8 manifest: annotations \(.*\) and wrote the other 8\.$/);
      expect(of(r, 'error')).toEqual([]);
    },
  );

  it.each(realBuildxes())(
    'levels index,manifest-descriptor, and one line naming two levels with a platform: buildx $version writes them all',
    async ({ path }) => {
      const { r, repo } = await run(
        `${metadataAction('index,manifest-descriptor')}\n` +
          'index,manifest-descriptor[linux/amd64]:org.example.merged-by=safe-imagetools',
        path,
      );
      expect(r.code, r.stdout.slice(-3000)).toBe(0);
      const index = (await readManifest(reg, repo, 'v1'))?.json as unknown as Index;
      expect(index.annotations).toEqual({
        ...Object.fromEntries(META),
        'org.example.merged-by': 'safe-imagetools',
      });
      const byArch = Object.fromEntries(index.manifests.map((m) => [m.platform.architecture, m.annotations]));
      expect(byArch.amd64).toEqual({
        ...Object.fromEntries(META),
        'org.example.merged-by': 'safe-imagetools',
      });
      expect(byArch.arm64).toEqual(Object.fromEntries(META));
      expect(of(r, 'notice')).toEqual([]);
    },
  );
});

describe('lines buildx imagetools create refuses', () => {
  it('no level, and index-descriptor: refused before buildx runs, each line named with what to do', async () => {
    const { r, repo } = await run(
      'index:org.opencontainers.image.title=Hello-World\norg.opencontainers.image.version=v1.2.3\nindex-descriptor:org.example.a=b',
    );
    expect(r.code).toBe(1);
    expect(await listTags(reg, repo)).toEqual([]);
    expect(r.stdout).not.toMatch(/::group::|--dry-run/);
    const [e, ...more] = of(r, 'error');
    expect(more).toEqual([]);
    expect(e?.props).toMatchObject({ file: FILE, line: String(ANNOTATIONS_LINE) });
    expect(e?.message).toMatch(
      /"org\.opencontainers\.image\.version=v1\.2\.3" has no level: write index:org\.opencontainers\.image\.version=v1\.2\.3/,
    );
    expect(e?.message).toMatch(/"index-descriptor:org\.example\.a=b": index-descriptor annotations/);
  });

  it.each(realBuildxes())(
    'a platform buildx $version does not know: the failure says what buildx said, not that it could not read the sources',
    async ({ path }) => {
      const { r, repo } = await run('manifest-descriptor[bogus]:org.example.a=b', path);
      expect(r.code).toBe(1);
      expect(await listTags(reg, repo)).toEqual([]);
      const errors = of(r, 'error');
      expect(errors).toHaveLength(1);
      expect(errors[0]?.message).not.toMatch(/could not read the sources/);
      // what to do first, then what failed
      const [todo, failed] = (errors[0]?.message ?? '').split('\n');
      expect(todo).toMatch(/^Check the platforms named in the annotations input/);
      expect(failed).toMatch(/^the --dry-run that computes the index failed: /);
      // 0.29.1 words it "ERROR: failed to parse annotations: invalid platform ..."
      expect(errors[0]?.message).toMatch(
        /buildx said: ERROR: (failed to parse annotations: )?invalid platform "bogus"/,
      );
      expect(errors[0]?.message).toMatch(/annotations/);
      expect(errors[0]?.props.title).toMatch(/permanent error: invalid platform/);
    },
  );
});
