// A throwaway git repository laid out like docker/buildx, for the installer's build-from-git
// tests: a bare repository (what the installer clones, by its file:// URL) and a work clone that
// makes the commits. The program is tiny, builds offline with Go 1.19 (no dependencies but on
// with-vendor) and:
//   - `version` (also `buildx version`) prints `<Package> <Version> <Revision>`, the variables of
//     github.com/docker/buildx/version that buildx's release ldflags set with -X;
//   - any other command execs the real buildx named by env SAFE_IMAGETOOLS_REAL_BUILDX with the
//     same arguments (exit status and signals pass through), or exits 3 when it is unset.
//
// History (dates and authors are fixed, so the commit ids are the same on every run):
//   v0.99.0 (annotated tag) -- main
//                                |-- fix/imagetools-copy  (= refs/pull/7/head)
//                                `-- with-vendor          (a vendored dependency, see below)
// Each commit sets a different `source` string, printed in the exit-3 message (SOURCES).
// with-vendor requires example.com/testbed/source, present only in vendor/: it builds with the
// default (-mod=vendor, as vendor/ exists) and fails with -mod=mod (GOPROXY=off, or no such module).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { runCapture } from './proc.ts';

export const FIX_BRANCH = 'fix/imagetools-copy';
export const VENDOR_BRANCH = 'with-vendor';
export const RELEASE_TAG = 'v0.99.0';
export const PULL_REF = 'refs/pull/7/head';

/** The `source` string each commit compiles in (shown by the binary's exit-3 message). */
export const SOURCES = {
  tag: 'release v0.99.0',
  main: 'main',
  fix: 'fix/imagetools-copy',
  withVendor: 'vendored',
} as const;

/** The variable the built program execs for every command but `version`. */
export const REAL_BUILDX_VAR = 'SAFE_IMAGETOOLS_REAL_BUILDX';

export interface BuildxGitRepo {
  /** The folder holding everything (bare repository, work clone, git's HOME). */
  root: string;
  /** The bare repository: `<root>/buildx.git`. */
  bareDir: string;
  /** The work clone the commits are made in. */
  workDir: string;
  /** `file://` URL of the bare repository. */
  url: string;
  /** Full commit ids. `tag` is the commit v0.99.0 points to (see tagObject). */
  commits: { main: string; fix: string; tag: string; withVendor: string };
  /** The id of the annotated tag object v0.99.0 (what `git ls-remote` lists for refs/tags/v0.99.0). */
  tagObject: string;
  /** The first 7 characters of commits.fix. */
  shortFix: string;
  /** An isolated environment for running git yourself (own HOME, no system or global config). */
  gitEnv: NodeJS.ProcessEnv;
  /**
   * Variables that make git fetch each of `urls` (https://..., git@host:owner/repo.git, ...) from
   * this bare repository instead (`url.<file-url>.insteadOf`, through GIT_CONFIG_COUNT), so the
   * installer's other git URL forms work offline. Merge them into the action's environment.
   */
  rewriteEnv(...urls: string[]): Record<string, string>;
  /** Commits a change on `branch` (made from main when new) and pushes it; returns the commit id. */
  addCommit(branch: string, message: string): Promise<string>;
  /** Removes `root`. */
  remove(): void;
}

export interface MakeBuildxGitRepoOptions {
  /** The folder to build everything in (created; should be empty). Default: a new temp folder. */
  dir?: string;
}

/** Folders made here, removed when the test process exits (a test may forget `remove()`). */
const madeDirs = new Set<string>();
let exitHookInstalled = false;

function track(dir: string): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const d of madeDirs) rmSync(d, { recursive: true, force: true });
    });
  }
  madeDirs.add(dir);
}

/**
 * An environment in which git reads no system or user configuration and writes nothing outside
 * `home`: the inherited GIT_* variables are dropped, HOME and XDG_CONFIG_HOME point into `home`.
 */
export function isolatedGitEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GIT_')) env[k] = v;
  mkdirSync(home, { recursive: true });
  const globalConfig = path.join(home, '.gitconfig');
  writeFileSync(globalConfig, '', { flag: 'a' });
  return {
    ...env,
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: globalConfig,
    GIT_TERMINAL_PROMPT: '0',
    LC_ALL: 'C',
    ...extra,
  };
}

