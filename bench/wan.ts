// The action against hand-made loops, on loopback and with the registry 25 ms away each way (the
// delay proxy of the test bed, in front of Debian's registry 2.8: every request and every response
// held 25 ms), on both real buildx versions, side by side in one run. Per K tags (6 platforms, a
// fresh repository each time), each run times, one after the other:
//   the action (dist/index.js as the runner starts it, buildx given as a path);
//   raw `imagetools create` with all K tags in one call;
//   the per-tag loop: one raw create per tag;
//   the retag loop: one raw create, then `imagetools create --tag X repo@digest` per other tag;
//   the PUT loop: one raw create, one curl GET of the index, then one curl PUT of those bytes per
//   other tag (what `crane tag` does), one process each.
// Targets: loopback, 40 tags: the action <= 0.5x the retag loop; 25 ms away: 10 tags
// <= 0.3x the retag loop, 1 tag <= 1.25x one raw create. Missed stays missed.
// BENCH_WAN_TAGS (default "1,10,40") sets K for the distant registry; loopback runs the largest K.
// BENCH_WAN_RUNS (default BENCH_RUNS, else 3) sets the runs. Writes the "wan" section of
// bench/RESULTS.md ($BENCH_RESULTS_DIR/RESULTS.md when set), after every row.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startDelayProxy } from '../__tests__/testbed/delay-proxy.ts';
import { pushPlatformImages } from '../__tests__/testbed/images.ts';
import { node24Path, realBuildxes } from '../__tests__/testbed/paths.ts';
import { runProcess } from '../__tests__/testbed/proc.ts';
import { readDigest, startRegistry } from '../__tests__/testbed/registry.ts';
import { runAction } from '../__tests__/testbed/runner.ts';
import { machine, median, writeSection } from './results.ts';

const RUNS = Number(process.env.BENCH_WAN_RUNS ?? process.env.BENCH_RUNS ?? 3);
const WAN_TAGS = (process.env.BENCH_WAN_TAGS ?? '1,10,40').split(',').map(Number);
const LOOPBACK_TAGS = Math.max(...WAN_TAGS);
const DELAY_MS = 25;
const SIX = ['linux/amd64', 'linux/arm64', 'linux/arm/v7', 'linux/s390x', 'linux/ppc64le', 'linux/386'];
const ms = (x: number) => `${Math.round(x)} ms`;
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
const verdict = (ok: boolean) => (ok ? 'met' : '**missed**');

const reg = await startRegistry();
const proxy = await startDelayProxy({ target: reg.url, delayMs: DELAY_MS });
const rawEnv = { ...process.env, DOCKER_CONFIG: mkdtempSync(join(tmpdir(), 'bench-wan-dc-')) };
const scratch = mkdtempSync(join(tmpdir(), 'bench-wan-'));
let n = 0;
const fresh = (name: string) => `${name}-${++n}/app`;
const tagsOf = (host: string, repo: string, k: number) =>
  Array.from({ length: k }, (_, i) => `${host}/${repo}:t${i + 1}`);

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function create(buildx: string, args: string[]): Promise<boolean> {
  const p = await runProcess(buildx, ['imagetools', 'create', '--progress=plain', ...args], {
    env: rawEnv,
    timeoutMs: 300_000,
  });
  return p.code === 0;
}

async function must(ok: Promise<boolean>, what: string): Promise<void> {
  if (!(await ok)) throw new Error(`${what} failed`);
}

async function curl(args: string[]): Promise<string> {
  const p = await runProcess('curl', ['-sS', '--fail', ...args], { timeoutMs: 60_000 });
  if (p.code !== 0) throw new Error(`curl ${args.join(' ')}: ${p.stderr}`);
  return p.stdout;
}

/** One raw create, then every other tag by a PUT of the index bytes (curl, one process each). */
async function putLoop(buildx: string, host: string, repo: string, k: number, src: string[]): Promise<void> {
  await must(create(buildx, ['--tag', `${host}/${repo}:t1`, ...src]), 'raw create');
  const file = join(scratch, `${repo.replace(/\W/g, '_')}.json`);
  const accept =
    'application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json';
  const type = await curl([
    '-o',
    file,
    '-w',
    '%{content_type}',
    '-H',
    `Accept: ${accept}`,
    `http://${host}/v2/${repo}/manifests/t1`,
  ]);
  for (let i = 2; i <= k; i++)
    await curl([
      '-o',
      '/dev/null',
      '-X',
      'PUT',
      '-H',
      `Content-Type: ${type}`,
      '--data-binary',
      `@${file}`,
      `http://${host}/v2/${repo}/manifests/t${i}`,
    ]);
}

/** One raw create, then one `imagetools create --tag X repo@digest` per other tag. */
async function retagLoop(
  buildx: string,
  host: string,
  repo: string,
  k: number,
  src: string[],
): Promise<void> {
  const [first, ...rest] = tagsOf(host, repo, k);
  await must(create(buildx, ['--tag', first as string, ...src]), 'raw create');
  const digest = await readDigest({ url: `http://${host}` }, repo, 't1');
  for (const t of rest) await must(create(buildx, ['--tag', t, `${host}/${repo}@${digest}`]), 'raw retag');
}

async function allHold(repo: string, k: number, digest: string): Promise<boolean> {
  for (let i = 1; i <= k; i++) if ((await readDigest(reg, repo, `t${i}`)) !== digest) return false;
  return true;
}

