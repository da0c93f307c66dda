// The action against the tools a user would pick instead, side by side in one run: raw
// `docker buildx imagetools create` with every tag in one call, `oras manifest index create` with
// every tag in one call, and `crane index append` followed by one `crane tag` per further tag (one
// process each). Debian's registry 2.8 on 127.0.0.1, directly ("loopback") and behind the test
// bed's delay proxy ("25 ms away", as bench/wan.ts); 6 platforms (wan.ts's six); every tool into a
// fresh repository each run, its result read back (all K tags hold one index of the six sources).
// Two source layouts:
//   same repository: the platform images pushed by digest into the repository the tags go to
//     (Docker's multi-runner pattern), fresh ones for every tool and run;
//   another repository: the platform images in a separate repository (oras cannot: n/a).
// Targets (25 ms away, buildx 0.29.1, same repository): 10 tags, the action <= 0.8x the fastest
// peer; 1 tag, <= 1.0x one raw create; 0 buildx pushes by the action at every K. Missed stays missed.
// BENCH_PEERS_TAGS sets K (default BENCH_WAN_TAGS when set, so CI's short run is 1 tag, else
// "1,10,40"); BENCH_PEERS_RUNS the runs (default BENCH_RUNS, else 3); BENCH_PEERS_BUILDX the buildx
// versions (default "0.29.1"; "0.13.1,0.29.1" adds trixie's). Writes the "peers" section of
// bench/RESULTS.md ($BENCH_RESULTS_DIR/RESULTS.md when set), after every row.
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';

import { startDelayProxy } from '../__tests__/testbed/delay-proxy.ts';
import { pushPlatformImagesDetailed, type PushedImage } from '../__tests__/testbed/images.ts';
import { actionEntry, cranePath, node24Path, orasPath, realBuildxes } from '../__tests__/testbed/paths.ts';
import { runProcess, type ProcessResult } from '../__tests__/testbed/proc.ts';
import { readDigest, readManifest, startRegistry } from '../__tests__/testbed/registry.ts';
import { runAction } from '../__tests__/testbed/runner.ts';
import { machine, median, writeSection } from './results.ts';

const RUNS = Number(process.env.BENCH_PEERS_RUNS ?? process.env.BENCH_RUNS ?? 3);
const TAGS = (process.env.BENCH_PEERS_TAGS ?? process.env.BENCH_WAN_TAGS ?? '1,10,40').split(',').map(Number);
const BUILDX_VERSIONS = (process.env.BENCH_PEERS_BUILDX ?? '0.29.1').split(',').map((v) => v.trim());
const DELAY_MS = 25;
const SIX = ['linux/amd64', 'linux/arm64', 'linux/arm/v7', 'linux/s390x', 'linux/ppc64le', 'linux/386'];
const PROCESS_TIMEOUT_MS = 300_000;
const INDEX_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
];

type Where = 'loopback' | 'wan';
type Layout = 'same' | 'other';
type Peer = 'raw' | 'oras' | 'crane';
const PEERS: Peer[] = ['raw', 'oras', 'crane'];
const PEER_NAMES: Record<Peer, string> = {
  raw: 'raw `imagetools create`, all tags in one call',
  oras: '`oras manifest index create`, all tags in one call',
  crane: '`crane index append`, then `crane tag` per tag',
};

const SHORT: Record<Peer, string> = { raw: 'raw create', oras: 'oras', crane: 'crane' };

const ms = (x: number) => `${Math.round(x)} ms`;
const verdict = (ok: boolean) => (ok ? 'met' : '**missed**');

if (TAGS.some((k) => !Number.isInteger(k) || k < 1)) throw new Error(`BENCH_PEERS_TAGS: bad list ${TAGS}`);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`BENCH_PEERS_RUNS: bad count ${RUNS}`);
const buildxes = BUILDX_VERSIONS.map((v) => {
  const bx = realBuildxes().find((b) => b.version === v);
  if (!bx)
    throw new Error(
      `BENCH_PEERS_BUILDX: no buildx ${v} on the test bed (${realBuildxes().map((b) => b.version)})`,
    );
  return bx;
});
const oras = orasPath();
const crane = cranePath();

