// The e2e project's globalSetup: the e2e tests run dist/index.js, so dist/ is rebuilt from src/
// (`npm run bundle`) before they start, unless it is already the bundle of what is there now.
// Freshness is a stamp in .testbed/: a hash of src/, package.json, package-lock.json and
// tsconfig.json, and a hash of the dist/index.js bundled from them. The stamp is named after the
// checkout, so that checkouts sharing one .testbed/ do not take each other's stamp.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { actionEntry, repoRoot, testbedDir } from './paths.ts';

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]))
    .sort();
}

/** A hash of everything the bundle is built from: each file's path and content. */
export function sourceHash(root = repoRoot): string {
  const h = createHash('sha256');
  const inputs = [
    ...filesUnder(path.join(root, 'src')),
    ...['package.json', 'package-lock.json', 'tsconfig.json'].map((f) => path.join(root, f)),
  ];
  for (const file of inputs) {
    h.update(`${path.relative(root, file)}\0`);
    h.update(existsSync(file) ? readFileSync(file) : '(none)');
    h.update('\0');
  }
  return h.digest('hex');
}

function fileHash(file: string): string | undefined {
  return existsSync(file) ? createHash('sha256').update(readFileSync(file)).digest('hex') : undefined;
}

function stampFile(root = repoRoot): string {
  const checkout = createHash('sha256').update(root).digest('hex').slice(0, 12);
  return path.join(testbedDir, `bundle-stamp-${checkout}.json`);
}

/** Whether dist/index.js is the bundle of the sources as they are now. */
export function bundleIsFresh(): boolean {
  try {
    const stamp = JSON.parse(readFileSync(stampFile(), 'utf8')) as { source?: string; dist?: string };
    return stamp.source === sourceHash() && stamp.dist !== undefined && stamp.dist === fileHash(actionEntry);
  } catch {
    return false;
  }
}

export default function setup(): void {
  if (bundleIsFresh()) return;
  const source = sourceHash();
  const started = Date.now();
  const r = spawnSync('npm', ['run', '--silent', 'bundle'], {
    cwd: repoRoot,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (r.status !== 0)
    throw new Error(
      `npm run bundle failed (${r.error?.message ?? `exit ${r.status}`}): e2e tests need dist/`,
    );
  mkdirSync(testbedDir, { recursive: true });
  writeFileSync(stampFile(), JSON.stringify({ source, dist: fileHash(actionEntry) }));
  console.log(`e2e: dist/ rebuilt from src/ in ${Date.now() - started} ms`);
}
