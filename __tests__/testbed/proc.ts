// Running programs without a shell, for the test bed and tests.
import { spawn, type SpawnOptions } from 'node:child_process';

export interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface RunProcessOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** SIGKILL the process after this long (default 60 s); the result then has signal SIGKILL. */
  timeoutMs?: number;
  detached?: SpawnOptions['detached'];
}

/** Runs `file` with `args` (never through a shell) and collects its output. Never rejects on exit status. */
export function runProcess(
  file: string,
  args: string[],
  opts: RunProcessOptions = {},
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(file, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      detached: opts.detached,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        durationMs: Date.now() - started,
      });
    });
  });
}

/** Runs a program and returns its stdout; rejects with its stderr when it fails. */
export async function runCapture(
  file: string,
  args: string[],
  opts: RunProcessOptions = {},
): Promise<string> {
  const r = await runProcess(file, args, opts);
  if (r.code !== 0) {
    throw new Error(`${file} ${args.join(' ')} exited with ${r.code ?? r.signal}: ${r.stderr.trim()}`);
  }
  return r.stdout;
}
