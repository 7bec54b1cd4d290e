// Reading a policy file: bounded size, bounded aliases, YAML with positions,
// JSON Schema (ajv) with unknown keys rejected, then semantic checks the
// schema cannot express. Every problem comes back with file:line:column.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { isMap, isNode, isPair, isScalar, Lexer, LineCounter, parseDocument, type Document } from 'yaml';
import { PolicyLoadError, shown, type PolicyIssue } from './errors.js';
import { POLICY_SCHEMA, RULE_TYPES } from './schema.js';
import { closest } from '../common/suggest.js';
import type { PolicyDoc } from './document.js';
import { semanticIssues } from './semantic.js';

export interface LoadLimits {
  /** Files larger than this are refused before parsing. */
  maxFileBytes: number;
  /** Bound on alias expansion (billion-laughs guard). */
  maxAliasCount: number;
  maxRules: number;
  /** Bound on [ ] / { } nesting, checked by a lexer pass before parsing (default 64). */
  maxFlowDepth?: number;
}

export const DEFAULT_LOAD_LIMITS: LoadLimits = { maxFileBytes: 1024 * 1024, maxAliasCount: 100, maxRules: 10_000, maxFlowDepth: 64 };

// The lexer's own markers (document start, flow end, scalar): not characters of the source.
const LEXER_MARKERS: ReadonlySet<string> = new Set(['\x02', '\x18', '\x1f']);

/**
 * The offset where [ ] / { } nesting first goes deeper than `max`, or -1. The YAML parser recurses per level: a
 * megabyte of "[" held the event loop for seconds (every request of the replica waited) before failing on the
 * stack. The lexer is iterative and this pass stops at the first level too deep.
 */
function flowTooDeep(text: string, max: number): number {
  let depth = 0;
  let offset = 0;
  for (const token of new Lexer().lex(text)) {
    if (token === '[' || token === '{') {
      if (++depth > max) return offset;
    } else if (token === ']' || token === '}') depth--;
    if (!LEXER_MARKERS.has(token)) offset += token.length;
  }
  return -1;
}

export interface LoadedPolicy {
  doc: PolicyDoc;
  /** sha256 of the exact bytes, first 16 hex digits. */
  version: string;
  file: string;
  /** Every bot id and account a rule's `when` names, with its line: a name nothing registered bears selects nothing. */
  names: readonly NamedInRule[];
}

export interface NamedInRule {
  rule: string;
  field: 'bots' | 'accounts';
  name: string;
  line: number;
}

function namesInRules(doc: PolicyDoc, position: PositionOf): NamedInRule[] {
  return doc.rules.flatMap((r, i) =>
    (['bots', 'accounts'] as const).flatMap((field) =>
      (r.when?.[field] ?? []).map((name, j) => ({ rule: r.id, field, name, line: position(['rules', i, 'when', field, j]).line })),
    ),
  );
}

/** The ajv settings every policy-related schema uses (verbose: errors carry the offending value). */
export function createAjv(): Ajv {
  return new Ajv({ allErrors: true, verbose: true, discriminator: true, strict: true, strictRequired: false, allowUnionTypes: true });
}

let validator: ValidateFunction | undefined;
function schemaValidator(): ValidateFunction {
  // Compiled once per process; ajv compilation is the expensive part.
  validator ??= createAjv().compile(POLICY_SCHEMA);
  return validator;
}

export function policyVersion(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}

