// The action's main job on each real buildx of the test bed: Debian's 0.13.1 and 0.29.1, the
// bundle run as the runner runs it, against a real registry 2.8.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { pushPlatformImages } from '../testbed/images.js';
import { realBuildxes } from '../testbed/paths.js';
import { listTags, readDigest, type Registry, startRegistry } from '../testbed/registry.js';
import { runAction } from '../testbed/runner.js';

let reg: Registry;
let sources: string[];

beforeAll(async () => {
  reg = await startRegistry();
  sources = await pushPlatformImages(reg, 'bv-src/app', ['linux/amd64', 'linux/arm64', 'linux/s390x']);
});
afterAll(async () => {
  await reg?.stop();
});

describe.each(realBuildxes())('buildx $version', ({ version, path }) => {
  it('merges three platforms into three tags, each read back holding the index', async () => {
    const repo = `bv-${version.replace(/\./g, '-')}/app`;
    const run = await runAction({
      inputs: {
        sources: sources.join('\n'),
        tags: ['t1', 't2', 't3'].map((t) => `${reg.host}/${repo}:${t}`).join('\n'),
        'buildx-version': path,
      },
    });
    expect(run.code, run.stdout.slice(-3000)).toBe(0);
    expect(run.outputs['buildx-version']).toContain(version);
    const digest = run.outputs.digest as string;
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect((await listTags(reg, repo)).sort()).toEqual(['t1', 't2', 't3']);
    for (const t of ['t1', 't2', 't3']) expect(await readDigest(reg, repo, t)).toBe(digest);
    const result = JSON.parse(run.outputs.result as string);
    expect(result.tags.every((t: { verified: boolean }) => t.verified)).toBe(true);
  });
});
