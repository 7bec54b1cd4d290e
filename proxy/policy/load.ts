// Reading a policy file: bounded size, bounded aliases, YAML with positions,
// JSON Schema (ajv) with unknown keys rejected, then semantic checks the
// schema cannot express. Every problem comes back with file:line:column.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { Options, ValidateFunction } from 'ajv';
import { isMap, isNode, isPair, isScalar, Lexer, LineCounter, parseDocument, type Document } from 'yaml';
import { PolicyLoadError, policyIssue, type PolicyIssue } from './errors.js';
import type { IssueArgs } from './issue-text.js';
import { loadValidator, type ValidatorSpec } from '../common/validators.js';
import { POLICY_SCHEMA } from './schema.js';
import { firstLine, pathText, ruleAt, schemaIssues } from './schema-issues.js';
import type { PolicyDoc } from './document.js';
import { semanticIssues, type SchemaInvalid } from './semantic.js';

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
export const POLICY_AJV_OPTIONS: Options = { allErrors: true, verbose: true, discriminator: true, strict: true, strictRequired: false, allowUnionTypes: true };
export const POLICY_VALIDATOR: ValidatorSpec = { name: 'policy', schema: POLICY_SCHEMA, options: POLICY_AJV_OPTIONS };
let validator: ValidateFunction | undefined;
function schemaValidator(): ValidateFunction {
  // Loaded (or compiled) once per process, on first use.
  validator ??= loadValidator(POLICY_VALIDATOR).validate;
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
    throw new PolicyLoadError(file, [policyIssue({ file, line: 1, column: 1, path: '' }, 'unreadable', { reason: code })]);
  }
}

/** Reads and validates a policy file; throws PolicyLoadError. */
export async function loadPolicyFile(file: string, limits: LoadLimits = DEFAULT_LOAD_LIMITS): Promise<LoadedPolicy> {
  return parsePolicySource(await readPolicyBytes(file, limits), file, limits);
}

/**
 * Parses policy text; throws PolicyLoadError listing every problem found. The semantic checks run beside the
 * schema's: only the parts the schema refused are left out of them, so one `kguard policy check` lists it all.
 */
export function parsePolicySource(source: Buffer | string, file: string, limits: LoadLimits = DEFAULT_LOAD_LIMITS): LoadedPolicy {
  const { value, position, bytes, schema, invalidAt } = parseYaml(source, file, limits, schemaValidator());
  const doc = value as PolicyDoc;
  const semantic =
    value !== null && typeof value === 'object' && !Array.isArray(value)
      ? semanticIssues(doc, limits, schemaInvalid(invalidAt)).map(({ path, key, code, args }) => ({
          ...policyIssue({ file, ...position(path, key), path: pathText(path, key) }, code, args),
          ...ruleAt(doc, path),
        }))
      : [];
  const issues = [...schema, ...semantic];
  if (issues.length > 0) throw new PolicyLoadError(file, issues);
  return { doc, version: policyVersion(bytes), file, names: namesInRules(doc, position) };
}

/** Which parts of a policy the schema refused, from its errors' instance paths (/rules/3/maxQuantity). */
function schemaInvalid(instancePaths: readonly string[]): SchemaInvalid {
  const rules = new Set<number>();
  let calendar = false;
  let riskThresholds = false;
  for (const p of instancePaths) {
    const m = /^\/rules\/([0-9]+)(\/|$)/.exec(p);
    if (m) rules.add(Number(m[1]));
    else if (p === '/calendar' || p.startsWith('/calendar/')) calendar = true;
    else if (p === '/riskThresholds' || p.startsWith('/riskThresholds/')) riskThresholds = true;
  }
  return { rules, calendar, riskThresholds };
}

export type PositionOf = (path: (string | number)[], key?: string) => { line: number; column: number };

type YamlLimits = Pick<LoadLimits, 'maxFileBytes' | 'maxAliasCount' | 'maxFlowDepth'>;

/**
 * YAML → value and the schema's problems with it (not thrown), with the instance paths the schema refused. A file
 * that is not YAML at all (too large, not UTF-8, a syntax error) throws PolicyLoadError: there is nothing to check.
 */
export function parseYaml(
  source: Buffer | string,
  file: string,
  limits: YamlLimits,
  validate: ValidateFunction,
): { value: unknown; position: PositionOf; bytes: Buffer; schema: PolicyIssue[]; invalidAt: string[] } {
  const bytes = typeof source === 'string' ? Buffer.from(source, 'utf8') : source;
  const fail = (code: string, args: IssueArgs = {}, line = 1, column = 1): never => {
    throw new PolicyLoadError(file, [policyIssue({ file, line, column, path: '' }, code, args)]);
  };
  if (bytes.length > limits.maxFileBytes) fail('too-large', { max: limits.maxFileBytes });
  const text = bytes.toString('utf8');
  if (text.includes('\uFFFD')) fail('not-utf8');

  const maxFlowDepth = limits.maxFlowDepth ?? DEFAULT_LOAD_LIMITS.maxFlowDepth!;
  const deep = flowTooDeep(text, maxFlowDepth);
  if (deep >= 0) {
    const before = text.slice(0, deep);
    const line = before.split('\n').length;
    fail('too-deep', { max: maxFlowDepth }, line, deep - before.lastIndexOf('\n'));
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
    fail('yaml', { thrown: true, detail: (err as Error).message });
  }
  // A warning (an unresolved tag, an unsupported %YAML version) means the file says something the loader ignored.
  const problems = [...document.errors, ...document.warnings];
  if (problems.length > 0) {
    throw new PolicyLoadError(
      file,
      problems.map((e) =>
        policyIssue({ file, line: e.linePos?.[0].line ?? 1, column: e.linePos?.[0].col ?? 1, path: '' }, 'yaml', {
          yamlCode: e.code,
          detail: firstLine(e.message),
        }),
      ),
    );
  }
  try {
    value = document.toJS({ maxAliasCount: limits.maxAliasCount });
  } catch (err) {
    fail('aliases', { detail: firstLine((err as Error).message), max: limits.maxAliasCount });
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

  if (validate(value)) return { value, position, bytes, schema: [], invalidAt: [] };
  const errors = validate.errors ?? [];
  return { value, position, bytes, schema: schemaIssues(errors, file, position, value), invalidAt: errors.map((e) => e.instancePath) };
}
