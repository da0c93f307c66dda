// At most `n` tasks at once: a task given while `n` run waits for one of them to end.

export type Limit = <T>(task: () => Promise<T>) => Promise<T>;

export function limit(n: number): Limit {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (running >= n) await new Promise<void>((go) => waiting.push(go));
    running++;
    try {
      return await task();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}
