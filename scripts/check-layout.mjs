// Checks the shape of src/ (the data flow, as its folders spell it): no file over 350 lines, no
// function over 80 lines, no import cycle, and no import from a later stage of the data flow
// into an earlier one. Prints every violation and exits 1 when there is any.
//
//   leaf folders (buildx, exec, http, registry, docker): facts and mechanisms, no stage
//   inputs -> policy -> install -> merge -> report -> main.ts / index.ts
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import ts from 'typescript';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'src');
const MAX_FILE_LINES = Number(process.env.MAX_FILE_LINES ?? 350);
const MAX_FUNCTION_LINES = Number(process.env.MAX_FUNCTION_LINES ?? 80);
const RANK = { inputs: 1, policy: 2, install: 3, merge: 4, report: 5 };
const LEAF = 0;
const TOP = 6;

function files(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return files(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** A module's place in the flow: its folder's stage, LEAF for shared pieces, TOP for the entry. */
function rank(file) {
  const rel = path.relative(src, file).split(path.sep);
  if (rel.length === 1) return TOP;
  return RANK[rel[0]] ?? LEAF;
}

const problems = [];
const graph = new Map();
for (const file of files(src)) {
  const rel = path.relative(root, file);
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n').length;
  if (lines > MAX_FILE_LINES) problems.push(`${rel}: ${lines} lines (at most ${MAX_FILE_LINES})`);
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const deps = [];
  const visit = (node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      if (end - start + 1 > MAX_FUNCTION_LINES) {
        const name = node.name?.getText(sf) ?? '(anonymous)';
        problems.push(
          `${rel}:${start + 1}: function ${name} is ${end - start + 1} lines (at most ${MAX_FUNCTION_LINES})`,
        );
      }
    }
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
      const spec = node.moduleSpecifier.text;
      if (spec.startsWith('.')) deps.push(path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts')));
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  graph.set(file, deps);
  for (const dep of deps) {
    if (rank(dep) > rank(file) || (rank(file) === LEAF && rank(dep) !== LEAF)) {
      problems.push(`${rel}: imports ${path.relative(root, dep)}, a later stage of the flow`);
    }
  }
}

// cycles: depth-first search with colours
const state = new Map();
const stack = [];
function dfs(file) {
  state.set(file, 1);
  stack.push(file);
  for (const dep of graph.get(file) ?? []) {
    if (!graph.has(dep)) continue;
    if (state.get(dep) === 1) {
      const cycle = stack
        .slice(stack.indexOf(dep))
        .concat(dep)
        .map((f) => path.relative(root, f));
      problems.push(`import cycle: ${cycle.join(' -> ')}`);
    } else if (!state.has(dep)) dfs(dep);
  }
  stack.pop();
  state.set(file, 2);
}
for (const file of graph.keys()) if (!state.has(file)) dfs(file);

for (const p of problems) console.log(p);
console.log(`layout: ${graph.size} modules, ${problems.length} problem(s)`);
process.exit(problems.length > 0 ? 1 : 0);
