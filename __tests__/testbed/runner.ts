// A GitHub runner emulator: runs the bundled action (dist/index.js) on Node 24 the way the runner
// does, with INPUT_* variables and the file commands, and collects what it reports.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { actionEntry, node24Path, repoRoot } from './paths.ts';

/** The variable that marks every process started for one run (inherited by all descendants). */
export const MARKER_VAR = 'SAFE_IMAGETOOLS_TEST_RUN';

/** The runner refuses a step summary larger than this. */
export const SUMMARY_LIMIT_BYTES = 1024 * 1024;

export interface WorkflowCommand {
  command: string;
  props: Record<string, string>;
  message: string;
}

export interface RunActionOptions {
  /** Step inputs (`with:`), by their action.yml names. */
  inputs: Record<string, string>;
  /** Extra environment, applied last; `undefined` removes a base variable. */
  env?: Record<string, string | undefined>;
  /** Working directory (default: the fresh workspace, as on a runner). */
  cwd?: string;
  /** Kill the action (and every process carrying its marker) after this long. Default 110 s. */
  timeoutMs?: number;
  onSpawn?: (child: ChildProcess) => void;
  /** Sample the action process's peak RSS (VmRSS every 50 ms, and VmHWM). */
  measureRss?: boolean;
  /** Fill in action.yml defaults for inputs not given, as the runner does. Default true. */
  actionDefaults?: boolean;
  /** The script to run (default `<repo>/dist/index.js`). */
  entry?: string;
  /** The node binary (default node24Path()). */
  node?: string;
  /** Keep the temp folder (workspace, tool cache, command files) instead of removing it. */
  keepTemp?: boolean;
  /** Bytes of stdout and of stderr kept in memory, half from the start and half from the end. Default 16 MiB. */
  maxCaptureBytes?: number;
  /** After the action exits, how long to wait for its stdout/stderr to close. Default 2 s. */
  drainMs?: number;
}

export interface ActionRun {
  code: number | null;
  signal: string | null;
  /** Captured stdout (head and tail when it was larger than maxCaptureBytes). */
  stdout: string;
  stderr: string;
  stdoutBytes: number;
  stderrBytes: number;
  durationMs: number;
  /** From GITHUB_OUTPUT, including the `name<<DELIM` form. */
  outputs: Record<string, string>;
  /** The GITHUB_STEP_SUMMARY file's content. */
  summary: string;
  /** True when the summary is over the runner's 1 MiB limit (the runner would drop it). */
  summaryTooLarge: boolean;
  /** Workflow commands (`::error title=..::msg`) from stdout, escapes decoded, in order. */
  commands: WorkflowCommand[];
  /** From GITHUB_ENV, GITHUB_STATE and GITHUB_PATH. */
  exportedEnv: Record<string, string>;
  state: Record<string, string>;
  addedPath: string[];
  /** Malformed lines in the file commands (the runner would fail the step on them). */
  fileCommandErrors: string[];
  marker: string;
  pid: number;
  peakRssKb?: number;
  timedOut: boolean;
  /** The action exited but something it started still held its stdout/stderr open. */
  stdioOpenAfterExit: boolean;
  /** The run's temp folder (removed unless keepTemp) and the folders inside it. */
  tempDir: string;
  workspace: string;
  runnerTemp: string;
  toolCache: string;
  /** The environment the action was started with. */
  env: Record<string, string>;
}

export interface StartedAction {
  child: ChildProcess;
  marker: string;
  result: Promise<ActionRun>;
}

/** `INPUT_<NAME>` exactly as @actions/core reads it: spaces to `_`, upper case, hyphens kept. */
export function inputEnvName(name: string): string {
  return `INPUT_${name.replace(/ /g, '_').toUpperCase()}`;
}

// --- parsing ------------------------------------------------------------------------------------

function decodeEscapes(text: string, props: boolean): string {
  const re = props ? /%(25|0D|0A|3A|2C)/gi : /%(25|0D|0A)/gi;
  return text.replace(re, (_m, code: string) => {
    switch (code.toUpperCase()) {
      case '25':
        return '%';
      case '0D':
        return '\r';
      case '0A':
        return '\n';
      case '3A':
        return ':';
      default:
        return ',';
    }
  });
}

