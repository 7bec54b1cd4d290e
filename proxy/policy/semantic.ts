// Checks a valid-by-schema policy needs that the JSON Schema cannot express: unique ids, overrides that point
// at a rule of their type, windows that end after they start, real holiday dates. What one value may be (an
// api-id, a stock code, a counted limit) is in the schema, so editors see it too.
import { parseClock } from './clock.js';
import type { PolicyDoc, RuleDoc } from './document.js';
import type { LoadLimits } from './load.js';
import { unreachableIssues } from './reach.js';

export interface SemanticIssue {
  path: (string | number)[];
  key?: string;
  message: string;
}

export function semanticIssues(doc: PolicyDoc, limits: LoadLimits): SemanticIssue[] {
  const issues: SemanticIssue[] = [];
  if (doc.rules.length > limits.maxRules)
    issues.push({ path: ['rules'], message: `too many rules (${doc.rules.length}); the limit is ${limits.maxRules} (policy.maxRules)` });
  const byId = new Map<string, { rule: RuleDoc; index: number }>();
  doc.rules.forEach((rule, index) => {
    const prior = byId.get(rule.id);
    if (prior) issues.push({ path: ['rules', index, 'id'], message: `duplicate rule id '${rule.id}' (first used at rules[${prior.index}])` });
    else byId.set(rule.id, { rule, index });
  });
  doc.rules.forEach((rule, index) => {
    if (rule.overrides !== undefined) {
      const target = byId.get(rule.overrides);
      if (!target) issues.push({ path: ['rules', index, 'overrides'], message: `overrides '${rule.overrides}', but no rule has that id` });
      else if (target.rule === rule) issues.push({ path: ['rules', index, 'overrides'], message: 'a rule cannot override itself' });
      else if (target.rule.type !== rule.type)
        issues.push({
          path: ['rules', index, 'overrides'],
          message: `overrides '${rule.overrides}' of type ${target.rule.type}; an override must have the same type (${rule.type})`,
        });
      else if (target.rule.overrides !== undefined)
        issues.push({
          path: ['rules', index, 'overrides'],
          message: `'${rule.overrides}' is itself an override; point at the default rule '${target.rule.overrides}' instead`,
        });
    }
    if (rule.type === 'trading-window') {
      rule.windows.forEach((w, wi) => {
        if (parseClock(w.start) >= parseClock(w.end))
          issues.push({
            path: ['rules', index, 'windows', wi, 'end'],
            message: `end ${w.end} must be after start ${w.start} (windows cannot cross midnight; split them)`,
          });
      });
    }
    if (rule.type === 'rate-limit') {
      // Each period is one Store counter: a period named twice would be charged twice in one step, which the Store refuses.
      const periods = new Map<string, number>();
      rule.limits.forEach((l, li) => {
        const first = periods.get(l.per);
        if (first === undefined) periods.set(l.per, li);
        else
          issues.push({ path: ['rules', index, 'limits', li, 'per'], message: `per ${l.per} is given twice (first at limits[${first}]); keep the lower max` });
      });
    }
    if (rule.type === 'require-approval' && rule.when === undefined && rule.minNotional === undefined && rule.minQuantity === undefined) {
      issues.push({
        path: ['rules', index],
        message: "require-approval without 'when', 'minQuantity' or 'minNotional' would hold every call; add a condition",
      });
    }
  });
  issues.push(...unreachableIssues(doc));
  const holidays = doc.calendar?.holidays ?? [];
  holidays.forEach((d, i) => {
    const t = Date.parse(`${d}T00:00:00Z`);
    if (Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== d) issues.push({ path: ['calendar', 'holidays', i], message: `${d} is not a real date` });
  });
  const thresholds = doc.riskThresholds;
  if (thresholds && (thresholds.stepUp ?? 0.7) > (thresholds.approval ?? 0.9)) {
    issues.push({ path: ['riskThresholds'], message: 'stepUp must not be above approval' });
  }
  return issues;
}
