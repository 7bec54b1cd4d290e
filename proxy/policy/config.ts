// The `policy:` section of the sidecar config, with defaults and clear errors.
import path from 'node:path';
import { ConfigError } from '../common/config.js';
import { CALENDAR_WARN_DAYS_DEFAULT } from '../common/market-calendar.js';

export interface PolicyConfig {
  /** Absolute path of the policy file. */
  file: string;
  /** Reload when the file (or a Kubernetes ConfigMap symlink swap) changes. */
  watch: boolean;
  reloadDebounceMs: number;
  /**
   * With `watch`, how often the file is re-read and its directory's watch re-armed anyway (0: never): a watch
   * lost to a replaced directory or an inotify limit delays a reload by at most this, never forever.
   */
  recheckIntervalMs: number;
  maxFileBytes: number;
  maxAliasCount: number;
  maxRules: number;
  /** [ ] / { } nesting a policy file may have, checked before parsing (a deeper file is refused at once). */
  maxFlowDepth: number;
  /** How long a reference price (quote) is reused. */
  referencePriceTtlMs: number;
  referencePriceCacheSize: number;
  /** A MarketData call slower than this counts as failed (rules needing it deny). */
  marketDataTimeoutMs: number;
  /** Distinct rule ids used as metric labels before the rest become "other". */
  metricsMaxRuleLabels: number;
  /**
   * Orders recorded per account and Seoul day for daily caps to charge modifies against and for `when.sides`
   * to give a modify or cancel the side of its order (orders.ts); a modify of an order past it is charged
   * its whole notional, and a modify or cancel of one is judged by the rules of both sides.
   */
  maxOrderRecords: number;
  /**
   * Days ahead the holiday lists (calendar.holidays, risk.holidays) must reach: fewer left is warned of at load, in
   * /readyz, the posture report and kguard_calendar_short (proxy/common/market-calendar.ts). 0: no warning.
   */
  calendarWarnDays: number;
}

export const POLICY_CONFIG_DEFAULTS: Omit<PolicyConfig, 'file'> & { file: string } = {
  file: 'policies/default.yaml',
  watch: true,
  reloadDebounceMs: 200,
  recheckIntervalMs: 30_000,
  maxFileBytes: 1024 * 1024,
  maxAliasCount: 100,
  maxRules: 10_000,
  maxFlowDepth: 64,
  referencePriceTtlMs: 3_000,
  referencePriceCacheSize: 10_000,
  marketDataTimeoutMs: 2_000,
  metricsMaxRuleLabels: 200,
  maxOrderRecords: 50_000,
  calendarWarnDays: CALENDAR_WARN_DAYS_DEFAULT,
};

const INTEGER_KEYS = [
  'reloadDebounceMs',
  'recheckIntervalMs',
  'maxFileBytes',
  'maxAliasCount',
  'maxRules',
  'maxFlowDepth',
  'referencePriceTtlMs',
  'referencePriceCacheSize',
  'marketDataTimeoutMs',
  'metricsMaxRuleLabels',
  'maxOrderRecords',
  'calendarWarnDays',
] as const;
const MINIMUM: Record<(typeof INTEGER_KEYS)[number], number> = {
  reloadDebounceMs: 0,
  recheckIntervalMs: 0,
  maxFileBytes: 64,
  maxAliasCount: 0,
  maxRules: 1,
  maxFlowDepth: 1,
  referencePriceTtlMs: 0,
  referencePriceCacheSize: 1,
  marketDataTimeoutMs: 1,
  metricsMaxRuleLabels: 1,
  maxOrderRecords: 0,
  calendarWarnDays: 0,
};

/** Validates `policy:`; relative `file` is resolved against `cwd`. Throws ConfigError naming the key. */
export function parsePolicyConfig(raw: unknown, cwd: string): PolicyConfig {
  const src = raw ?? {};
  if (typeof src !== 'object' || Array.isArray(src)) throw new ConfigError('policy: must be a mapping');
  const input = src as Record<string, unknown>;
  const known = new Set(Object.keys(POLICY_CONFIG_DEFAULTS));
  for (const key of Object.keys(input)) {
    if (!known.has(key)) throw new ConfigError(`policy.${key}: unknown key (expected one of: ${[...known].join(', ')})`);
  }
  const out: PolicyConfig = { ...POLICY_CONFIG_DEFAULTS };
  if (input.file !== undefined) {
    if (typeof input.file !== 'string' || input.file.trim() === '') throw new ConfigError('policy.file: must be a non-empty path');
    out.file = input.file;
  }
  out.file = path.resolve(cwd, out.file);
  if (input.watch !== undefined) {
    if (typeof input.watch !== 'boolean') throw new ConfigError('policy.watch: must be true or false');
    out.watch = input.watch;
  }
  for (const key of INTEGER_KEYS) {
    const v = input[key];
    if (v === undefined) continue;
    // Environment overrides arrive as strings.
    const n = typeof v === 'string' && /^[0-9]+$/.test(v) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < MINIMUM[key]) {
      throw new ConfigError(`policy.${key}: must be an integer >= ${MINIMUM[key]} (got ${JSON.stringify(v)})`);
    }
    out[key] = n;
  }
  return out;
}
