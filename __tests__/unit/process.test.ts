// The process runner against real child processes (node scripts), not mocks.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import { describe, expect, it } from 'vitest';

import { groupAlive, liveProcessGroups, runProcess, succeeded } from '../../src/exec/process.js';

const node = process.execPath;
const script = (code: string) => ['-e', code];

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

describe('runProcess', () => {
  it('streams every line in order, across chunk boundaries and CRLF, and keeps a bounded tail', async () => {
    const lines: string[] = [];
    const r = await runProcess({
      file: node,
      args: script(
        'process.stdout.write("a\\r\\nb"); setTimeout(() => { process.stdout.write("c\\n"); for (let i = 0; i < 500; i++) console.log("line " + i); process.stdout.write("tail-no-newline") }, 50)',
      ),
      onLine: (l) => lines.push(l),
      tailLines: 10,
    });
    expect(succeeded(r)).toBe(true);
    expect(lines.slice(0, 3)).toEqual(['a', 'bc', 'line 0']);
    expect(lines.at(-1)).toBe('tail-no-newline');
    expect(lines).toHaveLength(503);
    expect(r.tail).toHaveLength(10);
    expect(r.tail.at(-1)).toBe('tail-no-newline');
  });

  it('captures stdout only up to its bound', async () => {
    const r = await runProcess({
      file: node,
      args: script('process.stdout.write("x".repeat(100000))'),
      captureStdoutBytes: 1000,
    });
    expect(r.stdout).toHaveLength(1000);
    expect(r.stdoutTruncated).toBe(true);
    expect(r.outputBytes).toBe(100000);
  });

  it('spawns without a shell: metacharacters are plain arguments', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'noshell-'));
    const marker = join(dir, 'pwned');
    const r = await runProcess({
      file: node,
      args: [
        '-e',
        'console.log(JSON.stringify(process.argv.slice(1)))',
        `$(touch ${marker})`,
        `; touch ${marker}`,
      ],
      captureStdoutBytes: 10_000,
    });
    expect(JSON.parse(r.stdout)).toEqual([`$(touch ${marker})`, `; touch ${marker}`]);
    expect(existsSync(marker)).toBe(false);
  });

  it('reports a non-zero exit, and a death by signal, as failures', async () => {
    const exit = await runProcess({ file: node, args: script('process.exit(2)') });
    expect(exit).toMatchObject({ exitCode: 2, signal: null });
    expect(succeeded(exit)).toBe(false);
    const killed = await runProcess({ file: node, args: script('process.kill(process.pid, "SIGSEGV")') });
    expect(killed.signal).toBe('SIGSEGV');
    expect(succeeded(killed)).toBe(false);
  });

  it('kills a silent child and its grandchild on the idle timeout', async () => {
    const lines: string[] = [];
    const r = await runProcess({
      file: node,
      args: script(
        'const c = require("child_process").spawn(process.execPath, ["-e", "setInterval(()=>{}, 1000)"], { stdio: "ignore" }); console.log("grandchild " + c.pid); setInterval(() => {}, 1000)',
      ),
      idleTimeoutMs: 500,
      killGraceMs: 500,
      onLine: (l) => lines.push(l),
    });
    expect(r.killedBy).toBe('buildx-idle-timeout');
    expect(succeeded(r)).toBe(false);
    const grandchild = Number(lines[0]?.split(' ')[1]);
    expect(grandchild).toBeGreaterThan(0);
    expect(alive(grandchild)).toBe(false);
    expect(r.pid && alive(r.pid)).toBe(false);
    expect(liveProcessGroups()).toEqual([]);
  });

  it('an idle timeout does not fire while the child keeps printing', async () => {
    const r = await runProcess({
      file: node,
      args: script(
        'let n = 0; const t = setInterval(() => { console.log(n++); if (n === 8) { clearInterval(t) } }, 100)',
      ),
      idleTimeoutMs: 400,
    });
    expect(succeeded(r)).toBe(true);
  });

  it('kills on the attempt timeout even when the child keeps printing; KILL when TERM is ignored', async () => {
    const started = Date.now();
    const r = await runProcess({
      file: node,
      args: script(
        'process.on("SIGTERM", () => console.log("ignoring TERM")); setInterval(() => console.log("busy"), 50)',
      ),
      timeoutMs: 400,
      idleTimeoutMs: 10_000,
      killGraceMs: 300,
    });
    expect(r.killedBy).toBe('buildx-timeout');
    expect(r.signal).toBe('SIGKILL');
    expect(r.tail).toContain('ignoring TERM');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('is cancelled by its AbortSignal', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    const r = await runProcess({
      file: node,
      args: script('setInterval(() => {}, 1000)'),
      signal: ac.signal,
    });
    expect(r.killedBy).toBe('cancelled');
    expect(r.signal).toBe('SIGTERM');
  });

  it('pauses the child while the log cannot keep up, losing nothing', async () => {
    let received = 0;
    const slow = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _enc, cb) {
        received += chunk.length;
        setTimeout(cb, 1);
      },
    });
    const r = await runProcess({
      file: node,
      args: script('for (let i = 0; i < 2000; i++) console.log("progress line " + i)'),
      echo: slow,
      idleTimeoutMs: 1000,
    });
    expect(succeeded(r)).toBe(true);
    await new Promise((res) => slow.end(res));
    expect(received).toBe(r.outputBytes);
  });

  it('rejects when the file cannot be run', async () => {
    await expect(runProcess({ file: '/nonexistent/buildx', args: [] })).rejects.toThrow(/ENOENT/);
  });
});

describe('groupAlive', () => {
  const until = async (cond: () => boolean) => {
    for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 25));
    return cond();
  };
  it('true while the group has a live member (its leader, or a grandchild after the leader left), false once none is left', async () => {
    // the leader starts a grandchild in its group, prints its pid and exits
    const leader = spawn(
      node,
      script(
        'const c = require("child_process").spawn(process.execPath, ["-e", "setTimeout(()=>{}, 30000)"], { stdio: "ignore" }); c.unref(); console.log(c.pid); setTimeout(() => process.exit(0), 300)',
      ),
      { detached: true, stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const pgid = leader.pid!;
    const grandchild = Number(
      await new Promise<string>((r) => leader.stdout.once('data', (b) => r(String(b)))),
    );
    expect(groupAlive(pgid)).toBe(true);
    await new Promise((r) => leader.once('exit', r));
    expect(alive(pgid)).toBe(false);
    expect(groupAlive(pgid)).toBe(true); // the grandchild is still in it
    process.kill(grandchild, 'SIGKILL');
    expect(await until(() => !groupAlive(pgid))).toBe(true);
  });
});