const GO_MOD = 'module github.com/docker/buildx\n\ngo 1.19\n';

const VERSION_GO = `// Package version is set at link time, as buildx's release builds do:
//
//	-X github.com/docker/buildx/version.Version=<v> -X github.com/docker/buildx/version.Revision=<commit>
package version

var (
	// Package is the module the binary was built from.
	Package = "github.com/docker/buildx"
	// Version is the release (or ref) the binary was built from.
	Version = "v0.0.0+unknown"
	// Revision is the commit the binary was built from.
	Revision = ""
)
`;

const MAIN_GO = `// A stand-in for buildx: answers "version" itself and runs the real buildx for the rest.
package main

import (
	"fmt"
	"os"
	"syscall"

	"github.com/docker/buildx/version"
)

func main() {
	args := os.Args[1:]
	cmd := args
	// As a docker CLI plugin buildx is called as "docker-buildx buildx <command> ...".
	if len(cmd) > 0 && cmd[0] == "buildx" {
		cmd = cmd[1:]
	}
	if len(cmd) > 0 && cmd[0] == "version" {
		fmt.Println(version.Package, version.Version, version.Revision)
		return
	}
	realBuildx := os.Getenv("${REAL_BUILDX_VAR}")
	if realBuildx == "" {
		fmt.Fprintf(os.Stderr, "testbed buildx (source: %s): ${REAL_BUILDX_VAR} is not set\\n", source)
		os.Exit(3)
	}
	err := syscall.Exec(realBuildx, append([]string{realBuildx}, args...), os.Environ())
	fmt.Fprintf(os.Stderr, "testbed buildx (source: %s): exec %s: %v\\n", source, realBuildx, err)
	os.Exit(126)
}
`;

function sourceGo(name: string): string {
  return `package main\n\n// source names the commit this was built from.\nconst source = ${JSON.stringify(name)}\n`;
}

const VENDOR_MODULE = 'example.com/testbed/source';
const VENDOR_FILES: Record<string, string> = {
  'go.mod': `${GO_MOD}\nrequire ${VENDOR_MODULE} v0.1.0\n`,
  'cmd/buildx/source.go':
    `package main\n\nimport vendored "${VENDOR_MODULE}"\n\n` +
    '// source names the commit this was built from (here: from a vendored module).\n' +
    'const source = vendored.Name\n',
  [`vendor/${VENDOR_MODULE}/source.go`]:
    `// Package source exists only in vendor/: a build with -mod=mod cannot find it.\npackage source\n\n` +
    `// Name is what the with-vendor branch reports as its source.\nconst Name = ${JSON.stringify(SOURCES.withVendor)}\n`,
  'vendor/modules.txt': `# ${VENDOR_MODULE} v0.1.0\n## explicit; go 1.19\n${VENDOR_MODULE}\n`,
};

