#!/usr/bin/env node
// Fault shim: stands in for the buildx binary and, following a script, misbehaves the way real
// buildx does on push invocations (`imagetools create` without `--dry-run`) and, when the script
// says so, on `--dry-run` invocations. Everything else is passed to the real buildx unchanged.
//
// Environment:
//   SHIM_REAL_BUILDX  the real buildx (default: <repo>/.testbed/bin/buildx)
//   SHIM_SCRIPT       JSON file: { "steps": ["crash", {"mode": "hang"}, "pass"], "version": "..." }
//                     (no script: every invocation passes through)
//   SHIM_STATE        counter of push invocations so far (default: <SHIM_SCRIPT>.state);
//                     each push appends {n, step, argv, pid, time} as a JSON line to <state>.log
//                     (--dry-run invocations scripted by "dryRunSteps": <state>.dry and <state>.dry.log)
//   SHIM_FIXTURES     folder of crash texts (default: <repo>/__tests__/fixtures/buildx-output)
//   SHIM_CALLS        every invocation appends {event: "start"|"end", argv, pid, at} JSON lines here
//                     (`at`: ms since the epoch, fractional; "end" has the exit code, and is missing
//                     when the shim died by a signal)
//
// The Nth push invocation runs step N; past the end the last step repeats. Steps are a mode name
// or { "mode": ..., ...params }; every step also takes "print" (lines written to stdout first, or to
// stderr with "printTo": "stderr"), "sleepMs" (then wait this long) and "printAfter" (lines written
// after the wait, before acting):
//   pass              run the real buildx
//   crash             print a real Go crash (param "fixture": a file in the fixtures folder) and exit 2
//   crash-after-push  run the real buildx (the push lands), then print the crash and exit 2
//   crash-after-copy  run the real buildx with every --tag moved to a throwaway tag of its
//                     repository ("throwawayTag", default shim-copy-<N>): the child manifests and
//                     the index land in that repository, no requested tag holds them; then print
//                     the crash and exit 2
//   hang              print two progress lines, start a child that hangs too (`sleep 3600`, stdio
//                     inherited unless "childStdio": "ignore"), then hang silently; "ignoreSigterm": true
//                     makes the shim itself survive SIGTERM
//   registry-error    print buildx-style registry error lines (param "text" replaces them), exit 1
//   flood             write "mb" (default 200) MiB of progress lines to stdout, then run the real buildx
// "crash" and "registry-error" take "exitCode". A top-level "version" answers `version`: a string,
// or { "text", "sleepMs" (answer after this long), "exitCode" (exit with it, printing nothing) }.
// A top-level "dryRunSteps" scripts `imagetools create --dry-run` invocations the same way (the Nth
// --dry-run runs its step N, the last repeating); without it they pass straight through.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const SHIM = 'fault-shim';
const DEFAULT_FIXTURE = 'v0.30.0-fatal-concurrent-map-writes.log';
const HEX = 'c0ffee5a1d0b9e3f7a2c4d6e8f0a1b3c5d7e9f1a2b4c6d8e0f1a3b5c7d9e1f2a';
const DEFAULT_REGISTRY_ERROR =
  `ERROR: failed commit on ref "index-sha256:${HEX}": unexpected status from PUT request to ` +
  'http://127.0.0.1:5000/v2/x/manifests/t1: 503 Service Unavailable';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');
const argv = process.argv.slice(2);

