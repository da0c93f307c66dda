import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { sourceHash } from '../testbed/bundle.js';

/** A small checkout: what the bundle is built from, and a file it is not. */
function checkout(): string {
  const root = mkdtempSync(join(tmpdir(), 'bundle-stamp-'));
  mkdirSync(join(root, 'src', 'inputs'), { recursive: true });
  writeFileSync(join(root, 'src', 'main.ts'), 'export {};\n');
  writeFileSync(join(root, 'src', 'inputs', 'inputs.ts'), 'export const a = 1;\n');
  writeFileSync(join(root, 'package.json'), '{}\n');
  writeFileSync(join(root, 'package-lock.json'), '{"lockfileVersion":3}\n');
  writeFileSync(join(root, 'tsconfig.json'), '{}\n');
  writeFileSync(join(root, 'README.md'), '# x\n');
  return root;
}

describe('the e2e bundle stamp: a hash of what dist/ is built from', () => {
  it.each([
    ['a source file edited', 'src/inputs/inputs.ts', 'export const a = 2;\n', true],
    ['a source file added', 'src/report/new.ts', 'export {};\n', true],
    ['a data file in src/ edited', 'src/policy/advisories.json', '[]\n', true],
    ['the lock file changed', 'package-lock.json', '{"lockfileVersion":2}\n', true],
    ['tsconfig.json changed', 'tsconfig.json', '{"compilerOptions":{}}\n', true],
    ['the README edited', 'README.md', '# y\n', false],
    ['a test file added', '__tests__/unit/x.test.ts', 'export {};\n', false],
  ])('%s: changes it = %s', (_what, file, text, changes) => {
    const root = checkout();
    const before = sourceHash(root);
    expect(sourceHash(root)).toBe(before);
    mkdirSync(join(root, file, '..'), { recursive: true });
    writeFileSync(join(root, file), text);
    expect(sourceHash(root) !== before).toBe(changes);
  });
});