// The bundle may be rebuilt while the benchmark runs (the e2e tests rebundle dist/ when src/ changed):
// every run of the action uses one copy of it (with the package.json that makes it a module), taken
// at the start and named in the header by its hash.
const bundleDir = mkdtempSync(join(tmpdir(), 'bench-peers-dist-'));
const entry = join(bundleDir, basename(actionEntry));
cpSync(actionEntry, entry);
const bundlePackage = join(dirname(actionEntry), 'package.json');
if (existsSync(bundlePackage)) cpSync(bundlePackage, join(bundleDir, 'package.json'));
const bundle = createHash('sha256').update(readFileSync(entry)).digest('hex').slice(0, 12);

const started = performance.now();
const reg = await startRegistry();
const proxy = await startDelayProxy({ target: reg.url, delayMs: DELAY_MS });
const dockerConfig = mkdtempSync(join(tmpdir(), 'bench-peers-dc-'));
// The peers run with an empty Docker config (no credentials, no buildx builders), as wan.ts's raw runs.
const rawEnv = { ...process.env, DOCKER_CONFIG: dockerConfig };
let n = 0;
const fresh = (name: string) => `peers-${name}-${++n}/app`;
const tagNames = (k: number) => Array.from({ length: k }, (_, i) => `t${i + 1}`);

function failed(what: string, p: ProcessResult): false {
  const lines = `${p.stdout}\n${p.stderr}`.trim().split('\n');
  const errors = lines.filter((l) => /\berror\b/i.test(l));
  const out = (errors.length ? errors : lines).slice(-4).join('\n');
  process.stderr.write(`peers: ${what} exited ${p.code ?? p.signal}:\n${out}\n`);
  return false;
}

async function run(file: string, args: string[], what: string): Promise<boolean> {
  const p = await runProcess(file, args, { env: rawEnv, timeoutMs: PROCESS_TIMEOUT_MS });
  return p.code === 0 || failed(what, p);
}

/** Every tag holds one index whose manifests are exactly the sources (read from the registry directly). */
async function allHold(repo: string, k: number, sources: PushedImage[]): Promise<boolean> {
  const first = await readManifest(reg, repo, 't1');
  if (!first || !INDEX_TYPES.includes(first.mediaType)) return false;
  const children = ((first.json.manifests ?? []) as { digest?: string }[]).map((m) => m.digest).sort();
  const want = sources.map((s) => s.digest).sort();
  if (children.length !== want.length || children.some((d, i) => d !== want[i])) return false;
  for (let i = 2; i <= k; i++) if ((await readDigest(reg, repo, `t${i}`)) !== first.digest) return false;
  return true;
}

/** One measured try of one tool: how long, whether the registry holds the result, buildx pushes (the action). */
interface Try {
  ms: number;
  ok: boolean;
  pushes?: number;
}

interface Case {
  where: Where;
  host: string;
  layout: Layout;
  k: number;
  buildx: string;
  /** Sources in another repository (layout 'other'), pushed once for all its runs. */
  shared?: PushedImage[];
}

/** The sources of one try, and the repository its tags go to. */
async function setUp(
  c: Case,
  tool: string,
): Promise<{ repo: string; sources: PushedImage[]; refs: string[] }> {
  const repo = fresh(`${tool}${c.k}`);
  const sources = c.shared ?? (await pushPlatformImagesDetailed(reg, repo, SIX, { tagPrefix: 'src-' }));
  const refs = sources.map((s) => s.digestRef.replace(reg.host, c.host));
  return { repo, sources, refs };
}

async function timed(fn: () => Promise<boolean>): Promise<{ ms: number; ok: boolean }> {
  const t0 = performance.now();
  const ok = await fn();
  return { ms: performance.now() - t0, ok };
}