/** Reads a policy file's bytes, at most maxFileBytes + 1 (so an oversized file is seen without reading it all); throws PolicyLoadError. */
export async function readPolicyBytes(file: string, limits: LoadLimits = DEFAULT_LOAD_LIMITS): Promise<Buffer> {
  try {
    const handle = await open(file, 'r');
    try {
      // Sized from the file, not the limit: a reload of a 2 KB policy should not zero a megabyte.
      const { size } = await handle.stat();
      let buf = Buffer.alloc(Math.min(size, limits.maxFileBytes) + 1);
      let total = 0;
      for (;;) {
        if (total === buf.length) {
          if (total > limits.maxFileBytes) break;
          // The file grew while we read it: keep reading up to the limit.
          const grown = Buffer.alloc(Math.min(buf.length * 2, limits.maxFileBytes + 1));
          buf.copy(grown);
          buf = grown;
        }
        const { bytesRead } = await handle.read(buf, total, buf.length - total, null);
        if (bytesRead === 0) break;
        total += bytesRead;
      }
      return buf.subarray(0, total);
    } finally {
      await handle.close();
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new PolicyLoadError(file, [{ file, line: 1, column: 1, path: '', message: `cannot read the file (${code})` }]);
  }
}

/** Reads and validates a policy file; throws PolicyLoadError. */
export async function loadPolicyFile(file: string, limits: LoadLimits = DEFAULT_LOAD_LIMITS): Promise<LoadedPolicy> {
  return parsePolicySource(await readPolicyBytes(file, limits), file, limits);
}

/** Parses policy text; throws PolicyLoadError listing every problem found. */
export function parsePolicySource(source: Buffer | string, file: string, limits: LoadLimits = DEFAULT_LOAD_LIMITS): LoadedPolicy {
  const { value, position, bytes } = parseValidatedYaml(source, file, limits, schemaValidator());
  const doc = value as PolicyDoc;
  const issues = semanticIssues(doc, limits).map(({ path, key, message }) => ({
    file,
    ...position(path, key),
    path: pathText(path, key),
    message,
    ...ruleAt(doc, path),
  }));
  if (issues.length > 0) throw new PolicyLoadError(file, issues);
  return { doc, version: policyVersion(bytes), file, names: namesInRules(doc, position) };
}

export type PositionOf = (path: (string | number)[], key?: string) => { line: number; column: number };

/** YAML → value checked against a compiled JSON Schema; every problem located by line and column. */
export function parseValidatedYaml(
  source: Buffer | string,
  file: string,
  limits: Pick<LoadLimits, 'maxFileBytes' | 'maxAliasCount' | 'maxFlowDepth'>,
  validate: ValidateFunction,
): { value: unknown; position: PositionOf; bytes: Buffer } {
  const bytes = typeof source === 'string' ? Buffer.from(source, 'utf8') : source;
  const fail = (message: string, line = 1, column = 1): never => {
    throw new PolicyLoadError(file, [{ file, line, column, path: '', message }]);
  };
  if (bytes.length > limits.maxFileBytes) fail(`file is larger than ${limits.maxFileBytes} bytes (policy.maxFileBytes)`);
  const text = bytes.toString('utf8');
  if (text.includes('\uFFFD')) fail('file is not valid UTF-8');

  const maxFlowDepth = limits.maxFlowDepth ?? DEFAULT_LOAD_LIMITS.maxFlowDepth!;
  const deep = flowTooDeep(text, maxFlowDepth);
  if (deep >= 0) {
    const before = text.slice(0, deep);
    const line = before.split('\n').length;
    fail(`[ ] / { } nested deeper than ${maxFlowDepth} levels (policy.maxFlowDepth)`, line, deep - before.lastIndexOf('\n'));
  }

  const lineCounter = new LineCounter();
  let document!: Document.Parsed;
  let value: unknown;
  try {
    // schema 'core' pins YAML 1.2's reading whatever a %YAML directive says: under 1.1, `maxQuantity: 010` is 8, `1:00`
    // is 60 and `on` is true. Explicit tags beyond the core ones (!!binary, !!set, !!timestamp, !custom) are not resolved:
    // they come back as warnings, refused below, never as a value the reviewer did not write.
    document = parseDocument(text, {
      lineCounter,
      merge: true,
      uniqueKeys: true,
      prettyErrors: true,
      strict: true,
      logLevel: 'error',
      schema: 'core',
      resolveKnownTags: false,
    });
  } catch (err) {
    fail(`YAML could not be parsed: ${(err as Error).message}`);
  }
  // A warning (an unresolved tag, an unsupported %YAML version) means the file says something the loader ignored.
  const problems = [...document.errors, ...document.warnings];
  if (problems.length > 0) {
    throw new PolicyLoadError(
      file,
      problems.map((e) => ({
        file,
        line: e.linePos?.[0].line ?? 1,
        column: e.linePos?.[0].col ?? 1,
        path: '',
        message: firstLine(e.message),
      })),
    );
  }
  try {
    value = document.toJS({ maxAliasCount: limits.maxAliasCount });
  } catch (err) {
    fail(`YAML could not be expanded: ${firstLine((err as Error).message)} (anchors/aliases are limited to ${limits.maxAliasCount})`);
  }

  const position = (path: (string | number)[], key?: string): { line: number; column: number } => {
    let node: unknown;
    try {
      node = path.length === 0 ? document.contents : document.getIn(path, true);
      if (key !== undefined && isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === key);
        if (pair && isNode(pair.key)) node = pair.key;
      }
    } catch {
      node = undefined;
    }
    // A missing node (e.g. a required key) points at its nearest existing parent.
    if (!isNode(node) || !node.range) {
      return path.length > 0 ? position(path.slice(0, -1)) : { line: 1, column: 1 };
    }
    const pos = lineCounter.linePos(node.range[0]);
    return { line: pos.line, column: pos.col };
  };

  if (!validate(value)) {
    throw new PolicyLoadError(file, schemaIssues(validate.errors ?? [], file, position, value));
  }
  return { value, position, bytes };
}

