// A real merge on this machine: the test bed's registry, six single-platform source images, and
// the bundled action run the way the GitHub runner runs it. `npm run demo -- --crash` runs it
// through the fault shim, which crashes buildx twice with real v0.30.0 crash output first.
//
// Run with Node 24 (it runs TypeScript directly): `npm run demo`, after `npm run testbed`.
import { pushPlatformImages } from '../__tests__/testbed/images.ts';
import { buildxPath } from '../__tests__/testbed/paths.ts';
import { readDigest, startRegistry } from '../__tests__/testbed/registry.ts';
import { runAction } from '../__tests__/testbed/runner.ts';
import { makeShim } from '../__tests__/testbed/shim.ts';

const crash = process.argv.includes('--crash');
const PLATFORMS = ['linux/amd64', 'linux/arm64', 'linux/arm/v7', 'linux/s390x', 'linux/ppc64le', 'linux/386'];
const say = (s: string) => process.stdout.write(`\x1b[1m${s}\x1b[0m\n`);

const reg = await startRegistry();
try {
  say(`registry 2.8 listening on ${reg.url} (storage in a temp folder)`);
  const sources = await pushPlatformImages(reg, 'demo/app', PLATFORMS);
  say(`pushed ${sources.length} single-platform source images:\n  ${sources.join('\n  ')}`);

  const tags = ['1.0.0', '1.0', '1', 'latest'].map((t) => `${reg.host}/demo/app:${t}`);
  const shim = crash ? makeShim({ steps: ['crash', 'crash', 'pass'] }) : undefined;
  say(
    `\nrunning dist/index.js on Node 24 as the runner does${crash ? ', buildx crashing twice first' : ''}...\n`,
  );
  const run = await runAction({
    inputs: {
      sources: sources.join('\n'),
      tags: tags.join('\n'),
      'buildx-version': shim ? shim.path : buildxPath(),
      'retry-delay': '1s',
    },
    env: shim?.env,
  });
  process.stdout.write(run.stdout);
  process.stderr.write(run.stderr);
  shim?.remove();

  say(`\nexit code ${run.code} after ${(run.durationMs / 1000).toFixed(2)}s\n\noutputs:`);
  for (const [name, value] of Object.entries(run.outputs)) {
    process.stdout.write(
      `  ${name} = ${name === 'result' ? JSON.stringify(JSON.parse(value), null, 2).replace(/\n/g, '\n    ') : value}\n`,
    );
  }
  say('\njob summary (GITHUB_STEP_SUMMARY):\n');
  process.stdout.write(run.summary);
  say('\nread back from the registry, independently of the action:');
  for (const tag of tags) {
    const t = tag.split(':').at(-1) as string;
    const digest = await readDigest(reg, 'demo/app', t);
    process.stdout.write(`  ${tag} -> ${digest} ${digest === run.outputs.digest ? 'ok' : 'MISMATCH'}\n`);
  }
  process.exitCode = run.code ?? 1;
} finally {
  await reg.stop();
}