const COMMAND_RE = /^::([A-Za-z][\w-]*)(?:\s+(.*?))?::(.*)$/;

/** One line of stdout as a workflow command, or null. */
export function parseWorkflowCommand(line: string): WorkflowCommand | null {
  const m = COMMAND_RE.exec(line.trimStart());
  if (!m) return null;
  const props: Record<string, string> = {};
  for (const pair of (m[2] ?? '').split(',')) {
    const eq = pair.indexOf('=');
    if (eq > 0) props[pair.slice(0, eq).trim()] = decodeEscapes(pair.slice(eq + 1), true);
  }
  return { command: m[1] ?? '', props, message: decodeEscapes(m[3] ?? '', false) };
}

/** Collects workflow commands from a stream of stdout lines, honouring `::stop-commands::`. */
class CommandCollector {
  readonly commands: WorkflowCommand[] = [];
  private resumeToken: string | undefined;

  line(line: string): void {
    if (!line.includes('::')) return;
    if (this.resumeToken !== undefined) {
      if (line.trim() === `::${this.resumeToken}::`) this.resumeToken = undefined;
      return;
    }
    const cmd = parseWorkflowCommand(line);
    if (!cmd) return;
    this.commands.push(cmd);
    if (cmd.command === 'stop-commands' && cmd.message) this.resumeToken = cmd.message;
  }
}

/** Parses a GITHUB_OUTPUT / GITHUB_ENV / GITHUB_STATE file (`k=v` and `k<<DELIM ... DELIM`). */
export function parseFileCommands(text: string, errors: string[] = []): Record<string, string> {
  const result: Record<string, string> = {};
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  if (lines.at(-1) === '') lines.pop();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line === '') continue;
    const heredoc = line.indexOf('<<');
    const eq = line.indexOf('=');
    if (heredoc > 0 && (eq < 0 || heredoc < eq)) {
      const name = line.slice(0, heredoc);
      const delim = line.slice(heredoc + 2);
      const value: string[] = [];
      let closed = false;
      for (i++; i < lines.length; i++) {
        if (lines[i] === delim) {
          closed = true;
          break;
        }
        value.push(lines[i] ?? '');
      }
      if (!closed || !delim) errors.push(`unterminated ${name}<<${delim}`);
      result[name] = value.join('\n');
    } else if (eq > 0) {
      result[line.slice(0, eq)] = line.slice(eq + 1);
    } else {
      errors.push(`invalid line: ${line}`);
    }
  }
  return result;
}

