// The fault matrix: the action and a raw `buildx imagetools create` side by side, on the same
// faults, a 6-platform 5-tag merge per trial into a fresh repository.
//
//   proxy faults  the fault proxy (__tests__/testbed/fault-proxy.ts) between buildx and registry 2.8
//                 answers 5xx or 429, resets connections or stalls, at a rate; or plays a registry
//                 habit: read-after-write lag, ECR's immutable tags (on a re-run: every tag already
//                 holds the index), 429 with a wait, GHCR's 403 secondary rate limit
//   shim faults   the fault shim stands in for buildx: a Go crash, a crash after the push landed, a
//                 hang, a registry error; each on the first push invocation only, then it passes
//   401           a registry with htpasswd auth as the target, no credentials
//
// Every tag is read back from the registry directly (never through the proxy). Correctness
// failures of the action (a tag it reported done that does not hold the expected index, a retry
// spent on a permanent error) make the script exit 1; a trial that fails on a tough fault is a
// figure, not a failure.
//
// Writes bench/FAULTS.md ($BENCH_RESULTS_DIR/FAULTS.md when set). Run: `npm run faults` after
// `npm run testbed`. FAULT_TRIALS (default 10; 2 with FAULT_SET=short) trials per fault;
// FAULT_SET=short runs a representative subset; FAULT_ONLY=id,id runs only those faults.
// FAULT_SOURCES=target pushes each trial's sources by digest into the repository its tags go to
// (Docker's multi-runner pattern: the action then runs no buildx push, it writes every tag by
// manifest PUT), instead of one sources repository by tag; the 401 fault is left out there (the
// sources would be behind the same login).
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type FaultRule, startFaultProxy } from '../__tests__/testbed/fault-proxy.ts';
import { pushByDigest } from '../__tests__/testbed/by-digest.ts';
import { platformTag, pushPlatformImages } from '../__tests__/testbed/images.ts';
import { actionEntry, buildxPath, node24Path, repoRoot } from '../__tests__/testbed/paths.ts';
import { readDigest, readManifest, type Registry, startRegistry } from '../__tests__/testbed/registry.ts';
import { type ActionRun, killLeftovers, runAction } from '../__tests__/testbed/runner.ts';
import { makeShim, type ShimStep } from '../__tests__/testbed/shim.ts';
import { machine, median } from './results.ts';

