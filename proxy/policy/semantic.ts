// Checks a valid-by-schema policy needs that the JSON Schema cannot express: unique ids, overrides that point
// at a rule of their type, windows that end after they start, real holiday dates. What one value may be (an
// api-id, a stock code, a counted limit) is in the schema, so editors see it too. They run in the same pass as
// the schema: a part the schema refused (`SchemaInvalid`) is skipped, every other part is checked, so a file is
// fixed in one round.
import { parseClock } from './clock.js';
import type { PolicyDoc, RuleDoc } from './document.js';
import type { IssueArgs } from './issue-text.js';
import type { LoadLimits } from './load.js';
import { unreachableIssues } from './reach.js';

export interface SemanticIssue {
  path: (string | number)[];
  key?: string;
  code: string;
  args?: IssueArgs;
}

/** The parts of a document the schema refused: semantic checks that read them would read unchecked values. */
export interface SchemaInvalid {
  /** Indexes of rules with a schema problem. */
  rules: ReadonlySet<number>;
  calendar: boolean;
  riskThresholds: boolean;
}

export const ALL_VALID: SchemaInvalid = { rules: new Set(), calendar: false, riskThresholds: false };

export function semanticIssues(doc: PolicyDoc, limits: LoadLimits, invalid: SchemaInvalid = ALL_VALID): SemanticIssue[] {
  const issues: SemanticIssue[] = [];
  const rules = Array.isArray(doc.rules) ? doc.rules : [];
  const valid = (index: number) => !invalid.rules.has(index);
  if (rules.length > limits.maxRules) issues.push({ path: ['rules'], code: 'too-many-rules', args: { count: rules.length, max: limits.maxRules } });
  // An id is read from every rule that has a string one: a duplicate is one whatever else is wrong with the rule.
  const byId = new Map<string, { rule: RuleDoc; index: number }>();
  rules.forEach((rule, index) => {
    const id = (rule as Partial<RuleDoc> | null)?.id;
    if (typeof id !== 'string') return;
    const prior = byId.get(id);
    if (prior) issues.push({ path: ['rules', index, 'id'], code: 'duplicate-id', args: { id, first: prior.index } });
    else byId.set(id, { rule, index });
  });
  rules.forEach((rule, index) => {
    if (!valid(index)) return;
    if (rule.overrides !== undefined) {
      const target = byId.get(rule.overrides);
      const at = ['rules', index, 'overrides'];
      if (!target) issues.push({ path: at, code: 'override-missing', args: { target: rule.overrides } });
      else if (target.rule === rule) issues.push({ path: at, code: 'override-self' });
      else if (!valid(target.index)) {
        // The target's own problems are reported at its lines; its type or overrides may not be what they seem.
      } else if (target.rule.type !== rule.type)
        issues.push({ path: at, code: 'override-type', args: { target: rule.overrides, targetType: target.rule.type, type: rule.type } });
      else if (target.rule.overrides !== undefined)
        issues.push({ path: at, code: 'override-chain', args: { target: rule.overrides, root: target.rule.overrides } });
    }
    if (rule.type === 'trading-window') {
      rule.windows.forEach((w, wi) => {
        if (parseClock(w.start) >= parseClock(w.end))
          issues.push({ path: ['rules', index, 'windows', wi, 'end'], code: 'window-end', args: { start: w.start, end: w.end } });
      });
    }
    if (rule.type === 'rate-limit') {
      // Each period is one Store counter: a period named twice would be charged twice in one step, which the Store refuses.
      const periods = new Map<string, number>();
      rule.limits.forEach((l, li) => {
        const first = periods.get(l.per);
        if (first === undefined) periods.set(l.per, li);
        else issues.push({ path: ['rules', index, 'limits', li, 'per'], code: 'period-twice', args: { per: l.per, first } });
      });
    }
    if (rule.type === 'require-approval' && rule.when === undefined && rule.minNotional === undefined && rule.minQuantity === undefined) {
      issues.push({ path: ['rules', index], code: 'approval-everything' });
    }
  });
  issues.push(...unreachableIssues(doc, valid));
  const holidays = invalid.calendar ? [] : (doc.calendar?.holidays ?? []);
  holidays.forEach((d, i) => {
    const t = Date.parse(`${d}T00:00:00Z`);
    if (Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== d)
      issues.push({ path: ['calendar', 'holidays', i], code: 'not-a-date', args: { date: d } });
  });
  const thresholds = invalid.riskThresholds ? undefined : doc.riskThresholds;
  if (thresholds && (thresholds.stepUp ?? 0.7) > (thresholds.approval ?? 0.9)) {
    issues.push({ path: ['riskThresholds'], code: 'thresholds-order' });
  }
  return issues;
}
