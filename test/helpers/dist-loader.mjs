// Runs the project's TypeScript in tests from what `tsc` already emitted into
// dist/ (npm test's pretest compiles it, source maps included), so a test
// process does not load a TypeScript compiler: ts-node's start-up was ~1.8 s
// of every test file's ~3 s. Registered by tap's `node-arg` (package.json).
// URLs stay the .ts files', so import.meta.url, coverage and stack traces
// point at the sources; the emitted source map maps the lines back.
// A .ts file newer than its emitted JS (edited since the last build) is
// transpiled on the spot instead, so `npx tap <file>` never runs stale code.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { register } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DIST = path.join(ROOT, 'dist');

/** The emitted JS for a source under ROOT, or null when it is missing or older than the source. */
function emitted(sourcePath) {
  const rel = path.relative(ROOT, sourcePath);
  if (rel.startsWith('..') || rel.startsWith('node_modules') || rel.startsWith('dist')) return null;
  const js = path.join(DIST, rel.replace(/\.ts$/, '.js'));
  if (!existsSync(js) || statSync(js).mtimeMs < statSync(sourcePath).mtimeMs) return null;
  return js;
}

let compiler;
async function transpile(sourcePath) {
  compiler ??= (await import('typescript')).default;
  const { outputText } = compiler.transpileModule(readFileSync(sourcePath, 'utf8'), {
    fileName: sourcePath,
    compilerOptions: {
      target: compiler.ScriptTarget.ES2022,
      // ES modules, as tsc emits for this "type": "module" package (NodeNext would need the package.json).
      module: compiler.ModuleKind.ES2022,
      esModuleInterop: true,
      inlineSourceMap: true,
      inlineSources: true,
    },
  });
  return outputText;
}

export async function resolve(specifier, context, nextResolve) {
  // Sources import each other as './x.js' (NodeNext); the file on disk is './x.ts'.
  if (specifier.endsWith('.js') && context.parentURL?.endsWith('.ts') && (specifier.startsWith('.') || specifier.startsWith('file:'))) {
    const asTs = new URL(specifier.replace(/\.js$/, '.ts'), context.parentURL);
    if (existsSync(fileURLToPath(asTs))) return { url: asTs.href, format: 'module', shortCircuit: true };
  }
  return nextResolve(specifier, context);
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return nextLoad(url, context);
  const sourcePath = fileURLToPath(url);
  const js = emitted(sourcePath);
  if (js === null) return { format: 'module', source: await transpile(sourcePath), shortCircuit: true };
  // Inline the emitted map with absolute sources (Node does not follow a file URL in
  // sourceMappingURL for a module whose URL is not the map's neighbour's).
  const map = JSON.parse(readFileSync(`${js}.map`, 'utf8'));
  map.sources = map.sources.map((s) => pathToFileURL(path.resolve(path.dirname(js), map.sourceRoot ?? '', s)).href);
  map.sourceRoot = '';
  const inline = `//# sourceMappingURL=data:application/json;base64,${Buffer.from(JSON.stringify(map)).toString('base64')}`;
  const source = readFileSync(js, 'utf8').replace(/\/\/# sourceMappingURL=.*$/m, inline);
  return { format: 'module', source, shortCircuit: true };
}

// Imported by `--import`: register these hooks; the hooks thread imports this
// file again, and must not register from there.
if (isMainThread) register(import.meta.url);
