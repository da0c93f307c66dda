// bench/RESULTS.md holds one section per benchmark script, each between markers, so that every
// script can be run alone and replace only its own figures.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';

import { repoRoot } from '../__tests__/testbed/paths.ts';

// CI's short runs write elsewhere, so the committed figures are only ever this machine's full runs.
const DIR = process.env.BENCH_RESULTS_DIR || join(repoRoot, 'bench');
const FILE = join(DIR, 'RESULTS.md');
const HEADER = '# Benchmarks\n\nWritten by `npm run bench`; each section by the script named in it.\n';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

export function machine(): string {
  return `${cpus().length} cores (${cpus()[0]?.model.trim()})`;
}

export function writeSection(name: string, markdown: string): void {
  const begin = `<!-- ${name} -->`;
  const end = `<!-- /${name} -->`;
  const block = `${begin}\n${markdown.trim()}\n${end}`;
  let text = existsSync(FILE) ? readFileSync(FILE, 'utf8') : HEADER;
  if (!text.startsWith('# Benchmarks')) text = HEADER;
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  text =
    a >= 0 && b > a
      ? text.slice(0, a) + block + text.slice(b + end.length)
      : `${text.trimEnd()}\n\n${block}\n`;
  mkdirSync(DIR, { recursive: true });
  writeFileSync(FILE, text);
}
