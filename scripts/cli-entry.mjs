// Writes dist/cli.js, the command line's entry (package.json's `bin`): a Node shebang and the
// bundle of src/cli.ts, which ncc writes to dist/cli/ with the chunks it loads only when needed.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const file = join(fileURLToPath(new URL('..', import.meta.url)), 'dist', 'cli.js');
writeFileSync(
  file,
  "#!/usr/bin/env node\n// safe-imagetools, the command line: see docs/cli.md.\nimport './cli/index.js';\n",
);
chmodSync(file, 0o755);