async function tryAction(c: Case): Promise<Try> {
  const { repo, sources, refs } = await setUp(c, 'action');
  const a = await runAction({
    inputs: {
      sources: refs.join('\n'),
      tags: tagNames(c.k)
        .map((t) => `${c.host}/${repo}:${t}`)
        .join('\n'),
      'buildx-version': c.buildx,
    },
    timeoutMs: 600_000,
    entry,
  });
  let pushes: number | undefined;
  try {
    const result = JSON.parse(a.outputs.result ?? '') as { attempts?: { invocation: number | 'oracle' }[] };
    pushes = (result.attempts ?? []).filter((x) => x.invocation !== 'oracle').length;
  } catch {
    pushes = undefined; // no result output: counted as a failure below
  }
  const ok = a.code === 0 && pushes !== undefined && (await allHold(repo, c.k, sources));
  if (!ok)
    process.stderr.write(
      `peers: the action failed (exit ${a.code ?? a.signal}):\n${a.stdout.slice(-1500)}\n`,
    );
  return { ms: a.durationMs, ok, pushes };
}

async function tryPeer(c: Case, peer: Peer): Promise<Try> {
  const { repo, sources, refs } = await setUp(c, peer);
  const target = `${c.host}/${repo}`;
  const tags = tagNames(c.k);
  let t: { ms: number; ok: boolean };
  if (peer === 'raw') {
    const args = [
      'imagetools',
      'create',
      '--progress=plain',
      ...tags.flatMap((x) => ['--tag', `${target}:${x}`]),
    ];
    t = await timed(() => run(c.buildx, [...args, ...refs], 'imagetools create'));
  } else if (peer === 'oras') {
    // Sources by digest alone: oras takes them from the target repository.
    const digests = sources.map((s) => s.digest);
    const args = ['manifest', 'index', 'create', '--plain-http', `${target}:${tags.join(',')}`, ...digests];
    t = await timed(() => run(oras, args, 'oras manifest index create'));
  } else {
    t = await timed(async () => {
      const append = [
        'index',
        'append',
        '--insecure',
        ...refs.flatMap((r) => ['-m', r]),
        '-t',
        `${target}:t1`,
      ];
      if (!(await run(crane, append, 'crane index append'))) return false;
      for (const x of tags.slice(1))
        if (!(await run(crane, ['tag', '--insecure', `${target}:t1`, x], 'crane tag'))) return false;
      return true;
    });
  }
  return { ...t, ok: t.ok && (await allHold(repo, c.k, sources)) };
}

type Tool = 'action' | Peer;

/** The tools of a case, each RUNS times; the order rotates per run so none always goes first. */
async function measure(c: Case): Promise<Record<Tool, Try[]>> {
  const tools: Tool[] = ['action', ...PEERS.filter((p) => !(p === 'oras' && c.layout === 'other'))];
  const tries: Record<Tool, Try[]> = { action: [], raw: [], oras: [], crane: [] };
  for (let i = 0; i < RUNS; i++)
    for (let j = 0; j < tools.length; j++) {
      const tool = tools[(i + j) % tools.length] as Tool;
      tries[tool].push(tool === 'action' ? await tryAction(c) : await tryPeer(c, tool));
    }
  return tries;
}

/** The median of the runs that succeeded (NaN when none did). */
function okMedian(ts: Try[]): number {
  const ok = ts.filter((t) => t.ok).map((t) => t.ms);
  return ok.length ? median(ok) : Number.NaN;
}

function cell(ts: Try[]): string {
  if (ts.length === 0) return 'n/a (sources in the same repository only)';
  const ok = ts.filter((t) => t.ok).length;
  const time = ok ? ms(okMedian(ts)) : `${ms(median(ts.map((t) => t.ms)))} (failed runs)`;
  return `${time}, ${ok}/${ts.length} verified`;
}