const SET = process.env.FAULT_SET ?? 'full';
const TRIALS = Number(process.env.FAULT_TRIALS ?? (SET === 'short' ? 2 : 10));
const ONLY = (process.env.FAULT_ONLY ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const OUT_DIR = process.env.BENCH_RESULTS_DIR || join(repoRoot, 'bench');
const SIX = ['linux/amd64', 'linux/arm64', 'linux/arm/v7', 'linux/s390x', 'linux/ppc64le', 'linux/386'];
const TAGS = 5;
const AUTH = { username: 'bench', password: 'fault-matrix' };
const LAYOUT = process.env.FAULT_SOURCES ?? 'elsewhere';
if (LAYOUT !== 'elsewhere' && LAYOUT !== 'target')
  throw new Error(`FAULT_SOURCES must be "elsewhere" or "target", got "${LAYOUT}"`);
/** The same bytes in every repository (by-digest.ts): one expected digest for every trial. */
const SEED = 'fault-matrix';

if (!Number.isInteger(TRIALS) || TRIALS < 1) throw new Error(`FAULT_TRIALS must be a whole number >= 1`);
if (SET !== 'full' && SET !== 'short') throw new Error(`FAULT_SET must be "full" or "short", got "${SET}"`);

interface Fault {
  id: string;
  /** markdown for the fault column */
  label: string;
  kind: 'proxy' | 'shim' | 'auth';
  /** proxy faults: the rules, one run each */
  rules?: FaultRule[];
  /** shim faults: the script */
  steps?: ShimStep[];
  /** inputs for the action beyond the common ones */
  inputs?: Record<string, string>;
  /** raw buildx is SIGKILLed after this long and the run counts as failed (hung) */
  rawCapMs: number;
  /** part of FAULT_SET=short */
  short?: boolean;
  /** a re-run: every tag holds the expected index before the trial (written straight to the registry) */
  rerun?: boolean;
}

const rateOf = (r: FaultRule) =>
  r.times !== undefined ? `first ${r.times}` : `${Math.round((r.rate ?? 1) * 100)} %`;

const FAULTS: Fault[] = [
  { id: 'none', label: 'none (the proxy passes everything)', kind: 'proxy', rules: [], rawCapMs: 60_000 },
  {
    id: 'manifest-put-503',
    label: 'manifest PUT → 503',
    kind: 'proxy',
    rules: [{ match: 'manifest-put', action: { status: 503 }, rate: 0.4 }],
    rawCapMs: 60_000,
    short: true,
  },
  {
    id: 'manifest-put-500',
    label: 'manifest PUT → 500',
    kind: 'proxy',
    rules: [{ match: 'manifest-put', action: { status: 500 }, rate: 0.4 }],
    rawCapMs: 60_000,
  },
  {
    id: 'any-502',
    label: 'any request → 502',
    kind: 'proxy',
    rules: [{ match: 'any', action: { status: 502 }, rate: 0.01 }],
    rawCapMs: 60_000,
  },
  {
    id: 'head-504',
    label: 'HEAD → 504',
    kind: 'proxy',
    rules: [{ match: 'head', action: { status: 504 }, rate: 0.1 }],
    rawCapMs: 60_000,
  },
  {
    id: 'any-429',
    label: 'any request → 429 `toomanyrequests`',
    kind: 'proxy',
    rules: [{ match: 'any', action: 'toomanyrequests', rate: 0.4 }],
    rawCapMs: 60_000,
    short: true,
  },
  {
    id: 'blob-upload-reset',
    label: 'blob upload → connection reset',
    kind: 'proxy',
    rules: [{ match: 'blob-upload', action: 'reset', rate: 0.5 }],
    rawCapMs: 60_000,
  },
  {
    id: 'manifest-put-reset',
    label: 'manifest PUT → reset mid-response (the PUT lands)',
    kind: 'proxy',
    rules: [{ match: 'manifest-put', action: 'reset', rate: 0.4 }],
    rawCapMs: 60_000,
    short: true,
  },
  // The action's own manifest PUTs (tag-method put), faulted alone (buildx's requests pass): the
  // manifest-put-* rules above hit both.
  {
    id: 'action-put-503',
    label: "the action's manifest PUT → 503",
    kind: 'proxy',
    rules: [{ match: 'manifest-put', from: 'action', action: { status: 503 }, rate: 0.4 }],
    rawCapMs: 60_000,
  },
  {
    id: 'action-put-429-retry-after',
    label: "the action's manifest PUT → 429 with `Retry-After: 1`",
    kind: 'proxy',
    rules: [{ match: 'manifest-put', from: 'action', action: { status: 429, retryAfter: 1 }, rate: 0.4 }],
    rawCapMs: 60_000,
  },
  {
    id: 'action-put-reset',
    label: "the action's manifest PUT → reset mid-response (the PUT lands)",
    kind: 'proxy',
    rules: [{ match: 'manifest-put', from: 'action', action: 'reset', rate: 0.4 }],
    rawCapMs: 60_000,
  },
  {
    id: 'manifest-put-stall',
    label: 'manifest PUT → stall 8 s (action: `buildx-idle-timeout: 3s`)',
    kind: 'proxy',
    rules: [{ match: 'manifest-put', action: { stall: 8000 }, times: 1 }],
    inputs: { 'buildx-idle-timeout': '3s' },
    rawCapMs: 60_000,
    short: true,
  },
  {
    id: 'lag',
    label: 'read-after-write lag: after a manifest PUT, reads of that tag → 404 for 3 s',
    kind: 'proxy',
    rules: [{ match: 'manifest-put', action: { lagMs: 3000 } }],
    rawCapMs: 60_000,
    short: true,
  },
  {
    id: 'immutable',
    label:
      'immutable tags (ECR), a re-run: every tag already holds the index; a PUT to an existing tag → 400 `TAG_INVALID`',
    kind: 'proxy',
    rules: [{ match: 'manifest-put', action: 'immutable' }],
    rerun: true,
    rawCapMs: 60_000,
    short: true,
  },
  {
    id: 'any-429-retry-after',
    label: 'any request → 429 with `Retry-After: 1`',
    kind: 'proxy',
    rules: [{ match: 'any', action: { status: 429, retryAfter: 1 }, rate: 0.2 }],
    rawCapMs: 60_000,
    short: true,
  },
  {
    id: 'any-429-wait-in-text',
    label: 'any request → 429, the wait in the text (GHCR: `retry-after: 12.5ms, allowed: 2000/minute`)',
    kind: 'proxy',
    rules: [{ match: 'any', action: { status: 429, waitInText: '12.5ms' }, rate: 0.2 }],
    rawCapMs: 60_000,
  },
  {
    id: 'any-403-secondary-rate-limit',
    label: "any request → 403 GHCR's secondary rate limit",
    kind: 'proxy',
    rules: [{ match: 'any', action: 'secondary-rate-limit', rate: 0.1 }],
    rawCapMs: 60_000,
    short: true,
  },
  {
    id: 'shim-crash',
    label: 'shim: Go crash on the first push, then pass',
    kind: 'shim',
    steps: ['crash', 'pass'],
    rawCapMs: 60_000,
    short: true,
  },
  {
    id: 'shim-crash-after-push',
    label: 'shim: crash after the push landed, then pass',
    kind: 'shim',
    steps: ['crash-after-push', 'pass'],
    rawCapMs: 60_000,
  },
  {
    id: 'shim-hang',
    label: 'shim: hang on the first push, then pass (action: `buildx-idle-timeout: 3s`)',
    kind: 'shim',
    steps: ['hang', 'pass'],
    inputs: { 'buildx-idle-timeout': '3s' },
    rawCapMs: 20_000,
  },
  {
    id: 'shim-registry-error',
    label: 'shim: registry error (503) on the first push, then pass',
    kind: 'shim',
    steps: ['registry-error', 'pass'],
    rawCapMs: 60_000,
  },
  {
    id: 'auth-401',
    label: 'target registry requires auth, no credentials (401)',
    kind: 'auth',
    rawCapMs: 60_000,
    short: true,
  },
];

interface ActionTrial {
  ok: boolean;
  attempts: number;
  lost: number;
  permanentRetries: number;
  ms: number;
  /** one label per failed attempt: `[dry-run ]class (signature)` */
  classes: string[];
  /** label -> the line that proved it */
  examples: [string, string][];
  leftovers: number;
  timedOut: boolean;
  note?: string;
}

interface RawTrial {
  ok: boolean;
  hung: boolean;
  lost: number;
  ms: number;
  error: string;
}

interface Row {
  fault: Fault;
  action: ActionTrial[];
  raw: RawTrial[];
  /** requests the proxy saw and faulted, over all runs of this fault */
  requests: number;
  faulted: number;
}

function seedOf(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0);
}

