// The parts under proxy/ depend on each other in one direction only:
//   common ← infrastructure (state, vault, audit; then kiwoom) ← domain ← server ← cli
// A part imports only from lower layers (type imports and dynamic imports
// count too), so there is no cycle between parts and no sibling borrowing:
// a helper two parts share belongs in common/.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ROOT } from '../helpers/harness.js';

const LAYERS: Record<string, number> = {
  common: 0,
  state: 1,
  vault: 1,
  audit: 1,
  kiwoom: 2,
  auth: 3,
  policy: 3,
  risk: 3,
  approval: 3,
  response: 3,
  sim: 3,
  admin: 3,
  server: 4,
  cli: 5,
};

const PROXY = path.join(ROOT, 'proxy');
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g;

interface Edge {
  from: string;
  to: string;
  file: string;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

function edges(): Edge[] {
  const out: Edge[] = [];
  for (const file of sources(PROXY)) {
    const from = path.relative(PROXY, file).split(path.sep)[0]!;
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const spec = m[1] ?? m[2]!;
      if (!spec.startsWith('.')) continue;
      const rel = path.relative(PROXY, path.resolve(path.dirname(file), spec));
      if (rel.startsWith('..')) continue;
      const to = rel.split(path.sep)[0]!;
      if (to !== from) out.push({ from, to, file: path.relative(ROOT, file) });
    }
  }
  return out;
}

/** Strongly connected parts (Tarjan): any component with more than one part is a cycle. */
function cycles(all: Edge[]): string[][] {
  const graph = new Map<string, Set<string>>();
  for (const e of all) {
    if (!graph.has(e.from)) graph.set(e.from, new Set());
    if (!graph.has(e.to)) graph.set(e.to, new Set());
    graph.get(e.from)!.add(e.to);
  }
  let index = 0;
  const idx = new Map<string, number>(),
    low = new Map<string, number>(),
    stack: string[] = [],
    on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v)!) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) out.push(comp.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

const all = edges();

t.test('every part under proxy/ has a layer', async (t) => {
  const parts = readdirSync(PROXY, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name);
  t.same(
    parts.filter((p) => !(p in LAYERS)),
    [],
    'a new part needs its place in LAYERS',
  );
});

t.test('no import goes against the layers (common ← infrastructure ← domain ← server ← cli)', async (t) => {
  const wrong = all.filter((e) => (LAYERS[e.to] ?? 99) >= (LAYERS[e.from] ?? -1));
  t.same(
    wrong.map((e) => `${e.file}: ${e.from} -> ${e.to}`),
    [],
    'imports only from lower layers',
  );
  t.ok(all.length > 50, `the scan saw the imports (${all.length} cross-part imports)`);
});

t.test('no import cycle between parts', async (t) => {
  t.same(cycles(all), [], 'no strongly connected group of parts');
  // The check itself finds a planted cycle.
  t.same(
    cycles([
      { from: 'a', to: 'b', file: 'x' },
      { from: 'b', to: 'c', file: 'y' },
      { from: 'c', to: 'a', file: 'z' },
    ]),
    [['a', 'b', 'c']],
  );
});

t.test('no source file is over 400 lines (a file that grows past it is split by concern)', async (t) => {
  const long = sources(PROXY)
    .map((f) => ({ f: path.relative(ROOT, f), lines: readFileSync(f, 'utf8').split('\n').length - 1 }))
    .filter((x) => x.lines > 400);
  t.same(long, [], 'every file under proxy/ has at most 400 lines');
});
