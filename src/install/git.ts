// Fix branches: resolve a git ref to a commit, fetch that one commit shallowly, and build
// `./cmd/buildx` with Go (buildx's version ldflags set), or with `docker buildx build` from
// buildx's own Dockerfile when there is no Go but a Docker engine. Nothing runs through a shell; a
// token for private repositories goes to git through its environment, never its arguments.

import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { findOnPath } from './find-binary.js';
import { runProcess } from '../exec/process.js';

export interface GitOptions {
  /** used for https URLs of this host only */
  token?: string;
  tokenHost?: string;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export class BuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BuildError';
  }
}

/** git's environment: no prompts, no user config surprises, and the token as an extra header. */
export function gitEnv(url: string, opts: GitOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...(opts.env ?? process.env),
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '',
    SSH_ASKPASS: '',
  };
  let host = '';
  try {
    const u = new URL(url);
    if (u.protocol === 'https:') host = u.host;
  } catch {
    // scp-like or file: no token
  }
  if (opts.token && host && host === (opts.tokenHost ?? 'github.com')) {
    const basic = Buffer.from(`x-access-token:${opts.token}`).toString('base64');
    const n = Number(env.GIT_CONFIG_COUNT ?? 0) || 0;
    env.GIT_CONFIG_COUNT = String(n + 1);
    env[`GIT_CONFIG_KEY_${n}`] = `http.https://${host}/.extraheader`;
    env[`GIT_CONFIG_VALUE_${n}`] = `AUTHORIZATION: basic ${basic}`;
  }
  return env;
}

async function git(
  args: string[],
  url: string,
  opts: GitOptions & { cwd?: string; timeoutMs?: number },
): Promise<string> {
  const r = await runProcess({
    file: 'git',
    args,
    cwd: opts.cwd,
    env: gitEnv(url, opts),
    timeoutMs: opts.timeoutMs ?? 10 * 60_000,
    idleTimeoutMs: 5 * 60_000,
    signal: opts.signal,
    captureStdoutBytes: 16 * 1024 * 1024,
    tailLines: 20,
  });
  if (r.exitCode !== 0) {
    const why = r.killedBy
      ? `stopped by ${r.killedBy}`
      : r.tail.slice(-5).join(' / ') || `exit ${r.exitCode ?? r.signal}`;
    throw new BuildError(`git ${args[0]} failed: ${why}`);
  }
  return r.stdout;
}

/** Parses `git ls-remote` output into ref -> commit (peeled tags win over tag objects). */
export function parseLsRemote(text: string): Map<string, string> {
  const refs = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = line.match(/^([0-9a-f]{40})\t(\S+)$/);
    if (!m) continue;
    const [, sha, ref] = m as unknown as [string, string, string];
    if (ref.endsWith('^{}')) refs.set(ref.slice(0, -3), sha);
    else if (!refs.has(ref)) refs.set(ref, sha);
  }
  return refs;
}

/** Which advertised ref a user's ref means: exact, branch, tag, then a commit prefix. */
export function matchRef(
  refs: Map<string, string>,
  ref: string,
): { commit: string; ref: string } | undefined {
  for (const candidate of [ref, `refs/heads/${ref}`, `refs/tags/${ref}`]) {
    const sha = refs.get(candidate);
    if (sha) return { commit: sha, ref: candidate };
  }
  if (/^[0-9a-f]{40}$/.test(ref)) return { commit: ref, ref };
  return undefined;
}

/** Resolves a ref to a commit: `git ls-remote`, else a blob-less fetch for a short commit. */
export async function resolveCommit(
  url: string,
  ref: string,
  workDir: string,
  opts: GitOptions,
): Promise<string> {
  const refs = parseLsRemote(await git(['ls-remote', '--', url], url, { ...opts, timeoutMs: 2 * 60_000 }));
  const hit = matchRef(refs, ref);
  if (hit) return hit.commit;
  if (!/^[0-9a-f]{4,39}$/.test(ref)) {
    throw new BuildError(`"${ref}" is not a branch, tag or ref of ${url}, nor a commit`);
  }
  // A short commit: ask the history.
  await mkdir(workDir, { recursive: true });
  await git(['init', '--quiet', workDir], url, opts);
  await git(
    [
      '-C',
      workDir,
      'fetch',
      '--quiet',
      '--filter=blob:none',
      '--no-tags',
      '--',
      url,
      '+refs/heads/*:refs/remotes/origin/*',
    ],
    url,
    opts,
  );
  const out = await git(
    ['-C', workDir, 'rev-parse', '--verify', '--quiet', `${ref}^{commit}`],
    url,
    opts,
  ).catch(() => '');
  const sha = out.trim();
  if (!/^[0-9a-f]{40}$/.test(sha)) throw new BuildError(`no commit of ${url} starts with "${ref}"`);
  return sha;
}

/** The ldflags buildx's own build sets, so that `buildx version` names the ref and commit. */
export function versionLdflags(pkg: string, version: string, commit: string): string {
  return [
    '-s',
    '-w',
    `-X ${pkg}/version.Version=${version}`,
    `-X ${pkg}/version.Revision=${commit}`,
    `-X ${pkg}/version.Package=${pkg}`,
  ].join(' ');
}