function die(message) {
  process.stderr.write(`${SHIM}: ${message}\n`);
  process.exit(125);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function sleepSync(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function realBuildx() {
  const file = process.env.SHIM_REAL_BUILDX || path.join(repoRoot, '.testbed', 'bin', 'buildx');
  if (!fs.existsSync(file))
    die(`real buildx not found at ${file} (set SHIM_REAL_BUILDX or run npm run testbed)`);
  return file;
}

function fixturesDir() {
  if (process.env.SHIM_FIXTURES) return path.resolve(process.env.SHIM_FIXTURES);
  return path.join(repoRoot, '__tests__', 'fixtures', 'buildx-output');
}

// --- what kind of invocation is this ---------------------------------------------------------
// As a docker CLI plugin buildx is called as `docker-buildx buildx <command> ...`.
const cmd = argv[0] === 'buildx' ? argv.slice(1) : argv;
const itIndex = cmd.indexOf('imagetools');
const isCreate = itIndex >= 0 && cmd.indexOf('create', itIndex + 1) > itIndex;
const isDryRun = cmd.some(
  (a) => a === '--dry-run' || (a.startsWith('--dry-run=') && !/^--dry-run=(false|0)$/i.test(a)),
);
const isPush = isCreate && !isDryRun;
const isVersion = cmd[0] === 'version';

// --- running the real buildx -----------------------------------------------------------------
const FORWARDED = ['SIGTERM', 'SIGINT', 'SIGHUP'];

/** Runs the real buildx with stdio inherited; signals sent to the shim are passed on to it. */
function runReal(args) {
  return new Promise((resolve) => {
    const child = spawn(realBuildx(), args, { stdio: 'inherit' });
    const forward = (signal) => {
      child.kill(signal);
    };
    for (const s of FORWARDED) process.on(s, forward);
    child.on('error', (e) => die(`cannot run the real buildx: ${e.message}`));
    child.on('exit', (code, signal) => {
      for (const s of FORWARDED) process.off(s, forward);
      resolve({ code, signal });
    });
  });
}

/** Ends the shim the way the real buildx ended: same exit code, or killed by the same signal. */
function exitLike({ code, signal }) {
  if (signal) {
    process.kill(process.pid, signal);
    setTimeout(() => process.exit(128), 200);
    return;
  }
  process.exit(code ?? 1);
}

function writeAll(stream, data) {
  return new Promise((resolve) => stream.write(data, () => resolve()));
}

// --- not a push: straight through ------------------------------------------------------------
function loadScript() {
  const file = process.env.SHIM_SCRIPT;
  if (!file) return null;
  try {
    const script = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (!script || typeof script !== 'object') throw new Error('not a JSON object');
    return { file, script };
  } catch (e) {
    die(`cannot read SHIM_SCRIPT ${file}: ${e.message}`);
  }
}

// --- the log of every invocation ------------------------------------------------------------
function logCall(event, more = {}) {
  const file = process.env.SHIM_CALLS;
  if (!file) return;
  const at = performance.timeOrigin + performance.now();
  fs.appendFileSync(file, JSON.stringify({ event, argv, pid: process.pid, at, ...more }) + '\n');
}
logCall('start');
process.on('exit', (code) => logCall('end', { code }));

const loaded = loadScript();
const script = loaded?.script ?? {};

if (isVersion && script.version !== undefined) {
  const v = typeof script.version === 'string' ? { text: script.version } : script.version;
  if (!v || typeof v !== 'object') die('"version" must be a string or { "text": "..." }');
  if (v.sleepMs) await sleep(v.sleepMs);
  if (v.exitCode !== undefined) process.exit(v.exitCode);
  if (typeof v.text !== 'string') die('"version" must be a string or { "text": "..." }');
  await writeAll(process.stdout, v.text.endsWith('\n') ? v.text : v.text + '\n');
  process.exit(0);
}

const scripted = isPush || (isCreate && isDryRun && Array.isArray(script.dryRunSteps));
if (!scripted) exitLike(await runReal(argv));
else await push();

// --- push invocations ------------------------------------------------------------------------
/** Increments the push counter under a lock (a directory: mkdir is atomic) and returns it. */
function nextPushNumber(stateFile) {
  const lock = `${stateFile}.lock`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (e) {
      if (e.code !== 'EEXIST') die(`cannot lock ${lock}: ${e.message}`);
      if (Date.now() > deadline) fs.rmSync(lock, { recursive: true, force: true }); // stale
      sleepSync(5);
    }
  }
  try {
    let count = 0;
    try {
      count = Number.parseInt(fs.readFileSync(stateFile, 'utf8'), 10) || 0;
    } catch {
      // first push
    }
    count += 1;
    fs.writeFileSync(stateFile, `${count}\n`);
    return count;
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

function normalizeStep(step) {
  if (step === undefined || step === null) return { mode: 'pass' };
  if (typeof step === 'string') return { mode: step };
  if (typeof step === 'object' && typeof step.mode === 'string') return step;
  die(`bad step ${JSON.stringify(step)}: want a mode name or { "mode": ... }`);
}

function optionValue(args, short, long) {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === short || a === long) return args[i + 1];
    if (a.startsWith(`${long}=`)) return a.slice(long.length + 1);
  }
  return undefined;
}

function readCrashText(step) {
  const file = path.resolve(fixturesDir(), step.fixture ?? DEFAULT_FIXTURE);
  try {
    return fs.readFileSync(file);
  } catch (e) {
    die(`cannot read crash fixture ${file}: ${e.message}`);
  }
}

/** `host/path` of a reference: its tag and digest dropped. */
function repositoryOfRef(ref) {
  const at = ref.indexOf('@');
  const named = at >= 0 ? ref.slice(0, at) : ref;
  const colon = named.lastIndexOf(':');
  return colon > named.lastIndexOf('/') ? named.slice(0, colon) : named;
}

/** The arguments with each tag (`--tag X`, `-t X`, `--tag=X`) replaced by `<repository of X>:<tag>`, once per repository. */
function throwawayTags(args, tag) {
  const out = [];
  const seen = new Set();
  const add = (ref) => {
    const moved = `${repositoryOfRef(ref)}:${tag}`;
    if (!seen.has(moved)) out.push('--tag', moved);
    seen.add(moved);
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if ((a === '--tag' || a === '-t') && i + 1 < args.length) add(args[++i]);
    else if (a.startsWith('--tag=')) add(a.slice('--tag='.length));
    else out.push(a);
  }
  return out;
}

async function crash(step) {
  await writeAll(process.stderr, readCrashText(step));
  process.exit(step.exitCode ?? 2);
}

function progressLines(target, source) {
  const to = target ?? '127.0.0.1:5000/x:t1';
  const from = source ?? '127.0.0.1:5000/src/app:amd64';
  return `#1 [internal] pushing ${to}\n` + `#1 0.001 copying sha256:${HEX} from ${from} to ${to}\n`;
}

function firstSource(args) {
  // Sources are the positional arguments after `create`; good enough for progress text.
  const start = args.indexOf('create') + 1;
  for (let i = start; i < args.length; i++) {
    const a = args[i];
    if (a.startsWith('-')) {
      if (
        !a.includes('=') &&
        ['-t', '--tag', '-f', '--file', '--annotation', '--builder', '--progress'].includes(a)
      )
        i++;
      continue;
    }
    return a;
  }
  return undefined;
}

async function hang(step) {
  if (step.ignoreSigterm) process.on('SIGTERM', () => {});
  // The child first, so that once the progress lines are out the whole tree exists.
  const stdio = step.childStdio === 'ignore' ? 'ignore' : ['ignore', 'inherit', 'inherit'];
  const child = spawn('sleep', ['3600'], { stdio });
  child.on('error', (e) => die(`cannot start the hanging child: ${e.message}`));
  await new Promise((resolve) => child.once('spawn', resolve));
  await writeAll(process.stderr, progressLines(optionValue(argv, '-t', '--tag'), firstSource(argv)));
  setInterval(() => {}, 1 << 30);
}

async function registryError(step) {
  let text = step.text;
  if (text === undefined) {
    const target = '127.0.0.1:5000/x:t1';
    text =
      `#1 [internal] pushing ${target}\n` +
      `#1 0.001 copying sha256:${HEX} from 127.0.0.1:5000/src/app:amd64 to ${target}\n` +
      `#1 1.002 pushing sha256:${HEX} to ${target}\n` +
      `#1 ${DEFAULT_REGISTRY_ERROR}\n` +
      '------\n' +
      ` > [internal] pushing ${target}:\n` +
      `1.002 pushing sha256:${HEX} to ${target}\n` +
      '------\n' +
      `${DEFAULT_REGISTRY_ERROR}\n`;
  }
  await writeAll(process.stderr, text.endsWith('\n') ? text : text + '\n');
  process.exit(step.exitCode ?? 1);
}

async function flood(step) {
  const { randomBytes } = await import('node:crypto');
  const total = Math.round((step.mb ?? 200) * 1024 * 1024);
  const target = optionValue(argv, '-t', '--tag') ?? '127.0.0.1:5000/x:t1';
  const source = firstSource(argv) ?? '127.0.0.1:5000/src/app:amd64';
  // A few distinct 1 MiB chunks of whole lines, written over and over.
  const chunks = [];
  for (let c = 0; c < 4; c++) {
    let text = '';
    let t = c;
    while (text.length < 1024 * 1024) {
      t += 0.001;
      text += `#1 ${t.toFixed(3)} copying sha256:${randomBytes(32).toString('hex')} from ${source} to ${target}\n`;
    }
    chunks.push(Buffer.from(text));
  }
  let written = 0;
  for (let i = 0; written < total; i++) {
    let chunk = chunks[i % chunks.length];
    if (written + chunk.length > total) {
      const cut = chunk.lastIndexOf(10, total - written - 1);
      chunk = chunk.subarray(0, cut >= 0 ? cut + 1 : total - written);
    }
    written += chunk.length;
    if (!process.stdout.write(chunk)) await new Promise((resolve) => process.stdout.once('drain', resolve));
  }
  await writeAll(process.stdout, '');
  exitLike(await runReal(argv));
}

async function printLines(step, lines) {
  if (lines === undefined) return;
  if (!Array.isArray(lines)) die('"print" and "printAfter" must be lists of lines');
  const stream = step.printTo === 'stderr' ? process.stderr : process.stdout;
  await writeAll(stream, lines.map((l) => `${l}\n`).join(''));
}

async function push() {
  const pushState = process.env.SHIM_STATE || (loaded ? `${loaded.file}.state` : undefined);
  const stateFile = isDryRun && pushState ? `${pushState}.dry` : pushState;
  const list = isDryRun ? script.dryRunSteps : script.steps;
  const steps = Array.isArray(list) ? list : [];
  const n = stateFile ? nextPushNumber(stateFile) : 1;
  const step = normalizeStep(steps.length ? steps[Math.min(n, steps.length) - 1] : undefined);
  if (stateFile) {
    const line = JSON.stringify({ n, step, argv, pid: process.pid, time: new Date().toISOString() });
    fs.appendFileSync(`${stateFile}.log`, line + '\n');
  }
  await printLines(step, step.print);
  if (step.sleepMs) await sleep(step.sleepMs);
  await printLines(step, step.printAfter);
  switch (step.mode) {
    case 'pass':
      return exitLike(await runReal(argv));
    case 'crash':
      return crash(step);
    case 'crash-after-push': {
      const result = await runReal(argv);
      if (result.signal) return exitLike(result);
      return crash(step);
    }
    case 'crash-after-copy': {
      const result = await runReal(throwawayTags(argv, step.throwawayTag ?? `shim-copy-${n}`));
      if (result.signal) return exitLike(result);
      return crash(step);
    }
    case 'hang':
      return hang(step);
    case 'registry-error':
      return registryError(step);
    case 'flood':
      return flood(step);
    default:
      die(`unknown step mode "${step.mode}"`);
  }
}