/** The id of the rule a path is in (`rules[3]…`), when it has a usable one: a list of 200 rules is read by id. */
function ruleAt(value: unknown, path: readonly (string | number)[]): { rule?: string } {
  if (path[0] !== 'rules' || typeof path[1] !== 'number') return {};
  const id = (value as { rules?: unknown[] } | null)?.rules?.[path[1]];
  const text = id !== null && typeof id === 'object' ? (id as { id?: unknown }).id : undefined;
  return typeof text === 'string' && text.length > 0 && text.length <= 64 ? { rule: text } : {};
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}

function pointerToPath(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => {
      const part = s.replace(/~1/g, '/').replace(/~0/g, '~');
      return /^[0-9]+$/.test(part) ? Number(part) : part;
    });
}

export function pathText(path: (string | number)[], key?: string): string {
  let out = '';
  for (const p of [...path, ...(key === undefined ? [] : [key])]) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

function schemaIssues(
  errors: ErrorObject[],
  file: string,
  position: (path: (string | number)[], key?: string) => { line: number; column: number },
  value: unknown,
): PolicyIssue[] {
  const seen = new Set<string>();
  const issues: PolicyIssue[] = [];
  const add = (path: (string | number)[], key: string | undefined, message: string) => {
    const text = pathText(path, key);
    const dedupe = `${text}|${message}`;
    if (seen.has(dedupe)) return;
    seen.add(dedupe);
    issues.push({ file, ...position(path, key), path: text, message, ...ruleAt(value, path) });
  };
  // "At least one of" / "exactly one of" groups: ajv reports each branch's missing key separately.
  const groups = new Map<string, { path: (string | number)[]; names: string[]; exactly: boolean }>();
  for (const e of errors) {
    const m = /\/(anyOf|oneOf)\/[0-9]+\/required$/.exec(e.schemaPath);
    if (e.keyword !== 'required' || !m) continue;
    const g = groups.get(e.instancePath) ?? { path: pointerToPath(e.instancePath), names: [], exactly: m[1] === 'oneOf' };
    g.names.push(String((e.params as { missingProperty: string }).missingProperty));
    groups.set(e.instancePath, g);
  }
  for (const e of errors) {
    if (e.keyword === 'anyOf') continue;
    if (e.keyword === 'required' && /\/(anyOf|oneOf)\/[0-9]+\/required$/.test(e.schemaPath)) {
      const g = groups.get(e.instancePath);
      if (g) {
        groups.delete(e.instancePath);
        add(g.path, undefined, `${g.exactly ? 'give exactly one of' : 'give at least one of'}: ${g.names.join(', ')}`);
      }
      continue;
    }
    const path = pointerToPath(e.instancePath);
    let key: string | undefined;
    let message: string;
    const params = e.params as Record<string, unknown>;
    switch (e.keyword) {
      case 'oneOf':
        // Both branches matched (e.g. trade-types with allow and deny).
        if (params.passingSchemas === null) continue;
        message = "give exactly one of 'allow' or 'deny', not both";
        break;
      case 'additionalProperties':
        key = String(params.additionalProperty);
        message = `unknown key '${key}'${didYouMean(key, Object.keys(parentProperties(e)))}${allowedKeys(e)}`;
        break;
      case 'required':
        message = `missing required key '${String(params.missingProperty)}'`;
        break;
      case 'enum':
        message = enumMessage(e.data, params.allowedValues as unknown[], e.parentSchema as { description?: string } | undefined);
        break;
      case 'const':
        message = `must be ${JSON.stringify(params.allowedValue)}`;
        break;
      case 'discriminator':
        message =
          params.error === 'mapping'
            ? `unknown rule type ${shown(params.tagValue)}${didYouMean(params.tagValue, RULE_TYPES)}; expected one of: ${ruleTypeList()}`
            : `a rule needs a 'type' (one of: ${ruleTypeList()})`;
        if (params.error === 'mapping') path.push('type');
        break;
      case 'pattern':
        message = `${shown(e.data)} is not valid here (${(e.parentSchema as { description?: string } | undefined)?.description ?? `expected ${String(params.pattern)}`})`;
        break;
      case 'type':
        message = `${shown(e.data)} is not allowed; expected ${String(params.type)}`;
        break;
      default:
        message = `${e.message ?? e.keyword}${e.data !== undefined && typeof e.data !== 'object' ? ` (got ${shown(e.data)})` : ''}`;
    }
    add(path, key, message);
  }
  return issues;
}

function parentProperties(e: ErrorObject): Record<string, unknown> {
  return (e.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties ?? {};
}

function allowedKeys(e: ErrorObject): string {
  const keys = Object.keys(parentProperties(e));
  return keys.length > 0 ? ` (expected one of: ${keys.join(', ')})` : '';
}

/** " (did you mean …?)" when a known name is one or two edits from what was written (maxQuantty, kt10O00, order-sise). */
function didYouMean(written: unknown, known: readonly unknown[]): string {
  if (typeof written !== 'string') return '';
  const names = known.filter((k): k is string => typeof k === 'string');
  const near = closest(written, names);
  return near === undefined || near === written ? '' : ` (did you mean ${JSON.stringify(near)}?)`;
}

/** Up to this many allowed values are listed; a longer list (the api-id catalogue) is named by its description. */
const LISTED_VALUES = 24;

function enumMessage(data: unknown, allowed: readonly unknown[], parent: { description?: string } | undefined): string {
  const expected =
    allowed.length <= LISTED_VALUES || parent?.description === undefined
      ? `expected one of: ${allowed.map((v) => JSON.stringify(v)).join(', ')}`
      : `expected ${parent.description.charAt(0).toLowerCase()}${parent.description.slice(1).replace(/\.$/, '')}`;
  return `${shown(data)} is not allowed${didYouMean(data, allowed)}; ${expected}`;
}

let ruleTypes: string | undefined;
function ruleTypeList(): string {
  ruleTypes ??= POLICY_SCHEMA.properties.rules.items.oneOf.map((r) => r.properties.type.const).join(', ');
  return ruleTypes;
}
