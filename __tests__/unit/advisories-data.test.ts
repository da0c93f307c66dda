import semver from 'semver';
import { describe, expect, it } from 'vitest';

import data from '../../src/policy/advisories.json' with { type: 'json' };

interface Advisory {
  id: string;
  issue: string;
  url: string;
  affected: string;
  fixed: string | null;
  summary: string;
  short: string;
  signature: string | null;
  class: string;
  retryHelps: boolean;
  severity: string;
  verified: boolean;
  sources: string[];
  note: string;
}

const advisories = data.advisories as Advisory[];
const opts = { includePrerelease: true };

const hits = (version: string): string[] =>
  advisories.filter((a) => semver.satisfies(version, a.affected, opts)).map((a) => a.id);

describe('the advisories data file', () => {
  it('has a generated date and at least one advisory', () => {
    expect(data.generated).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(advisories.length).toBeGreaterThan(0);
  });

  it('has unique ids', () => {
    const ids = advisories.map((a) => a.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it.each(advisories.map((a) => [a.id, a] as const))('%s is well formed', (_id, a) => {
    const n = a.issue.match(/^docker\/buildx#(\d+)$/)?.[1];
    expect(n, 'issue is docker/buildx#<n>').toBeDefined();
    expect(a.id).toBe(`buildx-${n}`);
    expect(a.url).toBe(`https://github.com/docker/buildx/issues/${n}`);

    expect(semver.validRange(a.affected, opts), `range ${a.affected}`).not.toBeNull();
    if (a.fixed !== null) {
      expect(semver.valid(a.fixed), `fixed ${a.fixed}`).not.toBeNull();
      expect(semver.satisfies(a.fixed, a.affected, opts)).toBe(false);
    }

    expect(['panic', 'transient', 'silent']).toContain(a.class);
    expect(['crash', 'wrong-result', 'flaky']).toContain(a.severity);
    expect(typeof a.retryHelps).toBe('boolean');
    expect(typeof a.verified).toBe('boolean');
    expect(a.signature === null || (typeof a.signature === 'string' && a.signature.length > 0)).toBe(true);
    if (a.class === 'silent') expect(a.signature).toBeNull();
    expect(a.summary.length).toBeGreaterThan(0);
    expect(a.short.length, `short: ${a.short}`).toBeGreaterThan(0);
    expect(a.short.length, `short: ${a.short}`).toBeLessThanOrEqual(60);
    expect(a.sources.length).toBeGreaterThan(0);
    for (const s of a.sources) expect(s.trim().length).toBeGreaterThan(0);
  });
});

// [version, advisory, expected]: both sides of every boundary, pre-releases included.
const table: [string, string, boolean][] = [
  ['0.8.2', 'buildx-2229', false],
  ['0.9.0-rc1', 'buildx-2229', true],
  ['0.9.0', 'buildx-2229', true],
  ['0.12.1', 'buildx-2229', true],
  ['0.13.0', 'buildx-2229', false],
  ['0.13.1', 'buildx-2229', false],

  ['0.9.1', 'buildx-2232', false],
  ['0.10.0', 'buildx-2232', true],
  ['0.10.4', 'buildx-2232', true],
  ['0.19.3', 'buildx-2232', true],
  ['0.20.0', 'buildx-2232', false],

  ['0.28.0', 'buildx-3446', false],
  ['0.29.0', 'buildx-3446', true],
  ['0.29.1', 'buildx-3446', false],

  ['0.29.1', 'buildx-3503', false],
  ['0.30.0-rc1', 'buildx-3503', true],
  ['0.30.0-rc2', 'buildx-3503', true],
  ['0.30.0', 'buildx-3503', true],
  ['0.30.1', 'buildx-3503', false],

  ['0.13.1', 'buildx-2955', true],
  ['0.21.3', 'buildx-2955', true],
  ['0.22.0', 'buildx-2955', false],

  ['0.13.1', 'buildx-3722', true],
  ['0.32.1', 'buildx-3722', true],
  ['0.33.0-rc1', 'buildx-3722', false],
  ['0.33.0', 'buildx-3722', false],

  ['0.31.0', 'buildx-3708', false],
  ['0.31.1', 'buildx-3708', true],
  ['0.36.1', 'buildx-3708', true],
];

describe('which versions each advisory covers', () => {
  it.each(table)('%s hits %s: %s', (version, id, expected) => {
    expect(
      advisories.some((a) => a.id === id),
      `${id} exists`,
    ).toBe(true);
    expect(hits(version).includes(id)).toBe(expected);
  });

  it('tests every advisory on both sides', () => {
    for (const a of advisories) {
      const rows = table.filter(([, id]) => id === a.id);
      expect(
        rows.some(([, , e]) => e),
        `${a.id} has an affected row`,
      ).toBe(true);
      expect(
        rows.some(([, , e]) => !e),
        `${a.id} has an unaffected row`,
      ).toBe(true);
    }
  });

  it('puts the fixed version of every fixed advisory outside its range', () => {
    for (const a of advisories) {
      if (a.fixed !== null) expect(hits(a.fixed)).not.toContain(a.id);
    }
  });

  it('knows the buildx this project tests with (Debian trixie 0.13.1)', () => {
    expect(hits('0.13.1').sort()).toEqual(['buildx-2232', 'buildx-2955', 'buildx-3722']);
  });
});
