// Installer figures against local release servers, each the median of RUNS runs of the bundled
// action (dry-run, so buildx does the least), the install time being the action's own
// measurement (result.buildx.installMs), all interleaved in each round:
//   - Debian's buildx 0.13.1 (a 66 MB binary) served as v0.13.1: a download + sha256 verify +
//     version check + cache into an empty tool cache, and a cache hit;
//   - a signed release, v0.31.1: the test bed's wrapper that answers `version` as v0.31.1 and runs
//     buildx 0.13.1 for the rest (REAL_BUILDX_VAR), padded to the size of buildx 0.13.1, with a
//     `.sigstore.json` signed by the test bed's own trust root (`sigstore-trusted-root`): a cold
//     install, the same with `buildx.signature: off`, and a cache hit;
//   - the bundle's load on Node 24 (`node dist/index.js` with no inputs stops at its first input),
//     and with BENCH_BASE_ENTRY=<another dist/index.js> that bundle's too (BENCH_BASE_LABEL names it).
// Writes the "install" section of bench/RESULTS.md ($BENCH_RESULTS_DIR/RESULTS.md when set).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { REAL_BUILDX_VAR } from '../__tests__/testbed/gitrepo.ts';
import { pushPlatformImages } from '../__tests__/testbed/images.ts';
import { actionEntry, buildxPath, node24Path } from '../__tests__/testbed/paths.ts';
import { startRegistry } from '../__tests__/testbed/registry.ts';
import {
  BUILDX_PLATFORMS,
  binaryAssetName,
  type ReleaseServer,
  startReleaseServer,
  versionedWrapperScript,
} from '../__tests__/testbed/release-server.ts';
import { type ActionRun, runAction } from '../__tests__/testbed/runner.ts';
import { makeTrustRoot, signFile } from '../__tests__/testbed/sigstore.ts';
import { machine, median, writeSection } from './results.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const BASE = process.env.BENCH_BASE_ENTRY;
const BASE_LABEL = process.env.BENCH_BASE_LABEL || 'the bundle at BENCH_BASE_ENTRY';
const PLAIN = 'v0.13.1';
const SIGNED = 'v0.31.1';
const SIGNATURE_OFF = 'buildx:\n  signature: off\n';
const VERIFIED = 'Sigstore signature verified';
const work = mkdtempSync(join(tmpdir(), 'bench-install-'));

/** One release served as `tag` by its own server; `trustedRoot` when it is signed. */
interface Served {
  tag: string;
  server: ReleaseServer;
  trustedRoot?: string;
}

/** The signed release's binary: the versioned wrapper, then comment lines up to `size` bytes. */
function paddedWrapper(tag: string, size: number): Buffer {
  const script = Buffer.from(versionedWrapperScript(tag));
  const padding = Buffer.alloc(Math.max(0, size - script.length), `${'#'.repeat(79)}\n`);
  return Buffer.concat([script, padding]);
}

/** A server for SIGNED, every platform's asset (the same bytes) with one bundle signing them. */
async function serveSigned(): Promise<Served> {
  const binary = join(work, 'buildx-signed');
  writeFileSync(binary, paddedWrapper(SIGNED, statSync(buildxPath()).size), { mode: 0o755 });
  const root = await makeTrustRoot(mkdtempSync(join(work, 'trust-root-')));
  const bundle = readFileSync(await signFile(root, binary));
  const server = await startReleaseServer({ binary, releases: [{ tag: SIGNED }] });
  for (const platform of BUILDX_PLATFORMS)
    server.addAsset(SIGNED, `${binaryAssetName(SIGNED, platform)}.sigstore.json`, bundle);
  return { tag: SIGNED, server, trustedRoot: root.trustedRootPath };
}

/** One run of the bundled action installing `served` into `toolCache`; it must succeed. */
async function install(
  served: Served,
  sources: string[],
  toolCache: string,
  extra: Record<string, string> = {},
): Promise<ActionRun> {
  served.server.requests.length = 0;
  const run = await runAction({
    inputs: {
      sources: sources.join('\n'),
      'dry-run': 'true',
      'buildx-version': served.tag,
      'buildx-mirror': served.server.mirror,
      ...(served.trustedRoot ? { 'sigstore-trusted-root': served.trustedRoot } : {}),
      ...extra,
    },
    env: {
      RUNNER_TOOL_CACHE: toolCache,
      GITHUB_API_URL: served.server.apiUrl,
      [REAL_BUILDX_VAR]: buildxPath(),
    },
  });
  if (run.code !== 0) throw new Error(run.stdout.slice(-2000));
  return run;
}