function unquoteYaml(raw: string): string {
  const v = raw.trim();
  if (v.startsWith("'")) return v.slice(1, v.lastIndexOf("'")).replace(/''/g, "'");
  if (v.startsWith('"')) {
    try {
      return JSON.parse(v.slice(0, v.lastIndexOf('"') + 1)) as string;
    } catch {
      return v.slice(1, v.lastIndexOf('"'));
    }
  }
  return v.replace(/\s+#.*$/, '');
}

/**
 * The `default:` of each input in an action.yml. A small reader for the usual shape (block
 * mappings, scalar or `|`/`>` block defaults), enough for the project's own action.yml.
 */
export function parseActionDefaults(yaml: string): Record<string, string> {
  const lines = yaml.split('\n').map((l) => l.replace(/\r$/, ''));
  const indent = (l: string) => l.length - l.trimStart().length;
  const blank = (l: string) => l.trim() === '' || l.trimStart().startsWith('#');
  const defaults: Record<string, string> = {};
  const start = lines.findIndex((l) => /^inputs:\s*(#.*)?$/.test(l));
  if (start < 0) return defaults;
  let inputIndent = -1;
  let current: string | undefined;
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (blank(line)) continue;
    const ind = indent(line);
    if (ind === 0) break;
    if (inputIndent < 0) inputIndent = ind;
    const name = /^\s*([A-Za-z0-9_.-]+)\s*:\s*(#.*)?$/.exec(line);
    if (ind === inputIndent && name) {
      current = name[1];
      continue;
    }
    const def = /^\s*default\s*:\s*(.*)$/.exec(line);
    if (!current || ind <= inputIndent || !def) continue;
    const value = def[1] ?? '';
    const block = /^([|>])([+-]?)\s*(#.*)?$/.exec(value.trim());
    if (!block) {
      defaults[current] = unquoteYaml(value);
      continue;
    }
    const body: string[] = [];
    let bodyIndent = -1;
    for (i++; i < lines.length; i++) {
      const l = lines[i] ?? '';
      if (l.trim() !== '' && indent(l) <= ind) break;
      if (bodyIndent < 0 && l.trim() !== '') bodyIndent = indent(l);
      body.push(l.slice(Math.max(bodyIndent, 0)));
    }
    i--;
    while (body.length && body.at(-1)?.trim() === '') body.pop();
    let text = block[1] === '>' ? body.join(' ').replace(/ {2,}/g, ' ') : body.join('\n');
    if (block[2] !== '-') text += '\n';
    defaults[current] = text;
  }
  return defaults;
}

function evaluateDefault(value: string, env: Record<string, string>): string {
  return value.replace(/\$\{\{\s*github\.token\s*\}\}/g, env.GITHUB_TOKEN ?? '');
}

// --- output capture ------------------------------------------------------------------------------

/** Keeps the first and last `limit / 2` bytes of a stream and feeds its lines to a callback. */
class Capture {
  private readonly head: Buffer[] = [];
  private headBytes = 0;
  private readonly tail: Buffer[] = [];
  private tailBytes = 0;
  bytes = 0;
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';

  private readonly limit: number;
  private readonly onLine?: (line: string) => void;

  constructor(limit: number, onLine?: (line: string) => void) {
    this.limit = limit;
    this.onLine = onLine;
  }

  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.onLine) this.feed(this.decoder.write(chunk));
    const half = Math.floor(this.limit / 2);
    if (this.headBytes < half) {
      const take = chunk.subarray(0, half - this.headBytes);
      this.head.push(take);
      this.headBytes += take.length;
      chunk = chunk.subarray(take.length);
    }
    if (chunk.length === 0) return;
    this.tail.push(chunk);
    this.tailBytes += chunk.length;
    while (this.tail.length > 1 && this.tailBytes - (this.tail[0]?.length ?? 0) >= half) {
      this.tailBytes -= this.tail.shift()?.length ?? 0;
    }
  }

  private feed(text: string): void {
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) this.onLine?.(line.replace(/\r$/, ''));
    // A line without end (megabytes of one line) is handed over in pieces rather than grown forever.
    if (this.partial.length > 1024 * 1024) {
      this.onLine?.(this.partial);
      this.partial = '';
    }
  }

  end(): void {
    if (!this.onLine) return;
    this.feed(this.decoder.end());
    if (this.partial !== '') this.onLine(this.partial.replace(/\r$/, ''));
    this.partial = '';
  }

  text(): string {
    const head = Buffer.concat(this.head);
    const tail = Buffer.concat(this.tail);
    if (head.length + tail.length === this.bytes) return Buffer.concat([head, tail]).toString('utf8');
    const kept = tail.subarray(Math.max(0, tail.length - Math.floor(this.limit / 2)));
    const skipped = this.bytes - head.length - kept.length;
    return `${head.toString('utf8')}\n[... ${skipped} bytes not kept by the test runner ...]\n${kept.toString('utf8')}`;
  }
}

// --- processes ------------------------------------------------------------------------------------

function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

/** Pids of live (not zombie) processes whose environment carries `SAFE_IMAGETOOLS_TEST_RUN=<marker>`. */
export function leftoverProcesses(marker: string): number[] {
  const needle = `${MARKER_VAR}=${marker}`;
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return pids;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    let environ: string;
    try {
      environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
    } catch {
      continue; // gone, or not ours to read
    }
    if (!environ.split('\0').includes(needle)) continue;
    const state = procState(pid);
    if (state === undefined || state === 'Z' || state === 'X') continue;
    pids.push(pid);
  }
  return pids.sort((a, b) => a - b);
}

/** Sends `signal` to every leftover process of a run; returns the pids signalled. */
export function killLeftovers(marker: string, signal: NodeJS.Signals = 'SIGKILL'): number[] {
  const pids = leftoverProcesses(marker);
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
  return pids;
}

