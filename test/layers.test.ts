/**
 * Dependencies point one way, and no module imports itself through others. Reads every import
 * (static, `import type`, `export ... from`, dynamic `import()`) of the project's TypeScript and
 * checks:
 *   - each folder imports only from the layers below it (LAYERS): util at the bottom, importing
 *     nothing of the project; then engine; models and data; train; bench; cli on top. So nothing
 *     under engine/, models/, data/, train/, bench/ or util/ imports cli/;
 *   - there is no import loop (a strongly connected set of more than one module, or a module
 *     importing itself).
 * The same check by hand: grep -rnE "from '(\.\./)+cli/" engine models data train bench util
 * prints nothing.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

const root = normalize(join(dirname(new URL(import.meta.url).pathname), '..'));

/** Folder -> the folders its modules may import from (besides itself). */
const LAYERS: Record<string, string[]> = {
  util: [],
  engine: ['util'],
  models: ['engine', 'util'],
  data: ['engine', 'util'],
  train: ['data', 'models', 'engine', 'util'],
  bench: ['train', 'data', 'models', 'engine', 'util'],
  conformance: ['engine', 'util'],
  web: ['conformance', 'bench', 'train', 'data', 'models', 'engine', 'util'],
  cli: ['web', 'conformance', 'bench', 'train', 'data', 'models', 'engine', 'util'],
};

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (name.endsWith('.ts')) out.push(relative(root, p));
  }
  return out;
}

const IMPORT =
  /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]/gm;

/** The project modules a file imports (relative specifiers, resolved to repository paths). */
export function importsOf(file: string, text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (spec.startsWith('.')) out.push(normalize(join(dirname(file), spec)));
  }
  return out;
}

const files = Object.keys(LAYERS).flatMap((d) => sources(join(root, d)));
const graph = new Map(files.map((f) => [f, importsOf(f, readFileSync(join(root, f), 'utf8'))]));
const folder = (f: string) => f.split('/')[0];

/** Strongly connected components of more than one module, or a module importing itself (Tarjan). */
export function importLoops(g: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>(),
    low = new Map<string, number>(),
    onStack = new Set<string>();
  const stack: string[] = [];
  const loops: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of g.get(v) ?? []) {
      if (!g.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (g.get(v) ?? []).includes(v)) loops.push(scc.sort());
    }
  };
  for (const v of g.keys()) if (!index.has(v)) visit(v);
  return loops;
}

test('the import reader sees every import form, and the loop finder finds loops', () => {
  const text = `import { a } from './a.ts';\nimport type { B } from '../b/b.ts';\nexport { c } from "./c.ts";\nconst d = await import('./d.ts');\nimport './e.ts';\nimport { x } from 'node:fs';`;
  assert.equal(importsOf('train/x.ts', text), ['train/a.ts', 'b/b.ts', 'train/c.ts', 'train/d.ts', 'train/e.ts']);
  const g = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a']],
    ['d', ['d']],
    ['e', ['a']],
  ]);
  assert.equal(importLoops(g), [['a', 'b', 'c'], ['d']]);
  assert.equal(
    importLoops(
      new Map([
        ['a', ['b']],
        ['b', []],
      ]),
    ),
    [],
  );
});

test('every import resolves to a file that exists', () => {
  const missing = [...graph].flatMap(([f, imports]) =>
    imports.filter((t) => !statSync(join(root, t), { throwIfNoEntry: false })).map((t) => `${f} -> ${t}`),
  );
  assert.equal(missing, []);
});

test(`each layer imports only the layers below it (${Object.keys(LAYERS).join(' < ')}); nothing below cli/ imports cli/`, () => {
  const wrong: string[] = [];
  for (const [f, imports] of graph) {
    for (const t of imports) {
      const from = folder(f),
        to = folder(t);
      if (to !== from && !LAYERS[from].includes(to)) wrong.push(`${f} -> ${t}`);
    }
  }
  assert.equal(wrong, []);
  assert.ok(files.some((f) => f.startsWith('cli/')) && files.some((f) => f.startsWith('engine/')), 'the scan found the source folders');
});

test('no import loops', () => {
  assert.equal(importLoops(graph), []);
});

test.run();
