// action.yml's defaults and the code's are the same: the inputs read with every default action.yml
// gives (as the runner fills them in) equal the inputs read with those inputs empty (the code's
// defaults, INPUT_DEFAULTS and the parsers'). A default changed in one place only fails here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

import { readInputs } from '../../src/inputs/inputs.js';

const root = join(import.meta.dirname, '..', '..');
const action = parse(readFileSync(join(root, 'action.yml'), 'utf8')) as {
  inputs: Record<string, { default?: string }>;
};
/** What the runner's expression gives for github-token is not a default the code can have. */
const RUNTIME = new Set(['github-token']);
const defaults = Object.entries(action.inputs).filter(([name]) => !RUNTIME.has(name));
const given: Record<string, string> = { sources: 'r.io/src/app:amd64', tags: 'r.io/app:v1' };

describe("action.yml's defaults are the code's", () => {
  const fromYaml = readInputs(
    (name) => given[name] ?? (RUNTIME.has(name) ? '' : action.inputs[name]?.default) ?? '',
    root,
  );
  const fromCode = readInputs((name) => given[name] ?? '', root);
  it.each(defaults.map(([name, input]) => [name, input.default ?? '']))('%s (default "%s")', (name) => {
    const key = name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const pick = (i: object) =>
      JSON.stringify((i as Record<string, unknown>)[key] ?? null, (_, v) =>
        v instanceof Set ? [...(v as Set<unknown>)] : v,
      );
    expect(pick(fromYaml)).toBe(pick(fromCode));
  });

  it('as a whole, too (every field, the ones named otherwise included)', () => {
    const plain = (i: object) =>
      JSON.stringify(i, (_, v) => (v instanceof Set ? [...(v as Set<unknown>)] : v));
    expect(plain(fromYaml)).toBe(plain(fromCode));
  });
});