interface Figures {
  action: number[];
  actionOk: number;
  all: number[];
  allOk: number;
  loop: number[];
  retag: number[];
  put: number[];
}

async function measure(buildx: string, host: string, k: number, src: string[]): Promise<Figures> {
  const f: Figures = { action: [], actionOk: 0, all: [], allOk: 0, loop: [], retag: [], put: [] };
  for (let i = 0; i < RUNS; i++) {
    const repo = fresh(`act${k}`);
    const a = await runAction({
      inputs: { sources: src.join('\n'), tags: tagsOf(host, repo, k).join('\n'), 'buildx-version': buildx },
      timeoutMs: 600_000,
    });
    f.action.push(a.durationMs);
    if (a.code === 0 && (await allHold(repo, k, a.outputs.digest as string))) f.actionOk++;
    else process.stderr.write(a.stdout.slice(-1500));
    let ok = false;
    const allTags = tagsOf(host, fresh(`all${k}`), k).flatMap((t) => ['--tag', t]);
    f.all.push(await timed(async () => void (ok = await create(buildx, [...allTags, ...src]))));
    if (ok) f.allOk++;
    if (k === 1) continue; // every loop is one raw create
    const loopRepo = fresh(`loop${k}`);
    f.loop.push(
      await timed(async () => {
        for (const t of tagsOf(host, loopRepo, k))
          await must(create(buildx, ['--tag', t, ...src]), 'raw per-tag loop');
      }),
    );
    f.retag.push(await timed(() => retagLoop(buildx, host, fresh(`retag${k}`), k, src)));
    f.put.push(await timed(() => putLoop(buildx, host, fresh(`put${k}`), k, src)));
  }
  return f;
}

/** The target of a row, as text and as met/missed. */
function target(where: 'loopback' | 'wan', k: number, f: Figures): string {
  const a = median(f.action);
  if (k === 1 && where === 'loopback') return `${ratio(a, median(f.all))} of one raw create (no target)`;
  if (k === 1)
    return `${ratio(a, median(f.all))} of one raw create, target <= 1.25x (${verdict(a / median(f.all) <= 1.25)})`;
  const r = a / median(f.retag);
  if (where === 'loopback' && k === 40)
    return `${r.toFixed(2)}x of the retag loop, target <= 0.5x (${verdict(r <= 0.5)})`;
  if (where === 'wan' && k === 10)
    return `${r.toFixed(2)}x of the retag loop, target <= 0.3x (${verdict(r <= 0.3)})`;
  return `${r.toFixed(2)}x of the retag loop (no target)`;
}

function row(where: 'loopback' | 'wan', version: string, k: number, f: Figures): string {
  const loops =
    k === 1
      ? ['= one raw create', '= one raw create', '= one raw create']
      : [f.loop, f.retag, f.put].map((x) => ms(median(x)));
  return `| ${where === 'wan' ? `${DELAY_MS} ms away` : 'loopback'} | ${version} | ${k} | ${ms(median(f.action))}, ${f.actionOk}/${RUNS} verified | ${ms(median(f.all))}, ${f.allOk}/${RUNS} succeeded | ${loops.join(' | ')} | ${target(where, k, f)} |`;
}

const rows: string[] = [];
const nodeVersion = (await runProcess(node24Path(), ['--version'])).stdout.trim();
function write(): void {
  const text = [
    '## A distant registry (bench/wan.ts)',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}, Node ${nodeVersion}, Debian's registry 2.8 on 127.0.0.1, ` +
      `directly ("loopback") and behind the test bed's delay proxy, which holds every request and every response ${DELAY_MS} ms ` +
      `("${DELAY_MS} ms away": at least ${2 * DELAY_MS} ms per round trip). 6 platforms, a fresh repository per figure; medians of ${RUNS} runs, ` +
      'each paired with its baselines in the same run. The action: whole runs of `dist/index.js` as the runner starts it, buildx given as a path, ' +
      'every tag read back. The loops: one process per step, the first create included in each; the PUT loop: one curl GET of the index, ' +
      'then one curl PUT of its bytes per other tag (as `crane tag` does).',
    '',
    '| registry | buildx | tags | the action | raw, all tags in one call | per-tag loop | create, then retag loop | create, then PUT loop (curl) | the action vs target |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
  writeSection('wan', text);
}

try {
  const direct = await pushPlatformImages(reg, 'bench-wan-src/app', SIX);
  const viaProxy = direct.map((r) => r.replace(reg.host, proxy.host));
  const plan: { where: 'loopback' | 'wan'; host: string; src: string[]; ks: number[] }[] = [
    { where: 'loopback', host: reg.host, src: direct, ks: [LOOPBACK_TAGS] },
    { where: 'wan', host: proxy.host, src: viaProxy, ks: WAN_TAGS },
  ];
  for (const bx of realBuildxes())
    await create(bx.path, ['--tag', `${reg.host}/${fresh('warm')}:t`, ...direct]);
  for (const { where, host, src, ks } of plan)
    for (const k of ks)
      for (const bx of realBuildxes()) {
        const f = await measure(bx.path, host, k, src);
        rows.push(row(where, bx.version, k, f));
        process.stdout.write(`${rows.at(-1)}\n`);
        write();
      }
} finally {
  await proxy.stop();
  await reg.stop();
}
