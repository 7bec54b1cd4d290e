// A rule whose `when` selects no call its type judges is a rule silently never applied: an order-size rule
// `when: { kinds: [query] }`, a rule on `apiIds: [ka10001]` (a quote) that judges only orders, `sides` on a rule
// that judges only queries. The loader refuses it at its line, as it refuses a misspelt api-id.
import { lookupApi } from '../kiwoom/catalogue.js';
import { compileRule } from './compile.js';
import type { PolicyDoc, RuleDoc } from './document.js';
import type { SemanticIssue } from './semantic.js';

/** The kinds a side selects: orders and modifies, cancels only when when.kinds names them (rules/common.ts). */
const SIDED_KINDS = ['order', 'modify'];

/** `checkable(index)`: the rule passed the schema (compileRule reads only a schema-valid rule). */
export function unreachableIssues(doc: PolicyDoc, checkable: (index: number) => boolean = () => true): SemanticIssue[] {
  const issues: SemanticIssue[] = [];
  const ctx = { lang: 'en' as const, holidays: new Set<string>() };
  const rules = Array.isArray(doc.rules) ? doc.rules : [];
  rules.forEach((rule, index) => {
    // A rule the schema refused may not even be a map (`rules: [5, null]`): nothing of it is read.
    if (!checkable(index)) return;
    const when = rule.when;
    if (when === undefined) return;
    const judged = compileRule(rule, index, ctx).kinds;
    const kindsText = [...judged].join(', ');
    if (when.kinds !== undefined && judged.size === 0) {
      issues.push({
        path: ['rules', index, 'when', 'kinds'],
        code: 'kinds-never',
        args: { type: rule.type, judged: typeKinds(rule) },
      });
      return;
    }
    (when.apiIds ?? []).forEach((apiId, i) => {
      const kind = lookupApi(apiId)?.kind;
      if (kind !== undefined && !judged.has(kind))
        issues.push({
          path: ['rules', index, 'when', 'apiIds', i],
          code: 'api-never',
          args: { apiId, kind, type: rule.type, judged: kindsText },
        });
    });
    const sidedKinds = when.kinds?.includes('cancel') ? [...SIDED_KINDS, 'cancel'] : SIDED_KINDS;
    if (when.sides !== undefined && !sidedKinds.some((k) => judged.has(k as never)))
      issues.push({
        path: ['rules', index, 'when', 'sides'],
        code: 'sides-never',
        args: { judged: kindsText },
      });
  });
  return issues;
}

/** The kinds a rule of this type judges with no `when.kinds`. */
function typeKinds(rule: RuleDoc): string {
  const { kinds: _, ...when } = rule.when ?? {};
  return [...compileRule({ ...rule, when } as RuleDoc, 0, { lang: 'en', holidays: new Set() }).kinds].join(', ');
}
