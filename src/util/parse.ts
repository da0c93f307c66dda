// Pure parsers for input values. Each throws an InputError naming the input and what it expected.

export class InputError extends Error {
  constructor(
    readonly input: string,
    /** what is wrong with the value, without the input's name */
    readonly detail: string,
  ) {
    super(`Input "${input}": ${detail}`);
    this.name = 'InputError';
  }
}

/**
 * Splits a list input on newlines and, unless `commas` is false, on commas (so that
 * docker/metadata-action outputs pass straight through). Blank items and `#` comment lines go.
 */
export function parseList(value: string, commas = true): string[] {
  const items: string[] = [];
  for (const line of value.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    for (const item of commas ? trimmed.split(',') : [trimmed]) {
      const t = item.trim();
      if (t !== '') items.push(t);
    }
  }
  return items;
}

const TRUE = new Set(['true', 'yes', 'on', '1']);
const FALSE = new Set(['false', 'no', 'off', '0']);

export function parseBoolean(input: string, value: string, fallback: boolean): boolean {
  const v = value.trim().toLowerCase();
  if (v === '') return fallback;
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw new InputError(input, `expected true or false, got "${value}"`);
}

export function parseInteger(
  input: string,
  value: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const v = value.trim();
  if (v === '') return fallback;
  if (!/^[+-]?\d+$/.test(v))
    throw new InputError(input, `expected a whole number from ${min} to ${max}, got "${value}"`);
  const n = Number(v);
  if (n < min || n > max)
    throw new InputError(input, `expected a whole number from ${min} to ${max}, got ${n}`);
  return n;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses `90` (seconds), `90s`, `15m`, `1h30m`, `500ms` into milliseconds. */
export function parseDurationMs(
  input: string,
  value: string,
  fallback: number,
  minMs: number,
  maxMs: number,
): number {
  const v = value.trim().toLowerCase();
  if (v === '') return fallback;
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(v)) {
    ms = Number(v) * 1000;
  } else if (/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(v)) {
    ms = 0;
    for (const m of v.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g))
      ms += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  } else {
    throw new InputError(input, `expected a duration such as 90, 90s, 15m or 1h30m, got "${value}"`);
  }
  ms = Math.round(ms);
  if (ms < minMs || ms > maxMs) {
    throw new InputError(
      input,
      `expected a duration from ${formatDuration(minMs)} to ${formatDuration(maxMs)}, got ${value}`,
    );
  }
  return ms;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${+(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  if (m < 60) return s ? `${m}m${s}s` : `${m}m`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h}h${m % 60}m` : `${h}h`;
}