/** Runs a program without a shell in its own process group; SIGKILLs the group after `capMs`. */
function runCapped(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  capMs: number,
): Promise<{ code: number | null; hung: boolean; ms: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(file, args, { env, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    const err: Buffer[] = [];
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    let hung = false;
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // the group is gone
      }
    };
    const timer = setTimeout(() => {
      hung = true;
      killGroup();
    }, capMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      const ms = performance.now() - t0;
      // Whatever it left behind (the hang shim's child) goes with it.
      killGroup();
      const done = () => resolve({ code, hung, ms, stderr: Buffer.concat(err).toString('utf8') });
      if (child.stderr?.readableEnded) done();
      else {
        child.stderr?.once('close', done);
        setTimeout(done, 2000).unref();
      }
    });
  });
}

/** The last `ERROR:` line of buildx's output (or its last line), without the progress prefix. */
function errorLine(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.replace(/^#\d+ (\d+\.\d+ )?/, '').trim())
    .filter(Boolean);
  const errors = lines.filter((l) => /^(ERROR|error)\b|^fatal error:|^panic:/.test(l));
  return (errors.at(-1) ?? lines.at(-1) ?? '').slice(0, 300);
}

/** The index digest `--dry-run` prints, as the action computes it: sha256 of the bytes without the last newline. */
function expectedDigest(sources: string[], dockerConfig: string): string {
  const r = spawnSync(buildxPath(), ['imagetools', 'create', '--dry-run', ...sources], {
    env: { ...process.env, DOCKER_CONFIG: dockerConfig },
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`buildx --dry-run failed: ${r.stderr}`);
  return (
    'sha256:' +
    createHash('sha256')
      .update(r.stdout.replace(/\r?\n$/, ''), 'utf8')
      .digest('hex')
  );
}

/**
 * Tags a run reported done (all of them on success; the verified ones of a failed action run)
 * that do not hold the expected index, read back from the registry directly; and tags of a failed
 * run left on some other manifest.
 */
async function readBack(
  reg: Registry,
  repo: string,
  expected: string,
  claimed: Set<string>,
): Promise<{ lost: number; stray: number }> {
  let lost = 0;
  let stray = 0;
  for (let i = 1; i <= TAGS; i++) {
    const tag = `t${i}`;
    let digest: string | null;
    try {
      digest = await readDigest(reg, repo, tag, reg.auth);
    } catch {
      digest = null;
    }
    if (digest === expected) continue;
    if (claimed.has(tag)) lost++;
    else if (digest !== null) stray++;
  }
  return { lost, stray };
}

/** Makes every tag of `repo` hold the expected index, straight in the registry: a run before this one. */
async function prefill(reg: Registry, repo: string, sources: string[], dockerConfig: string): Promise<void> {
  const r = spawnSync(buildxPath(), ['imagetools', 'create', '--tag', `${reg.host}/${repo}:t1`, ...sources], {
    env: { ...process.env, DOCKER_CONFIG: dockerConfig },
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`prefill: buildx failed: ${r.stderr}`);
  const index = await readManifest(reg, repo, 't1');
  if (!index) throw new Error(`prefill: ${repo}:t1 is missing`);
  for (let i = 2; i <= TAGS; i++) {
    const put = await fetch(`${reg.url}/v2/${repo}/manifests/t${i}`, {
      method: 'PUT',
      headers: { 'content-type': index.mediaType },
      body: new Uint8Array(index.body),
    });
    if (put.status !== 201) throw new Error(`prefill: PUT ${repo}:t${i} answered ${put.status}`);
  }
}

interface ResultJson {
  attempts?: { number: number; invocation: number | 'oracle'; class?: string; signature?: string }[];
  tags?: { tag: string; verified: boolean }[];
  failure?: { class: string; signature: string; message: string };
}

function parseResult(run: ActionRun): ResultJson {
  try {
    return JSON.parse(run.outputs.result ?? '{}') as ResultJson;
  } catch {
    return {};
  }
}

/**
 * The line that proved each failed attempt's class, by attempt number: the job summary's attempt
 * table gives it clipped (the `result` output does not carry it), the full line is found in the log.
 */
function attemptLines(run: ActionRun): Map<number, string> {
  const found = new Map<number, string>();
  // buildx's own lines, not the action's workflow commands (which quote the line too)
  const logLines = run.stdout.split('\n').filter((l) => !l.startsWith('::'));
  for (const row of run.summary.split('\n')) {
    const cells = row.split(/(?<!\\)\|/).map((c) => c.trim());
    // | # | pushed | result | the line that shows it | exit | took | wait after |
    if (cells.length < 8 || !/^\d+$/.test(cells[1] ?? '')) continue;
    const shown = (cells[4] ?? '').replace(/^`|`$/g, '').replace(/\\(.)/g, '$1');
    if (!shown) continue;
    const prefix = shown.replace(/\.\.\.$/, '');
    const full =
      logLines.find((l) => l.includes(prefix)) ?? logLines.find((l) => l.includes(prefix.slice(0, 60)));
    found.set(Number(cells[1]), (full ?? shown).replace(/^#\d+ (\d+\.\d+ )?/, '').trim());
  }
  return found;
}

/** Retries spent on permanent errors: attempts of an invocation made after one of its attempts was classed `permanent`. */
function retriesAfterPermanent(result: ResultJson): number {
  const failedFor = new Set<number | 'oracle'>();
  let retries = 0;
  for (const a of result.attempts ?? []) {
    if (failedFor.has(a.invocation)) retries++;
    if (a.class === 'permanent') failedFor.add(a.invocation);
  }
  return retries;
}

const tagName = (ref: string) => ref.slice(ref.lastIndexOf(':') + 1);

const label = (a: { invocation: number | 'oracle'; class?: string; signature?: string }) =>
  `${a.invocation === 'oracle' ? 'dry-run ' : ''}${a.class} (${a.signature ?? '?'})`;

/** A buildx line with what differs from run to run (ports, digests, repositories, tags) made generic. */
function generic(line: string): string {
  return line
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT')
    .replace(/sha256:[0-9a-f]{64}/g, 'sha256:…')
    .replace(/faults-[a-z0-9-]+?-\d+\/app/g, 'REPO')
    .replace(/(REPO(?:\/manifests\/|:))t\d\b/g, '$1tN')
    .replace(/(\/manifests\/)t\d\b/g, '$1tN')
    .replace(/(src6\/app\/manifests\/)(?!sha256:)[a-z0-9-]+/g, '$1PLATFORM');
}

// --- the test bed ------------------------------------------------------------------------------

const started = Date.now();
const bundleHash = () => createHash('sha256').update(readFileSync(actionEntry)).digest('hex').slice(0, 12);
const bundleAtStart = bundleHash();
const git = (args: string[]) =>
  spawnSync('git', args, { cwd: repoRoot, encoding: 'utf8' }).stdout?.trim() ?? '';
const commit = git(['rev-parse', '--short', 'HEAD']) || 'unknown';
const dirty = git(['status', '--porcelain', '--', 'src']) !== '';
const reg = await startRegistry();
const authReg = await startRegistry({ auth: AUTH });
const tmp = mkdtempSync(join(tmpdir(), 'bench-faults-'));
let trialNo = 0;

try {
  await pushPlatformImages(reg, 'src6/app', SIX);
  const srcTags = SIX.map(platformTag);
  const digests = (await pushByDigest(reg, 'src6/by-digest', SIX, { attestations: false, seed: SEED })).map(
    (p) => p.digest,
  );
  /** A trial's sources: by tag in src6/app, or (FAULT_SOURCES=target) by digest in `repo`, pushed there now. */
  const trialSources = async (host: string, repo: string): Promise<string[]> => {
    if (LAYOUT === 'elsewhere') return srcTags.map((t) => `${host}/src6/app:${t}`);
    await pushByDigest(reg, repo, SIX, { attestations: false, seed: SEED });
    return digests.map((d) => `${host}/${repo}@${d}`);
  };
  const expected = expectedDigest(await trialSources(reg.host, 'src6/by-digest'), tmp);

  const selected = FAULTS.filter(
    (f) =>
      (ONLY.length ? ONLY.includes(f.id) : SET === 'full' || f.short) &&
      !(LAYOUT === 'target' && f.kind === 'auth'),
  );
  if (selected.length === 0) throw new Error(`no fault selected (FAULT_ONLY=${ONLY.join(',')})`);
  const rows: Row[] = [];

  for (const fault of selected) {
    const row: Row = { fault, action: [], raw: [], requests: 0, faulted: 0 };
    rows.push(row);
    for (let trial = 1; trial <= TRIALS; trial++) {
      // --- the action
      {
        const repo = `faults-${fault.id}-${++trialNo}/app`;
        if (fault.rerun) await prefill(reg, repo, await trialSources(reg.host, repo), tmp);
        const proxy =
          fault.kind === 'proxy'
            ? await startFaultProxy({
                target: reg.url,
                rules: fault.rules,
                seed: seedOf(`${fault.id}:${trial}:action`),
              })
            : undefined;
        const shim = fault.steps ? makeShim({ steps: fault.steps }) : undefined;
        const target = fault.kind === 'auth' ? authReg : reg;
        const host = proxy ? proxy.host : target.host;
        const sources = await trialSources(proxy ? proxy.host : reg.host, repo);
        const tags = Array.from({ length: TAGS }, (_, i) => `${host}/${repo}:t${i + 1}`);
        let run: ActionRun;
        try {
          run = await runAction({
            inputs: {
              sources: sources.join('\n'),
              tags: tags.join('\n'),
              'buildx-version': shim ? shim.path : buildxPath(),
              'retry-delay': '200ms',
              'retry-max-delay': '2s',
              ...fault.inputs,
            },
            env: shim?.env,
            timeoutMs: 600_000,
          });
        } finally {
          if (proxy) {
            row.requests += proxy.stats().requests;
            row.faulted += proxy.stats().faulted;
            await proxy.stop();
          }
          shim?.remove();
        }
        const leftovers = killLeftovers(run.marker).length;
        const result = parseResult(run);
        const ok = run.code === 0;
        const claimed = new Set(
          ok ? tags.map(tagName) : (result.tags ?? []).filter((t) => t.verified).map((t) => tagName(t.tag)),
        );
        const { lost, stray } = await readBack(target, repo, expected, claimed);
        const failedAttempts = (result.attempts ?? []).filter((a) => a.class);
        const proof = attemptLines(run);
        const attempts = Number(run.outputs.attempts ?? 0);
        const t: ActionTrial = {
          ok,
          attempts,
          lost: lost + (ok && run.outputs.digest !== expected ? TAGS - lost : 0),
          permanentRetries: retriesAfterPermanent(result),
          ms: run.durationMs,
          classes: failedAttempts.map(label),
          examples: failedAttempts.map((a) => [
            `${a.class} (${a.signature ?? '?'})`,
            proof.get(a.number) ?? '',
          ]),
          leftovers,
          timedOut: run.timedOut,
          note: stray ? `${stray} tag(s) of the failed run left on another manifest` : undefined,
        };
        if (fault.kind === 'auth' && (ok || attempts !== 1)) {
          t.note = `expected a failure after exactly 1 push attempt, got ${ok ? 'success' : 'failure'} after ${attempts}`;
        }
        if (!ok && fault.kind !== 'auth') {
          t.note = result.failure
            ? `the action failed: ${result.failure.class} (${result.failure.signature}): ${result.failure.message.slice(0, 300)}`
            : `the action failed without a result output (${run.timedOut ? 'killed by the bench' : `exit ${run.code ?? run.signal}`})`;
          if (stray) t.note += `; ${stray} tag(s) left on another manifest`;
        }
        row.action.push(t);
      }

      // --- raw buildx: one create with every tag, through the same fault
      {
        const repo = `faults-${fault.id}-${++trialNo}/app`;
        if (fault.rerun) await prefill(reg, repo, await trialSources(reg.host, repo), tmp);
        const proxy =
          fault.kind === 'proxy'
            ? await startFaultProxy({
                target: reg.url,
                rules: fault.rules,
                seed: seedOf(`${fault.id}:${trial}:raw`),
              })
            : undefined;
        const shim = fault.steps ? makeShim({ steps: fault.steps }) : undefined;
        const target = fault.kind === 'auth' ? authReg : reg;
        const host = proxy ? proxy.host : target.host;
        const sources = await trialSources(proxy ? proxy.host : reg.host, repo);
        const tagArgs = Array.from({ length: TAGS }, (_, i) => ['--tag', `${host}/${repo}:t${i + 1}`]).flat();
        const dockerConfig = mkdtempSync(join(tmp, 'docker-'));
        let r: Awaited<ReturnType<typeof runCapped>>;
        try {
          r = await runCapped(
            shim ? shim.path : buildxPath(),
            ['imagetools', 'create', '--progress=plain', ...tagArgs, ...sources],
            { ...process.env, ...shim?.env, DOCKER_CONFIG: dockerConfig },
            fault.rawCapMs,
          );
        } finally {
          if (proxy) {
            row.requests += proxy.stats().requests;
            row.faulted += proxy.stats().faulted;
            await proxy.stop();
          }
          shim?.remove();
        }
        const ok = r.code === 0 && !r.hung;
        const claimed = new Set(ok ? Array.from({ length: TAGS }, (_, i) => `t${i + 1}`) : []);
        const { lost } = await readBack(target, repo, expected, claimed);
        row.raw.push({
          ok,
          hung: r.hung,
          lost,
          ms: r.ms,
          error: r.hung ? `killed after ${fault.rawCapMs / 1000} s` : ok ? '' : errorLine(r.stderr),
        });
      }
      const a = row.action.at(-1) as ActionTrial;
      const w = row.raw.at(-1) as RawTrial;
      process.stdout.write(
        `${fault.id} trial ${trial}/${TRIALS}: action ${a.ok ? 'ok' : 'FAILED'} in ${a.attempts} attempt(s), ` +
          `${Math.round(a.ms)} ms, lost ${a.lost}, permanent retries ${a.permanentRetries}` +
          `${a.note ? ` (${a.note})` : ''}; raw ${w.ok ? 'ok' : w.hung ? 'HUNG' : 'failed'}, ` +
          `${Math.round(w.ms)} ms, lost ${w.lost}\n`,
      );
    }
  }

  // --- the report --------------------------------------------------------------------------------
  const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const count = <T>(xs: T[], f: (x: T) => boolean) => xs.filter(f).length;
  /** `text ×count` for each distinct string, most frequent first. */
  const tally = (xs: string[]): string[] => {
    const m = new Map<string, number>();
    for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
    return [...m].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ×${n}`);
  };
  const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const rateCell = (f: Fault) =>
    f.kind === 'proxy' ? (f.rules?.length ? f.rules.map(rateOf).join(', ') : '–') : 'first push';

  const actionTrials = rows.flatMap((r) => r.action);
  const lostTotal = actionTrials.reduce((s, t) => s + t.lost, 0);
  const permTotal = actionTrials.reduce((s, t) => s + t.permanentRetries, 0);
  const authBad = rows
    .filter((r) => r.fault.kind === 'auth')
    .flatMap((r) => r.action)
    .filter((t) => t.ok || t.attempts !== 1).length;
  const leftoverTotal = actionTrials.reduce((s, t) => s + t.leftovers, 0);

  const bundleChanged = bundleHash() !== bundleAtStart;
  const nodeVersion = spawnSync(node24Path(), ['--version'], { encoding: 'utf8' }).stdout.trim();
  const bx = spawnSync(buildxPath(), ['version'], { encoding: 'utf8' }).stdout.trim();
  const totalMs = Date.now() - started;

  const lines: string[] = [
    '# The fault matrix',
    '',
    `Written by \`npm run faults\` (bench/faults.ts). Measured ${new Date().toISOString().slice(0, 10)} on ` +
      `${machine()}, Node ${nodeVersion}, \`${bx}\`, Debian's registry 2.8 on 127.0.0.1; the bundled ` +
      `action (dist/index.js, sha256 ${bundleAtStart}…, commit ${commit}${dirty ? ' with uncommitted changes to src/' : ''}). ` +
      `${TRIALS} trials per fault${SET === 'short' ? ' (FAULT_SET=short: a subset of the faults)' : ''}, ` +
      `${(totalMs / 60_000).toFixed(1)} min in all.`,
    '',
    `Each trial merges ${SIX.length} single-platform images into an index under ${TAGS} tags of a fresh ` +
      (LAYOUT === 'target'
        ? 'repository, its sources pushed by digest into that repository first (`FAULT_SOURCES=target`: the action runs no buildx push, it writes every tag by manifest PUT; shim faults then touch only pushes, which do not run; the 401 fault is left out), '
        : 'repository, its sources by tag in one other repository, ') +
      'once with the action (runner emulator, `retry-delay: 200ms`, `retry-max-delay: 2s`, ' +
      '`max-attempts` 5 and every other input at its default) and once with raw buildx (one `imagetools create` ' +
      'with all five tags). Proxy faults put the fault proxy (`__tests__/testbed/fault-proxy.ts`) between ' +
      'buildx and the registry, sources and targets alike, each rule firing at the rate shown (a seeded PRNG); ' +
      'a lag or immutable rule acts on every manifest PUT, and the immutable fault is a re-run (every tag holds ' +
      'the expected index before the trial, for the action and raw buildx alike); ' +
      'shim faults run the fault shim in place of buildx (raw: the same shim script run directly).',
    '',
    '**Lost or wrong**: tags a run reported done (every tag when it exited 0; for a failed action run, ' +
      'the tags its `result` output says were verified) that, read back from the registry directly, do not ' +
      'resolve to the expected index (computed once by `--dry-run` without the proxy). **Retries on permanent**: ' +
      'attempts of a buildx invocation made after one of its attempts was classed `permanent`. Both must be 0 for the action. **Attempts**: the ' +
      '`attempts` output (push invocations). Raw buildx has no watchdog: it is killed at the cap shown and the run counts as failed.',
    '',
    '| fault | rate | action: succeeded | attempts (median) | lost or wrong | retries on permanent | time (median) | raw: succeeded | lost or wrong | time (median) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows) {
    const hung = count(r.raw, (t) => t.hung);
    lines.push(
      `| ${cell(r.fault.label)} | ${rateCell(r.fault)} | ${count(r.action, (t) => t.ok)}/${r.action.length} | ` +
        `${median(r.action.map((t) => t.attempts))} | ${r.action.reduce((s, t) => s + t.lost, 0)} | ` +
        `${r.action.reduce((s, t) => s + t.permanentRetries, 0)} | ${sec(median(r.action.map((t) => t.ms)))} | ` +
        `${count(r.raw, (t) => t.ok)}/${r.raw.length}${hung ? ` (${hung} hung, killed at ${r.fault.rawCapMs / 1000} s)` : ''} | ` +
        `${r.raw.reduce((s, t) => s + t.lost, 0)} | ${sec(median(r.raw.map((t) => t.ms)))} |`,
    );
  }
  lines.push(
    '',
    `**faults: ${actionTrials.length} trials, ${lostTotal} lost tags, ${permTotal} retries on permanent errors**` +
      (authBad ? `; ${authBad} 401 trial(s) not failing after exactly 1 attempt` : '') +
      (leftoverTotal ? `; ${leftoverTotal} process(es) left behind by the action` : ''),
    '',
    '## How each fault shows',
    '',
    'The failed attempts the action recorded, by class and signature (from its `result` output; `dry-run` marks ' +
      'the `--dry-run` that computes the expected digest), and the last error line of the failed raw runs ' +
      '(ports, digests, repositories and tags made generic), with counts.',
    '',
    '| fault | proxy requests faulted | the action classified | raw buildx said |',
    '| --- | --- | --- | --- |',
  );
  for (const r of rows) {
    const said = tally(r.raw.filter((t) => !t.ok).map((t) => generic(t.error)));
    const shown = said.slice(0, 4).map(cell);
    if (said.length > 4) shown.push(`(${said.length - 4} more wordings)`);
    const classified = tally(r.action.flatMap((t) => t.classes));
    lines.push(
      `| ${cell(r.fault.label)} | ${r.fault.kind === 'proxy' ? `${r.faulted} of ${r.requests}` : '–'} | ` +
        `${classified.length ? cell(classified.join('; ')) : '–'} | ${shown.length ? shown.join('<br>') : '–'} |`,
    );
  }
  const examples = new Map<string, string>();
  for (const t of actionTrials)
    for (const [k, line] of t.examples) if (!examples.has(k)) examples.set(k, line);
  if (examples.size) {
    lines.push(
      '',
      "## buildx's words",
      '',
      'One line per class and signature the action gave, as buildx printed it (made generic):',
      '',
    );
    for (const [k, line] of [...examples].sort())
      lines.push(`- **${k}**: \`${generic(line) || '(no line)'}\``);
  }
  const unknown = [...examples].filter(([k]) => k.startsWith('unknown'));
  const notes = rows.flatMap((r) =>
    r.action.flatMap((t, i) => (t.note ? [`${r.fault.id} trial ${i + 1}: ${t.note}`] : [])),
  );
  if (bundleChanged) notes.unshift('dist/index.js changed during the run: the figures mix two bundles');
  if (unknown.length || notes.length) {
    lines.push('', '## Notes', '');
    for (const [k, line] of unknown) lines.push(`- classified \`${k}\`: \`${generic(line)}\``);
    for (const n of notes) lines.push(`- ${cell(generic(n))}`);
  }
  lines.push('');

  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(join(OUT_DIR, 'FAULTS.md'), lines.join('\n'));
  process.stdout.write('\n' + lines.join('\n'));
  process.stdout.write(
    `\nfaults: ${actionTrials.length} trials, ${lostTotal} lost tags, ${permTotal} retries on permanent errors\n`,
  );
  if (bundleChanged) process.stderr.write('warning: dist/index.js changed during the run\n');
  if (lostTotal > 0 || permTotal > 0 || authBad > 0) process.exitCode = 1;
} finally {
  await authReg.stop();
  await reg.stop();
  rmSync(tmp, { recursive: true, force: true });
}
