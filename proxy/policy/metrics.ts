// Policy metrics. Rule labels are bounded: ids beyond metricsMaxRuleLabels
// are counted as "other" so a huge policy cannot explode the series count.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface PolicyMetrics {
  reloads: Counter<'outcome'>;
  decisions: Counter<'rule' | 'decision'>;
  evalSeconds: Histogram<'outcome'>;
  valid: Gauge;
  /** 1 while the policy file holds an edit that was rejected (the previous policy, if any, in force), 0 once fixed. */
  editRejected: Gauge;
  /** 1 for the policy in force (its content version and its `name`); one series per process. */
  info: Gauge<'version' | 'name'>;
  marketErrors: Counter<'source'>;
  ruleLabel(ruleId: string): string;
}

function reuse<T>(registry: Registry, name: string, make: () => T): T {
  // One registry may host several engines (tests, CLI); reuse what is registered.
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

export function createPolicyMetrics(registry: Registry, maxRuleLabels: number): PolicyMetrics {
  const registers = [registry];
  const labels = new Set<string>();
  return {
    reloads: reuse(
      registry,
      'kguard_policy_reloads_total',
      () =>
        new Counter({
          name: 'kguard_policy_reloads_total',
          help: 'Policy file loads by outcome (success, invalid, unchanged).',
          labelNames: ['outcome'],
          registers,
        }),
    ),
    decisions: reuse(
      registry,
      'kguard_policy_decisions_total',
      () =>
        new Counter({
          name: 'kguard_policy_decisions_total',
          help: 'Policy decisions by deciding rule and decision (allow, deny, step-up, hold, shadow-deny).',
          labelNames: ['rule', 'decision'],
          registers,
        }),
    ),
    evalSeconds: reuse(
      registry,
      'kguard_policy_eval_seconds',
      () =>
        new Histogram({
          name: 'kguard_policy_eval_seconds',
          help: 'Time to evaluate one call against the policy.',
          labelNames: ['outcome'],
          buckets: [0.00001, 0.00002, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005, 0.025, 0.1, 0.5, 2],
          registers,
        }),
    ),
    valid: reuse(
      registry,
      'kguard_policy_valid',
      () => new Gauge({ name: 'kguard_policy_valid', help: '1 when a valid policy is in force, 0 when calls are refused.', registers }),
    ),
    editRejected: reuse(
      registry,
      'kguard_policy_edit_rejected',
      () =>
        new Gauge({
          name: 'kguard_policy_edit_rejected',
          help: '1 while the policy file holds an edit that failed validation (the last good policy stays in force), 0 once the file loads or is back to the policy in force.',
          registers,
        }),
    ),
    info: reuse(
      registry,
      'kguard_policy_info',
      () =>
        new Gauge({
          name: 'kguard_policy_info',
          help: 'The policy in force: 1 with its content version (sha256 prefix) and name. Replicas of one policy showing two versions for long have diverged.',
          labelNames: ['version', 'name'],
          registers,
        }),
    ),
    marketErrors: reuse(
      registry,
      'kguard_policy_market_data_errors_total',
      () =>
        new Counter({
          name: 'kguard_policy_market_data_errors_total',
          help: 'Market data calls for policy rules that failed or timed out.',
          labelNames: ['source'],
          registers,
        }),
    ),
    ruleLabel(ruleId) {
      if (labels.has(ruleId)) return ruleId;
      if (labels.size >= maxRuleLabels) return 'other';
      labels.add(ruleId);
      return ruleId;
    },
  };
}
