// The documentation against the action: README.md's inputs and outputs tables say what action.yml
// says (every name, no other, the defaults exactly), README.md stays a front page (at most 20 KB),
// and every relative link in the Markdown files points at a file, and a heading, that exists.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const README_MAX_BYTES = 20_480;

interface ActionYml {
  inputs: Record<string, { default?: unknown }>;
  outputs: Record<string, unknown>;
}

type Row = Record<string, string>;

/** Fenced code blocks blanked out (line numbers kept), so nothing in them counts as Markdown. */
function withoutCode(md: string): string {
  let fence = '';
  return md
    .split('\n')
    .map((line) => {
      const m = /^\s*(`{3,}|~{3,})/.exec(line);
      if (fence) {
        if (m && m[1]!.startsWith(fence)) fence = '';
        return '';
      }
      if (m) {
        fence = m[1]!;
        return '';
      }
      return line;
    })
    .join('\n');
}

/** The lines under `## <title>`, up to the next heading of that level or higher. */
function section(md: string, title: string): string[] {
  const lines = withoutCode(md).split('\n');
  const start = lines.findIndex((l) => l.trim() === `## ${title}`);
  if (start < 0) return [];
  const end = lines.findIndex((l, i) => i > start && /^#{1,2} /.test(l));
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** A cell's text: GFM's `\|` unescaped; one code span around the whole cell taken off. */
function cellText(cell: string): string {
  const t = cell.trim().replace(/\\\|/g, '|');
  const code = /^`([^`]*)`$/.exec(t);
  return code ? code[1]! : t;
}

/** The first GFM table in these lines, as rows keyed by the header's cells. */
function firstTable(lines: string[]): Row[] {
  const start = lines.findIndex((l) => l.trim().startsWith('|'));
  if (start < 0) return [];
  const block: string[] = [];
  for (const l of lines.slice(start)) {
    if (!l.trim().startsWith('|')) break;
    block.push(l.trim());
  }
  const cells = (l: string) =>
    l
      .replace(/^\||\|$/g, '')
      .split(/(?<!\\)\|/)
      .map(cellText);
  const header = cells(block[0] ?? '');
  return block.slice(2).map((l) => Object.fromEntries(cells(l).map((c, i) => [header[i] ?? `${i}`, c])));
}

/** What is wrong between one README table and action.yml's entries, one line per problem. */
function tableProblems(
  kind: 'input' | 'output',
  rows: Row[],
  entries: Record<string, { default?: unknown } | unknown>,
): string[] {
  const problems: string[] = [];
  const byName = new Map(rows.map((r) => [r[kind] ?? '', r]));
  for (const [name, spec] of Object.entries(entries)) {
    const row = byName.get(name);
    if (!row) {
      problems.push(`${kind} ${name}: in action.yml, not in the README's table`);
      continue;
    }
    if (kind === 'input') {
      const want = String((spec as { default?: unknown } | null)?.default ?? '');
      const got = row.default ?? '';
      if (got !== want)
        problems.push(
          `${kind} ${name}: default ${JSON.stringify(got)}, action.yml has ${JSON.stringify(want)}`,
        );
    }
  }
  for (const name of byName.keys()) {
    if (!(name in entries)) problems.push(`${kind} ${name}: in the README's table, not in action.yml`);
  }
  return problems;
}

/** A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/[`*]/g, '')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor of a Markdown text's headings; repeated ones get -1, -2, ... as on GitHub. */
function anchors(md: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of withoutCode(md).split('\n')) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** The targets of a Markdown text's links and images, code spans and code blocks left out. */
function links(md: string): string[] {
  const text = withoutCode(md).replace(/`[^`\n]*`/g, '');
  return [...text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!);
}

/**
 * Broken relative links of one file (paths from the repository's root): `file -> target: why`.
 * `read` gives a Markdown file's text, `exists` says whether any other path exists.
 */
function brokenLinks(
  file: string,
  md: string,
  read: (path: string) => string | undefined,
  exists: (path: string) => boolean,
): string[] {
  const problems: string[] = [];
  for (const target of links(md)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
    const [path = '', anchor] = target.split('#', 2);
    const dest = path === '' ? file : join(dirname(file), decodeURIComponent(path));
    const text = read(dest);
    if (text === undefined && !exists(dest)) {
      problems.push(`${file} -> ${target}: no such file`);
    } else if (anchor !== undefined && dest.endsWith('.md')) {
      if (!anchors(text ?? '').has(decodeURIComponent(anchor))) {
        problems.push(`${file} -> ${target}: no such heading`);
      }
    }
  }
  return problems;
}

const existsRepo = (path: string): boolean => existsSync(join(root, path));
const readRepo = (path: string): string | undefined =>
  existsRepo(path) && statSync(join(root, path)).isFile()
    ? readFileSync(join(root, path), 'utf8')
    : undefined;

const action = parse(readFileSync(join(root, 'action.yml'), 'utf8')) as ActionYml;
const readme = readFileSync(join(root, 'README.md'), 'utf8');

describe('the helpers', () => {
  it.each([
    ['Quick start', 'quick-start'],
    [
      'What runs where: buildx moves content, the action writes every index',
      'what-runs-where-buildx-moves-content-the-action-writes-every-index',
    ],
    ['Re-runs and immutable tags', 're-runs-and-immutable-tags'],
    ['`install-plugin`', 'install-plugin'],
    ['Levels, and docker/metadata-action', 'levels-and-dockermetadata-action'],
    ['The [policy](docs/policy.md) file', 'the-policy-file'],
    ['Guarantees, and what it does', 'guarantees-and-what-it-does'],
    ['snake_case and 1.2.3', 'snake_case-and-123'],
  ])('slug(%j) is %j', (heading, want) => {
    expect(slug(heading)).toBe(want);
  });

  it('numbers repeated headings and ignores # lines in code blocks', () => {
    const md = '# A\n\n## Notes\n\n```sh\n# Notes\n```\n\n### Notes\n';
    expect([...anchors(md)]).toEqual(['a', 'notes', 'notes-1']);
  });

  it.each<[string, string, string[]]>([
    ['a link and an image', '[a](docs/x.md#y) and ![b](docs/p.png)', ['docs/x.md#y', 'docs/p.png']],
    ['not in code', '`[a](nope.md)` and\n\n```md\n[b](nope.md)\n```\n[c](yes.md)', ['yes.md']],
    ['with a title', '[a](x.md "the title")', ['x.md']],
  ])('links: %s', (_, md, want) => {
    expect(links(md)).toEqual(want);
  });

  it.each<[string, string, Record<string, string>, string[]]>([
    ['a file that exists', '[a](b.md)', { 'd/b.md': '# B' }, []],
    ['a missing file', '[a](gone.md)', {}, ['d/a.md -> gone.md: no such file']],
    ['a heading that exists', '[a](b.md#two-words)', { 'd/b.md': '## Two words' }, []],
    [
      'a missing heading',
      '[a](b.md#three)',
      { 'd/b.md': '## Two' },
      ['d/a.md -> b.md#three: no such heading'],
    ],
    [
      'an anchor in the same file',
      '# Top\n\n[a](#top) [b](#bottom)',
      {},
      ['d/a.md -> #bottom: no such heading'],
    ],
    ['a path up', '[a](../c.md#c)', { 'c.md': '# C' }, []],
    ['an absolute URL', '[a](https://example.com/x.md#nothing)', {}, []],
  ])('brokenLinks: %s', (_, md, files, want) => {
    const all: Record<string, string> = { ...files, 'd/a.md': md };
    expect(
      brokenLinks(
        'd/a.md',
        md,
        (path) => all[path],
        (path) => path in all,
      ),
    ).toEqual(want);
  });

  it('reads a table, a code span with an escaped pipe included', () => {
    const md =
      '## Inputs\n\n| input | default | meaning |\n| --- | --- | --- |\n| `a` | `x\\|y` | A. |\n| `b` | | B. |\n\n## Next\n';
    expect(firstTable(section(md, 'Inputs'))).toEqual([
      { input: 'a', default: 'x|y', meaning: 'A.' },
      { input: 'b', default: '', meaning: 'B.' },
    ]);
  });

  it.each<[string, Row[], string[]]>([
    [
      'all there',
      [
        { input: 'a', default: '1' },
        { input: 'b', default: '' },
      ],
      [],
    ],
    ['one missing', [{ input: 'a', default: '1' }], ["input b: in action.yml, not in the README's table"]],
    [
      'one action.yml lacks',
      [
        { input: 'a', default: '1' },
        { input: 'b', default: '' },
        { input: 'c', default: '' },
      ],
      ["input c: in the README's table, not in action.yml"],
    ],
    [
      'a default that differs',
      [
        { input: 'a', default: "(runner's)" },
        { input: 'b', default: '' },
      ],
      [`input a: default "(runner's)", action.yml has "1"`],
    ],
  ])('tableProblems: %s', (_, rows, want) => {
    expect(tableProblems('input', rows, { a: { default: '1' }, b: {} })).toEqual(want);
  });
});