const buildxResult = (run: ActionRun) =>
  JSON.parse(run.outputs.result as string).buildx as { installMs: number; signature?: unknown };

/** Fails the bench when a run did (or skipped) the signature check it is meant to measure. */
function expectSignature(served: Served, run: ActionRun, fetched: boolean, verified: boolean): void {
  const bundles = served.server.requests.filter((q) => q.url.endsWith('.sigstore.json')).length;
  const problems = [
    fetched !== bundles > 0 && `${bundles} .sigstore.json requests`,
    verified !== run.stdout.includes(VERIFIED) && `"${VERIFIED}" ${verified ? 'missing' : 'logged'}`,
  ].filter(Boolean);
  if (problems.length) throw new Error(`${served.tag}: ${problems.join(', ')}\n${run.stdout.slice(-2000)}`);
}

/** How long `node24 <entry>` takes to load the bundle and stop at its first input (it must fail). */
function loadMs(entry: string): number {
  const t0 = performance.now();
  const r = spawnSync(node24Path(), [entry], {
    env: { ...process.env, GITHUB_ACTIONS: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const took = performance.now() - t0;
  if (r.status === 0 || !String(r.stdout).includes('Input "sources"'))
    throw new Error(`${entry}: exit ${r.status}, did not stop at its first input: ${r.stdout}${r.stderr}`);
  return took;
}

type Figures = Record<
  'cold' | 'warm' | 'signedCold' | 'signedOff' | 'signedHit' | 'verifyCost' | 'load' | 'baseLoad',
  number[]
>;

/** The plain release cold and from the cache, as before. */
async function plainRound(plain: Served, sources: string[], f: Figures): Promise<void> {
  const cache = mkdtempSync(join(work, 'toolcache-'));
  f.cold.push(buildxResult(await install(plain, sources, cache)).installMs);
  f.warm.push(buildxResult(await install(plain, sources, cache)).installMs);
  rmSync(cache, { recursive: true, force: true });
}

/** The signed release: verified and not (in turn first, against drift), then a hit of the verified one. */
async function signedRound(signed: Served, sources: string[], f: Figures, i: number): Promise<void> {
  const [verified, off] = [mkdtempSync(join(work, 'toolcache-')), mkdtempSync(join(work, 'toolcache-'))];
  const coldVerified = async () => {
    const run = await install(signed, sources, verified);
    expectSignature(signed, run, true, true);
    return buildxResult(run).installMs;
  };
  const coldOff = async () => {
    const run = await install(signed, sources, off, { policy: SIGNATURE_OFF });
    expectSignature(signed, run, false, false);
    if (buildxResult(run).signature) throw new Error('signature: off reported a signature');
    return buildxResult(run).installMs;
  };
  let a: number, b: number;
  if (i % 2) {
    b = await coldOff();
    a = await coldVerified();
  } else {
    a = await coldVerified();
    b = await coldOff();
  }
  f.signedCold.push(a);
  f.signedOff.push(b);
  f.verifyCost.push(a - b);
  const hit = await install(signed, sources, verified);
  expectSignature(signed, hit, false, false);
  if (!buildxResult(hit).signature) throw new Error('the cache hit reported no signature');
  f.signedHit.push(buildxResult(hit).installMs);
  for (const dir of [verified, off]) rmSync(dir, { recursive: true, force: true });
}

/** Every round: the installs, then the bundles' loads, in turn first (one warm-up load of each before). */
async function measure(plain: Served, signed: Served, sources: string[]): Promise<Figures> {
  const f: Figures = {
    cold: [],
    warm: [],
    signedCold: [],
    signedOff: [],
    signedHit: [],
    verifyCost: [],
    load: [],
    baseLoad: [],
  };
  loadMs(actionEntry);
  if (BASE) loadMs(BASE);
  for (let i = 0; i < RUNS; i++) {
    await plainRound(plain, sources, f);
    await signedRound(signed, sources, f, i);
    const loads = [() => f.load.push(loadMs(actionEntry)), () => BASE && f.baseLoad.push(loadMs(BASE))];
    for (const load of i % 2 ? loads.reverse() : loads) load();
  }
  return f;
}

const stats = (xs: number[]) =>
  `${Math.round(median(xs))} ms (min ${Math.round(Math.min(...xs))}, max ${Math.round(Math.max(...xs))})`;
const kB = (bytes: number) => `${Math.round(bytes / 1000)} kB`;

/** The bundle at `entry`, its size and its chunks' (the other .js files beside it, loaded on demand). */
function bundleSizes(entry: string): string {
  const chunks = readdirSync(dirname(entry)).filter((f) => f.endsWith('.js') && f !== 'index.js');
  const chunkBytes = chunks.reduce((n, f) => n + statSync(join(dirname(entry), f)).size, 0);
  const main = kB(statSync(entry).size);
  return chunks.length ? `${main}; its chunks ${chunks.join(', ')}: ${kB(chunkBytes)}, not loaded` : main;
}

/** The table rows of the installs. */
function installRows(f: Figures): string[] {
  return [
    '| install | time |',
    '| --- | --- |',
    `| ${PLAIN}: download + sha256 verify + \`version\` check + tool cache, empty cache | ${stats(f.cold)} |`,
    `| ${PLAIN}: cache hit (the version recorded beside the cached binary reused: no \`version\` run, no network) | ${stats(f.warm)} |`,
    `| ${SIGNED}, signed: download + sha256 verify + Sigstore signature verification + \`version\` check + tool cache, empty cache | ${stats(f.signedCold)} |`,
    `| ${SIGNED}, the same with \`buildx.signature: off\` (no \`.sigstore.json\` fetched, the Sigstore libraries not loaded) | ${stats(f.signedOff)} |`,
    `| **signature verification** (fetching the \`.sigstore.json\`, loading the Sigstore libraries + verifying): signed minus \`signature: off\`, per round | **${stats(f.verifyCost)}** |`,
    `| ${SIGNED}, signed: cache hit (the verification recorded beside the cached binary reused: no \`.sigstore.json\` fetched, the Sigstore libraries not loaded) | ${stats(f.signedHit)} |`,
  ];
}

/** The table rows of the bundles' loads. */
function loadRows(f: Figures): string[] {
  const rows = [
    '| bundle (Node 24, `node dist/index.js` with GITHUB_ACTIONS=true and no inputs: it stops at its first input) | time |',
    '| --- | --- |',
    `| this bundle (${bundleSizes(actionEntry)}) | ${stats(f.load)} |`,
  ];
  if (!BASE) return rows;
  const diff = f.load.map((x, i) => x - (f.baseLoad[i] as number));
  return [
    ...rows,
    `| ${BASE_LABEL} (${bundleSizes(BASE)}) | ${stats(f.baseLoad)} |`,
    `| this bundle minus ${BASE_LABEL}, per round | ${stats(diff)} |`,
  ];
}

function report(f: Figures): string {
  const mb = (statSync(buildxPath()).size / 1e6).toFixed(1);
  return [
    '## The installer (bench/install.ts)',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}, Node ${spawnSync(node24Path(), ['--version']).stdout.toString().trim()}; ` +
      `local HTTP servers on 127.0.0.1, one serving Debian's buildx 0.13.1 (${mb} MB) as ${PLAIN} with its checksums.txt, ` +
      `one serving a signed ${SIGNED}: the test bed's wrapper that answers \`version\` as ${SIGNED} (so its \`version\` check is a shell \`echo\`, ` +
      `not buildx's own) and runs buildx 0.13.1 for the rest, padded to the same ${mb} MB, with its checksums.txt and a \`.sigstore.json\` ` +
      `signed by the test bed's own Sigstore trust root, given as \`sigstore-trusted-root\`. Medians of ${RUNS} rounds, each running ` +
      "every figure once; the install times are the bundled action's own (`result.buildx.installMs`, dry-run), a fresh tool cache for each cold install.",
    '',
    ...installRows(f),
    '',
    `The bundle's load: the time from spawning Node 24 to its exit (Node's start included), with the Sigstore libraries in chunks that only a signature check loads.`,
    '',
    ...loadRows(f),
    '',
  ].join('\n');
}

const reg = await startRegistry();
const plain: Served = {
  tag: PLAIN,
  server: await startReleaseServer({ binary: buildxPath(), releases: [{ tag: PLAIN }] }),
};
const signed = await serveSigned();
try {
  const sources = await pushPlatformImages(reg, 'bench-install/app', ['linux/amd64', 'linux/arm64']);
  const text = report(await measure(plain, signed, sources));
  writeSection('install', text);
  process.stdout.write(text);
} finally {
  await plain.server.stop();
  await signed.server.stop();
  await reg.stop();
  rmSync(work, { recursive: true, force: true });
}
