// Where the test bed's parts live. Everything is computed from this file's location or from the
// environment, never from a machine-specific absolute path.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The repository's root folder (two levels above `__tests__/testbed/`). */
export const repoRoot = path.resolve(here, '..', '..');

/** The git-ignored folder `scripts/testbed-setup.sh` installs into. */
export const testbedDir = path.join(repoRoot, '.testbed');

/** Real buildx output captured for tests, carried in the repository: `__tests__/fixtures/buildx-output`. */
export const fixturesDir = path.join(repoRoot, '__tests__', 'fixtures', 'buildx-output');

/** The fault shim that stands in for buildx (see fault-shim.mjs). */
export const faultShimPath = path.join(here, 'fault-shim.mjs');

/** The bundled action the runner emulator runs. */
/** The bundle the e2e tests run; ACTION_ENTRY runs them against another (say, main's, to show a test fails there). */
export const actionEntry = process.env.ACTION_ENTRY || path.join(repoRoot, 'dist', 'index.js');

function missing(what: string, file: string, envName: string): Error {
  return new Error(
    `${what} not found at ${file}. Run \`npm run testbed\` (scripts/testbed-setup.sh) to install the ` +
      `test bed, or set ${envName} to an existing binary.`,
  );
}

function pick(envName: string, fallback: string, what: string): string {
  const fromEnv = process.env[envName];
  const file = fromEnv ? path.resolve(fromEnv) : fallback;
  // existsSync follows symlinks, so a dangling .testbed/bin link counts as missing.
  if (!existsSync(file)) throw missing(what, file, envName);
  return file;
}

/** The real buildx 0.13.1: env `TESTBED_BUILDX`, else `.testbed/bin/buildx`. */
export function buildxPath(): string {
  return pick('TESTBED_BUILDX', path.join(testbedDir, 'bin', 'buildx'), 'buildx');
}

/** The second real buildx, Debian unstable's 0.29.1: env `TESTBED_BUILDX_0_29`, else `.testbed/bin/buildx-0.29.1`. */
export function buildx029Path(): string {
  return pick('TESTBED_BUILDX_0_29', path.join(testbedDir, 'bin', 'buildx-0.29.1'), 'buildx 0.29.1');
}

/** Both real buildx versions of the test bed, for tests that run on each. */
export function realBuildxes(): { version: string; path: string }[] {
  return [
    { version: '0.13.1', path: buildxPath() },
    { version: '0.29.1', path: buildx029Path() },
  ];
}

/** Debian unstable's oras 1.3.x (bench/peers.ts): env `TESTBED_ORAS`, else `.testbed/bin/oras`. */
export function orasPath(): string {
  return pick('TESTBED_ORAS', path.join(testbedDir, 'bin', 'oras'), 'oras');
}

/** Debian unstable's crane 0.20.x (go-containerregistry; bench/peers.ts): env `TESTBED_CRANE`, else `.testbed/bin/crane`. */
export function cranePath(): string {
  return pick('TESTBED_CRANE', path.join(testbedDir, 'bin', 'crane'), 'crane');
}

/** Node 24 to run the bundle with, as GitHub does: env `ACTION_NODE`, else `.testbed/bin/node24`. */
export function node24Path(): string {
  return pick('ACTION_NODE', path.join(testbedDir, 'bin', 'node24'), 'Node 24');
}

/** Full path of one fixture file in `fixturesDir`. */
export function fixturePath(name: string): string {
  return path.join(fixturesDir, name);
}