function pushesCell(ts: Try[]): string {
  const p = ts.map((t) => t.pushes).filter((x): x is number => x !== undefined);
  if (p.length === 0) return 'unknown';
  const lo = Math.min(...p);
  const hi = Math.max(...p);
  return lo === hi ? `${lo}` : `${lo}-${hi}`;
}

function judge(c: Case, version: string, tries: Record<Tool, Try[]>): string {
  const action = okMedian(tries.action);
  const peers = PEERS.map((p) => ({ p, t: okMedian(tries[p]) })).filter((x) => !Number.isNaN(x.t));
  const fastest = peers.sort((a, b) => a.t - b.t)[0];
  const vsFastest = fastest
    ? `${(action / fastest.t).toFixed(2)}x the fastest peer (${SHORT[fastest.p]})`
    : 'no peer succeeded';
  const targeted = c.where === 'wan' && version === '0.29.1' && c.layout === 'same';
  if (Number.isNaN(action)) return `the action failed every run${targeted ? ' (**missed**)' : ''}`;
  if (!targeted) return `${vsFastest} (no target)`;
  const pushes = tries.action.map((t) => t.pushes ?? Number.POSITIVE_INFINITY);
  const most = Math.max(...pushes);
  const zero = `at most ${Number.isFinite(most) ? most : 'unknown'} buildx pushes, target 0 (${verdict(most === 0)})`;
  if (c.k === 10)
    return `${vsFastest}, target <= 0.8x (${verdict(!!fastest && action / fastest.t <= 0.8)}); ${zero}`;
  if (c.k === 1) {
    const raw = okMedian(tries.raw);
    const r = action / raw;
    return `${Number.isNaN(r) ? 'raw create failed' : `${r.toFixed(2)}x one raw create`}, target <= 1.0x (${verdict(r <= 1)}); ${vsFastest}; ${zero}`;
  }
  return `${vsFastest} (no time target); ${zero}`;
}

const LAYOUT_NAMES: Record<Layout, string> = { same: 'same repository', other: 'another repository' };

function row(c: Case, version: string, tries: Record<Tool, Try[]>): string {
  const where = c.where === 'wan' ? `${DELAY_MS} ms away` : 'loopback';
  return `| ${where} | ${LAYOUT_NAMES[c.layout]} | ${version} | ${c.k} | ${cell(tries.action)} | ${pushesCell(tries.action)} | ${PEERS.map((p) => cell(tries[p])).join(' | ')} | ${judge(c, version, tries)} |`;
}

/** The package version the test bed recorded next to an unpacked tool (`.deb-version`), if any. */
function debVersion(binary: string): string | undefined {
  let dir = dirname(realpathSync(binary));
  for (let i = 0; i < 4; i++, dir = dirname(dir)) {
    const stamp = join(dir, '.deb-version');
    if (existsSync(stamp)) return readFileSync(stamp, 'utf8').trim();
  }
  return undefined;
}

async function firstLine(file: string, args: string[], pattern = /./): Promise<string> {
  const p = await runProcess(file, args, { env: rawEnv });
  return (`${p.stdout}\n${p.stderr}`.split('\n').find((l) => pattern.test(l)) ?? 'unknown').trim();
}

const versions = {
  node: (await runProcess(node24Path(), ['--version'])).stdout.trim(),
  oras: (await firstLine(oras, ['version'], /^Version:/)).replace(/^Version:\s*/, ''),
  crane: debVersion(crane) ?? (await firstLine(crane, ['version'])),
  buildx: await Promise.all(
    buildxes.map(async (b) =>
      (await firstLine(b.path, ['version'])).replace(/^github\.com\/docker\/buildx\s+/, ''),
    ),
  ),
};

