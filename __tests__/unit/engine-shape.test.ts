// The engine's shape, as src/merge/run.ts states it: the steps read the run through `RunView`
// (read-only getters, the journal of attempts) and return what they found; only the engine and
// the push schedule hold the MergeRun and record findings in it. A step that imported the record,
// assigned to the run, or pushed into one of its collections would break the shape.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

const merge = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/merge');
const RECORDERS = ['engine.ts', 'schedule.ts'];
const steps = readdirSync(merge).filter((f) => f.endsWith('.ts') && f !== 'run.ts');
const text = (f: string): string => readFileSync(join(merge, f), 'utf8');

/** Writes to a run's state: `run.x = `, `run.x += `, `run.x.push(`, `.set(`, `.add(`, `.unshift(`. */
const WRITE = /\brun\.[a-zA-Z]+(\s*(=[^=]|\+=|-=|\?\?=)|\.(push|unshift|set|add|delete|splice)\()/;

describe('the engine: steps return what they found, one place records it', () => {
  it.each(steps)('%s: imports the record (./run.js) only if it is the engine or the schedule', (f) => {
    const imports = /from '\.\/run\.js'/.test(text(f));
    expect(imports && !RECORDERS.includes(f)).toBe(false);
  });

  it.each(steps)('%s: writes nothing into the run', (f) => {
    const writes = text(f)
      .split('\n')
      .filter((line) => WRITE.test(line));
    expect(writes).toEqual([]);
  });

  it('the pattern catches a write (a test of the test)', () => {
    for (const line of [
      'run.pending = x;',
      'run.holding.push(t);',
      'run.recovered = true;',
      'run.put.add(t)',
    ])
      expect(WRITE.test(line)).toBe(true);
    for (const line of ['run.digest === d', 'if (run.failure) return', 'run.attempted(a)'])
      expect(WRITE.test(line)).toBe(false);
  });
});
