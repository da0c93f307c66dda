// limit(n): at most n tasks at once, every task run, in the order given, errors passed through.
import { describe, expect, it } from 'vitest';

import { limit } from '../../src/util/limit.js';

describe('limit', () => {
  it.each([
    [1, 5],
    [3, 10],
    [8, 4],
  ])('limit(%i) over %i tasks: never more at once, every one run in order', async (n, tasks) => {
    const run = limit(n);
    let now = 0;
    let most = 0;
    const started: number[] = [];
    const results = await Promise.all(
      Array.from({ length: tasks }, (_, i) =>
        run(async () => {
          started.push(i);
          most = Math.max(most, ++now);
          await new Promise((r) => setTimeout(r, 2));
          now--;
          return i * 2;
        }),
      ),
    );
    expect(most).toBe(Math.min(n, tasks));
    expect(started).toEqual(Array.from({ length: tasks }, (_, i) => i));
    expect(results).toEqual(Array.from({ length: tasks }, (_, i) => i * 2));
  });

  it('a task that fails frees its place and passes its error on', async () => {
    const run = limit(1);
    await expect(run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(run(async () => 'next')).resolves.toBe('next');
  });
});
