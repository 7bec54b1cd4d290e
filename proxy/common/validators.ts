// JSON Schema validators compiled ahead of time. Compiling the config and
// policy schemas with ajv costs about 0.3 s of CPU, paid by every process that
// reads a config or a policy: each kguard command, each replica's start.
// `npm run build` writes each validator as ajv standalone code to
// dist/proxy/validators/<name>.cjs together with a digest of what it was
// compiled from (schema, ajv options, ajv version). A process uses that code
// only while the digest still matches and compiles the schema otherwise, so an
// edited schema is never judged by a stale validator.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Ajv as AjvClass, Options, ValidateFunction } from 'ajv';
import type standaloneCodeModule from 'ajv/dist/standalone/index.js';

export interface ValidatorSpec {
  /** File name under dist/proxy/validators (without .cjs). */
  readonly name: string;
  readonly schema: object;
  readonly options: Options;
}

export type ValidatorSource = 'precompiled' | 'compiled';

const require = createRequire(import.meta.url);
const AJV_VERSION: string = require('ajv/package.json').version;

// ajv itself (about 65 modules) is loaded only to compile: a process whose validators are all precompiled (every
// start of a built install) never loads it; their code requires ajv's few runtime helpers by itself.
const newAjv = (options: Options): AjvClass => new (require('ajv') as { Ajv: typeof AjvClass }).Ajv(options);

/** The package root: the nearest folder above this module holding package.json (source and dist alike). */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) return dir;
    dir = up;
  }
  return dir;
}

export const PRECOMPILED_DIR = path.join(packageRoot(), 'dist', 'proxy', 'validators');

export function validatorDigest(spec: ValidatorSpec): string {
  return createHash('sha256')
    .update(JSON.stringify({ schema: spec.schema, options: spec.options, ajv: AJV_VERSION }))
    .digest('hex');
}

function precompiled(spec: ValidatorSpec, dir: string): ValidateFunction | undefined {
  const file = path.join(dir, `${spec.name}.cjs`);
  if (!existsSync(file)) return undefined;
  // Evaluated as ajv evaluates its own compiled code (new Function), with this
  // module's require: its ajv runtime helpers resolve wherever the file lies.
  const module = { exports: {} as ValidateFunction & { digest?: string } };
  try {
    new Function('module', 'exports', 'require', readFileSync(file, 'utf8'))(module, module.exports, require);
  } catch (err) {
    // A damaged build is not papered over by compiling: the process stops, naming the file to rebuild.
    throw new Error(`precompiled validator ${file} cannot be loaded (${(err as Error).message}); rebuild with npm run build`, { cause: err });
  }
  return module.exports.digest === validatorDigest(spec) ? module.exports : undefined;
}

/**
 * The validator for a schema: the build's precompiled code when it was made
 * from this very schema, ajv's compilation otherwise. Call once per process.
 */
export function loadValidator(spec: ValidatorSpec, dir = PRECOMPILED_DIR): { validate: ValidateFunction; source: ValidatorSource } {
  const fn = precompiled(spec, dir);
  if (fn) return { validate: fn, source: 'precompiled' };
  return { validate: newAjv(spec.options).compile(spec.schema), source: 'compiled' };
}

/** Writes each spec's standalone validator (CommonJS, its digest attached) into dir, each file replaced whole. */
export function writeValidators(specs: readonly ValidatorSpec[], dir = PRECOMPILED_DIR): string[] {
  mkdirSync(dir, { recursive: true });
  return specs.map((spec) => {
    const ajv = newAjv({ ...spec.options, code: { ...spec.options.code, source: true } });
    const standaloneCode = (require('ajv/dist/standalone/index.js') as typeof standaloneCodeModule).default;
    const code = standaloneCode(ajv, ajv.compile(spec.schema));
    const file = path.join(dir, `${spec.name}.cjs`);
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${code}\nmodule.exports.digest = ${JSON.stringify(validatorDigest(spec))};\n`);
    renameSync(tmp, file);
    return file;
  });
}
