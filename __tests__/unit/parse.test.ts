import { describe, expect, it } from 'vitest';

import {
  formatDuration,
  InputError,
  parseBoolean,
  parseDurationMs,
  parseInteger,
  parseList,
} from '../../src/util/parse.js';

describe('parseList', () => {
  it.each([
    ['', []],
    ['a', ['a']],
    ['a,b', ['a', 'b']],
    ['a\nb\r\nc', ['a', 'b', 'c']],
    [' a , b \n\n c,,d ', ['a', 'b', 'c', 'd']],
    ['# comment\na', ['a']],
  ])('%j', (value, expected) => {
    expect(parseList(value)).toEqual(expected);
  });
  it('keeps commas when told to (annotations hold them)', () => {
    expect(parseList('index:desc=a, b and c\nindex:x=y', false)).toEqual([
      'index:desc=a, b and c',
      'index:x=y',
    ]);
  });
});

describe('parseDurationMs', () => {
  it.each([
    ['', 7000],
    ['90', 90_000],
    ['90s', 90_000],
    ['1.5s', 1500],
    ['500ms', 500],
    ['15m', 900_000],
    ['1h30m', 5_400_000],
    ['1m30s', 90_000],
    [' 2S ', 2000],
  ])('%j', (value, ms) => {
    expect(parseDurationMs('x', value, 7000, 0, 24 * 3_600_000)).toBe(ms);
  });
  it.each(['abc', '-1s', '5 minutes', '1d', 's', '1s2', '0x10'])('refuses %j, naming the input', (value) => {
    expect(() => parseDurationMs('buildx-idle-timeout', value, 1, 0, 1e9)).toThrow(InputError);
    expect(() => parseDurationMs('buildx-idle-timeout', value, 1, 0, 1e9)).toThrow(
      /^Input "buildx-idle-timeout": expected a duration/,
    );
  });
  it('range-checks', () => {
    expect(() => parseDurationMs('buildx-timeout', '0', 1, 1000, 2000)).toThrow(/from 1s to 2s, got 0/);
    expect(() => parseDurationMs('buildx-timeout', '7h', 1, 1000, 6 * 3_600_000)).toThrow(/to 6h/);
  });
});

describe('parseInteger and parseBoolean', () => {
  it.each([
    ['', 5],
    ['3', 3],
    [' 20 ', 20],
  ])('integer %j', (v, n) => expect(parseInteger('max-attempts', v, 5, 1, 20)).toBe(n));
  it.each(['0', '21', '-1', '1.5', 'two', '1e3'])('refuses integer %j', (v) => {
    expect(() => parseInteger('max-attempts', v, 5, 1, 20)).toThrow(
      /^Input "max-attempts": expected a whole number from 1 to 20/,
    );
  });
  it.each([
    ['true', true],
    ['True', true],
    ['false', false],
    ['', true],
    ['no', false],
  ])('boolean %j', (v, b) => expect(parseBoolean('verify', v, true)).toBe(b));
  it('refuses other booleans', () => {
    expect(() => parseBoolean('verify', 'maybe', true)).toThrow(/Input "verify": expected true or false/);
  });
});

describe('formatDuration', () => {
  it.each([
    [250, '250ms'],
    [1500, '1.5s'],
    [90_000, '1m30s'],
    [3_600_000, '1h'],
    [5_400_000, '1h30m'],
  ])('%d', (ms, s) => expect(formatDuration(ms)).toBe(s));
});