/** Creates the repository (see the top of this file). */
export async function makeBuildxGitRepo(opts: MakeBuildxGitRepoOptions = {}): Promise<BuildxGitRepo> {
  const root = opts.dir ? path.resolve(opts.dir) : mkdtempSync(path.join(os.tmpdir(), 'sit-gitrepo-'));
  mkdirSync(root, { recursive: true });
  track(root);
  const bareDir = path.join(root, 'buildx.git');
  const workDir = path.join(root, 'work');
  const home = path.join(root, 'home');
  const baseEnv = isolatedGitEnv(home);
  const url = pathToFileURL(bareDir).href;

  // Fixed identities and dates: commit n is dated 2024-01-01 + n minutes.
  let commitNo = 0;
  const commitEnv = (): NodeJS.ProcessEnv => {
    const date = `${1_704_067_200 + commitNo * 60} +0000`;
    commitNo++;
    return {
      ...baseEnv,
      GIT_AUTHOR_NAME: 'Testbed Author',
      GIT_AUTHOR_EMAIL: 'author@testbed.invalid',
      GIT_AUTHOR_DATE: date,
      GIT_COMMITTER_NAME: 'Testbed Committer',
      GIT_COMMITTER_EMAIL: 'committer@testbed.invalid',
      GIT_COMMITTER_DATE: date,
    };
  };
  const git = (args: string[], env: NodeJS.ProcessEnv = baseEnv, cwd = workDir) =>
    runCapture('git', ['-c', 'commit.gpgsign=false', '-c', 'tag.gpgsign=false', ...args], {
      env,
      cwd,
    }).then((s) => s.trim());
  const write = (files: Record<string, string>) => {
    for (const [rel, text] of Object.entries(files)) {
      const file = path.join(workDir, rel);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, text);
    }
  };
  const commit = async (message: string) => {
    await git(['add', '-A']);
    await git(['commit', '-q', '-m', message], commitEnv());
    return git(['rev-parse', 'HEAD']);
  };

  await git(['init', '-q', '--bare', '--initial-branch=main', bareDir], baseEnv, root);
  // GitHub lets a client fetch any reachable commit by its id; so does this repository.
  await git(['config', 'uploadpack.allowAnySHA1InWant', 'true'], baseEnv, bareDir);
  await git(['config', 'uploadpack.allowFilter', 'true'], baseEnv, bareDir);
  await git(['init', '-q', '--initial-branch=main', workDir], baseEnv, root);
  await git(['config', 'core.autocrlf', 'false']);
  await git(['remote', 'add', 'origin', url]);

  write({
    'go.mod': GO_MOD,
    'version/version.go': VERSION_GO,
    'cmd/buildx/main.go': MAIN_GO,
    'cmd/buildx/source.go': sourceGo(SOURCES.tag),
    'README.md':
      '# buildx (test bed)\n\nA stand-in for docker/buildx, made by __tests__/testbed/gitrepo.ts.\n',
  });
  const tag = await commit('Initial test bed buildx');
  await git(['tag', '-a', RELEASE_TAG, '-m', `Release ${RELEASE_TAG}`], commitEnv());
  const tagObject = await git(['rev-parse', `refs/tags/${RELEASE_TAG}`]);

  write({ 'cmd/buildx/source.go': sourceGo(SOURCES.main) });
  const main = await commit('main: move on after v0.99.0');

  await git(['switch', '-q', '-c', FIX_BRANCH, 'main']);
  write({ 'cmd/buildx/source.go': sourceGo(SOURCES.fix) });
  const fix = await commit('imagetools: fix the copy of an index');

  await git(['switch', '-q', '-c', VENDOR_BRANCH, 'main']);
  write(VENDOR_FILES);
  const withVendor = await commit(`Vendor ${VENDOR_MODULE}`);

  await git(['switch', '-q', 'main']);
  await git([
    'push',
    '-q',
    'origin',
    'refs/heads/main:refs/heads/main',
    `refs/heads/${FIX_BRANCH}:refs/heads/${FIX_BRANCH}`,
    `refs/heads/${VENDOR_BRANCH}:refs/heads/${VENDOR_BRANCH}`,
    `refs/tags/${RELEASE_TAG}:refs/tags/${RELEASE_TAG}`,
    `${fix}:${PULL_REF}`,
  ]);

  let queue: Promise<unknown> = Promise.resolve();
  return {
    root,
    bareDir,
    workDir,
    url,
    commits: { main, fix, tag, withVendor },
    tagObject,
    shortFix: fix.slice(0, 7),
    gitEnv: baseEnv,
    rewriteEnv(...urls) {
      const env: Record<string, string> = { GIT_CONFIG_COUNT: String(urls.length) };
      urls.forEach((from, i) => {
        env[`GIT_CONFIG_KEY_${i}`] = `url.${url}.insteadOf`;
        env[`GIT_CONFIG_VALUE_${i}`] = from;
      });
      return env;
    },
    addCommit(branch, message) {
      const run = async () => {
        const exists = await git(['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`]).then(
          () => true,
          () => false,
        );
        await git(exists ? ['switch', '-q', branch] : ['switch', '-q', '-c', branch, 'main']);
        writeFileSync(path.join(workDir, 'CHANGES.txt'), `${message}\n`, { flag: 'a' });
        const id = await commit(message);
        await git(['push', '-q', 'origin', `refs/heads/${branch}:refs/heads/${branch}`]);
        await git(['switch', '-q', 'main']);
        return id;
      };
      const p = queue.then(run, run);
      queue = p.catch(() => undefined);
      return p;
    },
    remove() {
      madeDirs.delete(root);
      rmSync(root, { recursive: true, force: true });
    },
  };
}
