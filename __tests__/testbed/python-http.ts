// Python's own `http.server` as a plain static file server (a buildx mirror nobody here wrote).
// With HTTP/1.0 (its default) it sends Content-Length and closes the connection after every
// answer; with `--protocol HTTP/1.1` it keeps connections alive.
import { type ChildProcess, spawn } from 'node:child_process';

export interface PythonServer {
  url: string;
  protocol: 'HTTP/1.0' | 'HTTP/1.1';
  stop(): Promise<void>;
}

/** Starts `python3 -m http.server` on a free loopback port, serving `dir`. */
export function startPythonServer(
  dir: string,
  protocol: 'HTTP/1.0' | 'HTTP/1.1' = 'HTTP/1.0',
): Promise<PythonServer> {
  const child: ChildProcess = spawn(
    'python3',
    ['-u', '-m', 'http.server', '--bind', '127.0.0.1', '--directory', dir, '--protocol', protocol, '0'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const stop = (): Promise<void> =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`python3 -m http.server did not start: ${out}`));
    }, 10_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.stderr?.resume(); // its access log
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      const port = /port (\d+)/.exec(out)?.[1];
      if (!port) return;
      clearTimeout(timer);
      child.stdout?.removeAllListeners('data');
      child.stdout?.resume();
      resolve({ url: `http://127.0.0.1:${port}`, protocol, stop });
    });
  });
}
