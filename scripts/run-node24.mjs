// Runs a TypeScript script of the test bed with the test bed's Node 24 (which strips types).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const node = process.env.ACTION_NODE || join(root, '.testbed', 'bin', 'node24');
if (!existsSync(node)) {
  console.error('Node 24 of the test bed is missing: run `npm run testbed` first.');
  process.exit(1);
}
const r = spawnSync(node, process.argv.slice(2), { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