const rows: string[] = [];
let tookMs: number | undefined;
function write(): void {
  const text = [
    '## The action and its peers (bench/peers.ts)',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}, Node ${versions.node}, oras ${versions.oras} and crane ${versions.crane} ` +
      `(go-containerregistry) from Debian unstable, buildx ${versions.buildx.join(' and ')}; ` +
      `\`node scripts/run-node24.mjs bench/peers.ts\`${tookMs === undefined ? ' (running)' : `, ${(tookMs / 60_000).toFixed(1)} min`}; ` +
      `the action's bundle \`dist/index.js\` sha256 prefix ${bundle} (copied at the start). ` +
      `Debian's registry 2.8 on 127.0.0.1, directly ("loopback") and behind the test bed's delay proxy, which holds every request and every response ${DELAY_MS} ms ` +
      `("${DELAY_MS} ms away"). 6 platforms; every tool writes K tags into a fresh repository each run, and every result is read back ` +
      '(all K tags hold one index of exactly the six sources); a run whose result is wrong or whose tool failed does not count, ' +
      `"n/${RUNS} verified" says how many did. Medians of the verified runs of ${RUNS}, the order of the tools rotated per run. ` +
      'The action: whole runs of `dist/index.js` as the runner starts it, buildx given as a path, defaults otherwise; ' +
      '"buildx pushes": its attempts that are not the --dry-run (from its `result` output). ' +
      'The peers, one process per step, an empty Docker config: raw `buildx imagetools create --progress=plain` with every tag in one call; ' +
      '`oras manifest index create --plain-http <repo>:t1,...,tK <digest>...` (sources by digest, from the target repository only); ' +
      '`crane index append --insecure -m <source>... -t <repo>:t1`, then `crane tag --insecure <repo>:t1 tN` per further tag. ' +
      "Same repository: the platform images pushed by digest into the repository the tags go to (Docker's multi-runner pattern), " +
      'fresh for every tool and run; another repository: the platform images in one separate repository, pushed once. ' +
      'Targets (25 ms away, buildx 0.29.1, same repository): 10 tags, the action <= 0.8x the fastest peer; 1 tag, <= 1.0x one raw create; ' +
      '0 buildx pushes by the action at every K.',
    '',
    `| registry | sources | buildx | tags | the action | buildx pushes (action) | ${PEERS.map((p) => PEER_NAMES[p]).join(' | ')} | the action vs peers / target |`,
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
  writeSection('peers', text);
}

try {
  // Warm each tool's binary and the registry once, unmeasured.
  const warm = await pushPlatformImagesDetailed(reg, 'peers-warm/app', SIX);
  for (const bx of buildxes)
    await run(
      bx.path,
      [
        'imagetools',
        'create',
        '--progress=plain',
        '--tag',
        `${reg.host}/peers-warm/app:bx`,
        ...warm.map((w) => w.digestRef),
      ],
      'warm-up',
    );
  await run(
    oras,
    [
      'manifest',
      'index',
      'create',
      '--plain-http',
      `${reg.host}/peers-warm/app:oras`,
      ...warm.map((w) => w.digest),
    ],
    'warm-up',
  );
  await run(
    crane,
    [
      'index',
      'append',
      '--insecure',
      ...warm.flatMap((w) => ['-m', w.digestRef]),
      '-t',
      `${reg.host}/peers-warm/app:crane`,
    ],
    'warm-up',
  );

  const shared = await pushPlatformImagesDetailed(reg, 'peers-src/app', SIX);
  for (const where of ['loopback', 'wan'] as const) {
    const host = where === 'wan' ? proxy.host : reg.host;
    for (const layout of ['same', 'other'] as const)
      for (const k of TAGS)
        for (const bx of buildxes) {
          const c: Case = {
            where,
            host,
            layout,
            k,
            buildx: bx.path,
            ...(layout === 'other' ? { shared } : {}),
          };
          rows.push(row(c, bx.version, await measure(c)));
          process.stdout.write(`${rows.at(-1)}\n`);
          write();
        }
  }
  tookMs = performance.now() - started;
  write();
  process.stdout.write(`peers: ${rows.length} rows in ${(tookMs / 1000).toFixed(0)} s\n`);
} finally {
  await proxy.stop();
  await reg.stop();
  rmSync(dockerConfig, { recursive: true, force: true });
  rmSync(bundleDir, { recursive: true, force: true });
}
