// The JSON Schema's errors (ajv) as policy issues: one per problem, at the line and column of the value, with
// the rule id, the nearest known name for a typo, and a code and args for either language (issue-text.ts).
import type { ErrorObject } from 'ajv';
import { closest } from '../common/suggest.js';
import { policyIssue, shown, type PolicyIssue } from './errors.js';
import type { IssueArgs } from './issue-text.js';
import { POLICY_SCHEMA, RULE_TYPES } from './schema.js';

/** The id of the rule a path is in (`rules[3]…`), when it has a usable one: a list of 200 rules is read by id. */
export function ruleAt(value: unknown, path: readonly (string | number)[]): { rule?: string } {
  if (path[0] !== 'rules' || typeof path[1] !== 'number') return {};
  const id = (value as { rules?: unknown[] } | null)?.rules?.[path[1]];
  const text = id !== null && typeof id === 'object' ? (id as { id?: unknown }).id : undefined;
  return typeof text === 'string' && text.length > 0 && text.length <= 64 ? { rule: text } : {};
}

export function firstLine(message: string): string {
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

export function schemaIssues(
  errors: ErrorObject[],
  file: string,
  position: (path: (string | number)[], key?: string) => { line: number; column: number },
  value: unknown,
): PolicyIssue[] {
  const seen = new Set<string>();
  const issues: PolicyIssue[] = [];
  const add = (path: (string | number)[], key: string | undefined, code: string, args: IssueArgs = {}) => {
    const text = pathText(path, key);
    const issue = { ...policyIssue({ file, ...position(path, key), path: text }, code, args), ...ruleAt(value, path) };
    const dedupe = `${text}|${issue.message}`;
    if (seen.has(dedupe)) return;
    seen.add(dedupe);
    issues.push(issue);
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
        add(g.path, undefined, 'one-of-keys', { exactly: g.exactly, names: g.names.join(', ') });
      }
      continue;
    }
    const path = pointerToPath(e.instancePath);
    const params = e.params as Record<string, unknown>;
    // The offending value, quoted, when it is a scalar: a list or a map is at the line shown.
    const got: { value?: string } = e.data !== undefined && typeof e.data !== 'object' ? { value: shown(e.data) } : {};
    const limit = { limit: Number(params.limit) };
    switch (e.keyword) {
      case 'oneOf':
        // Both branches matched (e.g. trade-types with allow and deny).
        if (params.passingSchemas === null) continue;
        add(path, undefined, 'allow-or-deny');
        break;
      case 'additionalProperties': {
        const key = String(params.additionalProperty);
        const keys = Object.keys(parentProperties(e));
        add(path, key, 'unknown-key', { key, ...near(key, keys), ...(keys.length > 0 ? { expected: keys.join(', ') } : {}) });
        break;
      }
      case 'required':
        add(path, undefined, 'missing-key', { key: String(params.missingProperty) });
        break;
      case 'enum':
        add(path, undefined, 'not-in-list', enumArgs(e.data, params.allowedValues as unknown[], e.parentSchema as { description?: string } | undefined));
        break;
      case 'const':
        add(path, undefined, 'must-be', { expected: JSON.stringify(params.allowedValue) });
        break;
      case 'discriminator':
        if (params.error === 'mapping')
          add([...path, 'type'], undefined, 'unknown-rule-type', {
            value: shown(params.tagValue),
            ...near(params.tagValue, RULE_TYPES),
            types: ruleTypeList(),
          });
        else add(path, undefined, 'rule-needs-type', { types: ruleTypeList() });
        break;
      case 'pattern':
        // Said by the pattern, not the field's description: an id's description says what it is for, not how to write it.
        add(path, undefined, 'pattern', { value: shown(e.data), pattern: String(params.pattern) });
        break;
      case 'type':
        add(path, undefined, 'wrong-type', { value: shown(e.data), type: String(params.type) });
        break;
      case 'minimum':
      case 'maximum':
      case 'exclusiveMinimum':
      case 'exclusiveMaximum':
        add(path, undefined, 'bound', { comparison: String(params.comparison), ...limit, ...got });
        break;
      case 'maxLength':
        add(path, undefined, 'too-long', { ...limit, ...got });
        break;
      case 'minLength':
        add(path, undefined, 'too-short', { ...limit, ...got });
        break;
      case 'maxItems':
        add(path, undefined, 'too-many-items', limit);
        break;
      case 'minItems':
        add(path, undefined, 'too-few-items', limit);
        break;
      case 'uniqueItems':
        add(path, undefined, 'repeated-item', { i: Number(params.i), j: Number(params.j) });
        break;
      default:
        add(path, undefined, 'schema', { detail: `${e.message ?? e.keyword}${got.value === undefined ? '' : ` (got ${got.value})`}` });
    }
  }
  return issues;
}

function parentProperties(e: ErrorObject): Record<string, unknown> {
  return (e.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties ?? {};
}

/** `near`: the known name one or two edits from what was written (maxQuantty, kt10O00, order-sise), if any. */
function near(written: unknown, known: readonly unknown[]): { near?: string } {
  if (typeof written !== 'string') return {};
  const names = known.filter((k): k is string => typeof k === 'string');
  const found = closest(written, names);
  return found === undefined || found === written ? {} : { near: found };
}

/** Up to this many allowed values are listed; a longer list (the api-id catalogue) is named by its description. */
const LISTED_VALUES = 24;

function enumArgs(data: unknown, allowed: readonly unknown[], parent: { description?: string } | undefined): IssueArgs {
  const head = { value: shown(data), ...near(data, allowed) };
  if (allowed.length <= LISTED_VALUES || parent?.description === undefined) return { ...head, listed: allowed.map((v) => JSON.stringify(v)).join(', ') };
  return { ...head, described: `${parent.description.charAt(0).toLowerCase()}${parent.description.slice(1).replace(/\.$/, '')}` };
}

let ruleTypes: string | undefined;
function ruleTypeList(): string {
  ruleTypes ??= POLICY_SCHEMA.properties.rules.items.oneOf.map((r) => r.properties.type.const).join(', ');
  return ruleTypes;
}