/** Waits until no process carries the marker; returns the pids still alive at the deadline. */
export async function waitForNoLeftovers(marker: string, timeoutMs = 3000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = leftoverProcesses(marker);
    if (pids.length === 0 || Date.now() >= deadline) return pids;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A fresh marker value for `SAFE_IMAGETOOLS_TEST_RUN`. */
export function newMarker(): string {
  return `${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
}

class RssSampler {
  maxRssKb = 0;
  hwmKb = 0;
  private readonly timer: ReturnType<typeof setInterval>;

  private readonly pid: number;

  constructor(pid: number) {
    this.pid = pid;
    this.sample();
    this.timer = setInterval(() => this.sample(), 50);
  }

  sample(): void {
    let status: string;
    try {
      status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    } catch {
      return;
    }
    const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    const hwm = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    // A zombie has no memory lines: keep the last real reading.
    if (rss?.[1]) this.maxRssKb = Math.max(this.maxRssKb, Number(rss[1]));
    if (hwm?.[1]) this.hwmKb = Number(hwm[1]);
  }

  stop(): number {
    clearInterval(this.timer);
    return Math.max(this.maxRssKb, this.hwmKb);
  }
}

// --- the run --------------------------------------------------------------------------------------

/** Creates the run's folders and files and its environment (synchronously, so the spawn is too). */
function prepareRun(opts: RunActionOptions, marker: string) {
  const tempDir = mkdtempSync(path.join(os.tmpdir(), 'sit-run-'));
  const dirs = {
    workspace: path.join(tempDir, 'workspace'),
    runnerTemp: path.join(tempDir, 'runner-temp'),
    toolCache: path.join(tempDir, 'tool-cache'),
    dockerConfig: path.join(tempDir, 'docker-config'),
    files: path.join(tempDir, 'files'),
  };
  for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true });
  const files = {
    GITHUB_OUTPUT: path.join(dirs.files, 'output'),
    GITHUB_STEP_SUMMARY: path.join(dirs.files, 'step-summary.md'),
    GITHUB_ENV: path.join(dirs.files, 'env'),
    GITHUB_PATH: path.join(dirs.files, 'path'),
    GITHUB_STATE: path.join(dirs.files, 'state'),
  };
  for (const file of Object.values(files)) writeFileSync(file, '');
  const eventPath = path.join(dirs.files, 'event.json');
  writeFileSync(
    eventPath,
    JSON.stringify({ ref: 'refs/heads/main', repository: { full_name: 'octo-org/octo-repo' } }) + '\n',
  );

  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: process.env.HOME ?? os.homedir(),
    DOCKER_CONFIG: dirs.dockerConfig,
    ...files,
    GITHUB_EVENT_PATH: eventPath,
    RUNNER_TEMP: dirs.runnerTemp,
    RUNNER_TOOL_CACHE: dirs.toolCache,
    RUNNER_OS: 'Linux',
    RUNNER_ARCH: 'X64',
    RUNNER_NAME: 'GitHub Actions 2',
    RUNNER_ENVIRONMENT: 'github-hosted',
    GITHUB_WORKSPACE: dirs.workspace,
    GITHUB_ACTION: 'merge',
    GITHUB_ACTIONS: 'true',
    CI: 'true',
    GITHUB_WORKFLOW: 'release',
    GITHUB_WORKFLOW_REF: 'octo-org/octo-repo/.github/workflows/release.yml@refs/heads/main',
    GITHUB_REPOSITORY: 'octo-org/octo-repo',
    GITHUB_REPOSITORY_OWNER: 'octo-org',
    GITHUB_REF: 'refs/heads/main',
    GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
    GITHUB_EVENT_NAME: 'push',
    GITHUB_JOB: 'merge',
    GITHUB_RUN_ID: '1234567890',
    GITHUB_RUN_NUMBER: '42',
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_API_URL: 'https://api.github.com',
  };

  const given = new Set<string>();
  for (const [name, value] of Object.entries(opts.inputs)) {
    env[inputEnvName(name)] = value;
    given.add(inputEnvName(name));
  }
  for (const [name, value] of Object.entries(opts.env ?? {})) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  if (opts.actionDefaults ?? true) {
    const actionYml = ['action.yml', 'action.yaml']
      .map((f) => path.join(repoRoot, f))
      .find((f) => existsSync(f));
    if (actionYml) {
      for (const [name, value] of Object.entries(parseActionDefaults(readFileSync(actionYml, 'utf8')))) {
        const key = inputEnvName(name);
        if (!given.has(key) && env[key] === undefined) env[key] = evaluateDefault(value, env);
      }
    }
  }
  // Set last: the marker is how leftovers are found, whatever opts.env says.
  env[MARKER_VAR] = marker;
  return { tempDir, dirs, files, env };
}

async function collect(
  opts: RunActionOptions,
  child: ChildProcess,
  run: ReturnType<typeof prepareRun>,
  marker: string,
  started: number,
): Promise<ActionRun> {
  const { tempDir, dirs, files, env } = run;
  const limit = opts.maxCaptureBytes ?? 16 * 1024 * 1024;
  const collector = new CommandCollector();
  const out = new Capture(limit, (line) => collector.line(line));
  const err = new Capture(limit);
  const rss = opts.measureRss && child.pid ? new RssSampler(child.pid) : undefined;
  child.stdout?.on('data', (b: Buffer) => out.push(b));
  child.stderr?.on('data', (b: Buffer) => err.push(b));
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));

  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
    killLeftovers(marker);
  }, opts.timeoutMs ?? 110_000);

  let exit: { code: number | null; signal: string | null };
  try {
    exit = await new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) => {
        rss?.sample();
        resolve({ code, signal });
      });
    });
  } catch (e) {
    clearTimeout(timer);
    rss?.stop();
    rmSync(tempDir, { recursive: true, force: true });
    throw e;
  }
  clearTimeout(timer);
  const durationMs = Date.now() - started;
  const peakRssKb = rss?.stop();

  // Output still in the pipes arrives before 'close'; a leftover process holding them keeps it away.
  const drained = await Promise.race([
    closed.then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), opts.drainMs ?? 2000)),
  ]);
  if (!drained) {
    child.stdout?.destroy();
    child.stderr?.destroy();
  }
  out.end();
  err.end();

  const fileCommandErrors: string[] = [];
  const read = (file: string) => readFile(file, 'utf8').catch(() => '');
  const outputs = parseFileCommands(await read(files.GITHUB_OUTPUT), fileCommandErrors);
  const exportedEnv = parseFileCommands(await read(files.GITHUB_ENV), fileCommandErrors);
  const state = parseFileCommands(await read(files.GITHUB_STATE), fileCommandErrors);
  const addedPath = (await read(files.GITHUB_PATH)).split('\n').filter((l) => l.trim() !== '');
  const summary = await read(files.GITHUB_STEP_SUMMARY);
  if (!opts.keepTemp) await rm(tempDir, { recursive: true, force: true });

  return {
    code: exit.code,
    signal: exit.signal,
    stdout: out.text(),
    stderr: err.text(),
    stdoutBytes: out.bytes,
    stderrBytes: err.bytes,
    durationMs,
    outputs,
    summary,
    summaryTooLarge: Buffer.byteLength(summary) > SUMMARY_LIMIT_BYTES,
    commands: collector.commands,
    exportedEnv,
    state,
    addedPath,
    fileCommandErrors,
    marker,
    pid: child.pid ?? -1,
    peakRssKb,
    timedOut,
    stdioOpenAfterExit: !drained,
    tempDir,
    workspace: dirs.workspace,
    runnerTemp: dirs.runnerTemp,
    toolCache: dirs.toolCache,
    env,
  };
}

/**
 * Starts the action (synchronously: `child` is the live process) in a fresh workspace; `result`
 * settles once it has exited and its output and file commands are collected.
 */
export function startAction(opts: RunActionOptions): StartedAction {
  const marker = newMarker();
  const node = opts.node ?? node24Path();
  const entry = opts.entry ?? actionEntry;
  if (!existsSync(entry)) throw new Error(`${entry} does not exist: run \`npm run bundle\` first`);
  const run = prepareRun(opts, marker);
  const started = Date.now();
  const child = spawn(node, [entry], {
    cwd: opts.cwd ?? run.dirs.workspace,
    env: run.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const result = collect(opts, child, run, marker, started);
  opts.onSpawn?.(child);
  return { child, marker, result };
}

/** Runs the action to completion in a fresh workspace (see startAction). */
export function runAction(opts: RunActionOptions): Promise<ActionRun> {
  return startAction(opts).result;
}