/** A version string for a git build: the ref's last part, made safe for ldflags. */
export function gitVersionLabel(ref: string, commit: string): string {
  const base =
    ref === 'HEAD' || /^[0-9a-f]{7,40}$/.test(ref)
      ? commit.slice(0, 7)
      : ref.replace(/^refs\/(heads|tags)\//, '');
  return base.replace(/[^A-Za-z0-9._/+-]/g, '-');
}

/** The `docker buildx build` arguments that build buildx's binary from its Dockerfile. */
export function dockerBuildArgs(url: string, commit: string, outDir: string): string[] {
  return [
    'buildx',
    'build',
    '--target',
    'binaries',
    '--platform',
    'local',
    '--output',
    `type=local,dest=${outDir}`,
    `${url}#${commit}`,
  ];
}

async function dockerReachable(opts: GitOptions): Promise<boolean> {
  if (!findOnPath('docker', opts.env?.PATH ?? process.env.PATH)) return false;
  const r = await runProcess({
    file: 'docker',
    args: ['version', '--format', '{{.Server.Version}}'],
    timeoutMs: 15_000,
    env: opts.env,
    captureStdoutBytes: 1024,
  }).catch(() => undefined);
  return r?.exitCode === 0 && r.stdout.trim() !== '';
}

/**
 * Builds buildx at `commit` into `outFile`. Go when it is on PATH; else a Docker engine; else a
 * BuildError that names both ways to make it work.
 */
export async function buildAtCommit(
  url: string,
  ref: string,
  commit: string,
  workDir: string,
  outFile: string,
  opts: GitOptions,
): Promise<'go' | 'docker'> {
  const env = opts.env ?? process.env;
  const go = findOnPath('go', env.PATH);
  if (go) {
    const src = join(workDir, 'src');
    await rm(src, { recursive: true, force: true });
    await mkdir(src, { recursive: true });
    await git(['init', '--quiet', src], url, opts);
    await git(['-C', src, 'fetch', '--quiet', '--depth=1', '--no-tags', '--', url, commit], url, opts);
    await git(['-C', src, '-c', 'advice.detachedHead=false', 'checkout', '--quiet', 'FETCH_HEAD'], url, opts);
    const head = (await git(['-C', src, 'rev-parse', 'HEAD'], url, opts)).trim();
    if (head !== commit) throw new BuildError(`fetched ${head}, not the commit ${commit} that ${ref} names`);
    const gomod = await readFile(join(src, 'go.mod'), 'utf8').catch(() => '');
    const pkg = gomod.match(/^module\s+(\S+)/m)?.[1];
    if (!pkg) throw new BuildError(`${url}#${ref} has no go.mod: is it buildx?`);
    if (!existsSync(join(src, 'cmd', 'buildx')))
      throw new BuildError(`${url}#${ref} has no cmd/buildx: is it buildx?`);
    const args = ['build', '-trimpath', '-buildvcs=false'];
    if (existsSync(join(src, 'vendor', 'modules.txt'))) args.push('-mod=vendor');
    args.push(
      '-ldflags',
      versionLdflags(pkg, gitVersionLabel(ref, commit), commit),
      '-o',
      outFile,
      './cmd/buildx',
    );
    opts.log?.(`go ${args.join(' ')}`);
    const r = await runProcess({
      file: go,
      args,
      cwd: src,
      env: { ...env, CGO_ENABLED: env.CGO_ENABLED ?? '0' },
      timeoutMs: 30 * 60_000,
      idleTimeoutMs: 15 * 60_000,
      signal: opts.signal,
      tailLines: 30,
      onLine: (line) => opts.log?.(line),
    });
    if (r.exitCode !== 0)
      throw new BuildError(
        `go build failed: ${r.tail.slice(-8).join(' / ') || `exit ${r.exitCode ?? r.signal}`}`,
      );
    return 'go';
  }
  if (await dockerReachable(opts)) {
    const outDir = join(workDir, 'out');
    await mkdir(outDir, { recursive: true });
    const r = await runProcess({
      file: 'docker',
      args: dockerBuildArgs(url, commit, outDir),
      env: gitEnv(url, opts),
      timeoutMs: 45 * 60_000,
      idleTimeoutMs: 15 * 60_000,
      signal: opts.signal,
      tailLines: 30,
      onLine: (line) => opts.log?.(line),
    });
    if (r.exitCode !== 0) throw new BuildError(`docker buildx build failed: ${r.tail.slice(-8).join(' / ')}`);
    await copyFile(join(outDir, 'buildx'), outFile);
    await chmod(outFile, 0o755);
    return 'docker';
  }
  throw new BuildError(
    `building buildx from ${url}#${ref} needs Go on PATH (add actions/setup-go with the Go version buildx's go.mod asks for) ` +
      'or a reachable Docker engine (docker buildx build); this runner has neither',
  );
}