describe('README.md against action.yml', () => {
  it.each<[string, 'input' | 'output', Record<string, unknown>]>([
    ['Inputs', 'input', action.inputs],
    ['Outputs', 'output', action.outputs],
  ])('the %s table lists every one of action.yml, no other, with its default', (title, kind, entries) => {
    const rows = firstTable(section(readme, title));
    expect(rows.length, `a table under "## ${title}"`).toBeGreaterThan(0);
    expect(tableProblems(kind, rows, entries)).toEqual([]);
  });

  it(`is at most ${README_MAX_BYTES} bytes`, () => {
    expect(statSync(join(root, 'README.md')).size).toBeLessThanOrEqual(README_MAX_BYTES);
  });
});

describe('the Markdown files', () => {
  const docs = readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`);
  const files = ['README.md', 'CONTRIBUTING.md', 'bench/README.md', ...docs];

  it.each(files)('%s: every relative link points at a file and a heading that exist', (file) => {
    const md = readRepo(file);
    expect(md, `${file} exists`).toBeDefined();
    expect(brokenLinks(file, md ?? '', readRepo, existsRepo)).toEqual([]);
  });

  // this repository has no issue tracker of its own: upstream issues are named owner/repo#N
  it.each(files)('%s: names no issue of a tracker the repository does not have', (file) => {
    expect(readRepo(file)?.match(/\bissues? #?\d+/gi) ?? []).toEqual([]);
  });
});
