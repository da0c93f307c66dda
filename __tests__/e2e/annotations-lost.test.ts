// Annotations asked for are never silently lost: from sources in Docker media types, real buildx
// (0.13.1 and 0.29.1) builds a Docker manifest list and drops `index:` annotations with exit 0
// (docker/buildx#2148). The action checks the --dry-run's index and fails before any push; from
// OCI sources the pushed index carries them. Real buildx, a real registry 2.8.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { pushPlatformImages } from '../testbed/images.js';
import { realBuildxes } from '../testbed/paths.js';
import { listTags, readManifest, type Registry, startRegistry } from '../testbed/registry.js';
import { runAction } from '../testbed/runner.js';

const ANNOTATION = 'index:org.opencontainers.image.description=merged by safe-imagetools';

let reg: Registry;
let dockerSources: string[];
let ociSources: string[];
let n = 0;

beforeAll(async () => {
  reg = await startRegistry();
  const platforms = ['linux/amd64', 'linux/arm64'];
  dockerSources = await pushPlatformImages(reg, 'src/docker', platforms, { mediaTypes: 'docker' });
  ociSources = await pushPlatformImages(reg, 'src/oci', platforms);
});
afterAll(async () => {
  await reg?.stop();
});

describe.each(realBuildxes())('buildx $version', ({ path }) => {
  const run = async (sources: string[]) => {
    const repo = `lost${++n}/app`;
    const r = await runAction({
      inputs: {
        sources: sources.join('\n'),
        tags: `${reg.host}/${repo}:v1\n${reg.host}/${repo}:latest`,
        annotations: ANNOTATION,
        'buildx-version': path,
        'retry-delay': '100ms',
      },
    });
    return { r, repo };
  };

  it('Docker media type sources + an index: annotation: fails before any push, naming the annotation, the cause and the fix', async () => {
    const { r, repo } = await run(dockerSources);
    expect(r.code, r.stdout.slice(-3000)).toBe(1);
    expect(await listTags(reg, repo)).toEqual([]);
    expect(r.stdout).not.toMatch(/push .* \(invocation 1/); // no push was started
    const errors = r.commands.filter((c) => c.command === 'error');
    expect(errors).toHaveLength(1);
    const msg = errors[0]!.message;
    expect(msg).toContain(ANNOTATION);
    expect(msg).toMatch(/Docker media types/);
    expect(msg).toMatch(/a manifest list cannot carry annotations/);
    expect(msg).toMatch(/oci-mediatypes=true/);
    expect(msg).toMatch(/Nothing was pushed/);
  });

  it('OCI sources + the same annotation: succeeds and the pushed index carries it', async () => {
    const { r, repo } = await run(ociSources);
    expect(r.code, r.stdout.slice(-3000)).toBe(0);
    const index = await readManifest(reg, repo, 'v1');
    expect(index?.digest).toBe(r.outputs.digest);
    const json = index?.json as { mediaType?: string; annotations?: Record<string, string> };
    expect(json.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(json.annotations).toEqual({ 'org.opencontainers.image.description': 'merged by safe-imagetools' });
    expect((await readManifest(reg, repo, 'latest'))?.digest).toBe(r.outputs.digest);
    // the summary says the index carries what was asked, on the one line with its digest
    expect(r.summary).toContain(`\n\nIndex \`${r.outputs.digest}\`, with the 1 annotation asked for\n\n`);
  });
});
