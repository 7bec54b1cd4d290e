// Risk engine configuration: config section `risk` (the policy YAML may carry
// the same object; pass it through parseRiskConfig). Every knob has a default.
import { isIP } from 'node:net';
import { cidrMatcher } from '../common/cidr.js';
import { calendarDates, checkTracked, FLOW_SECTIONS, type FlowConfig, parseFlowConfig } from './config-flow.js';
import { bool, configError, list, num, section, strList, type Raw } from '../common/validate.js';

export const DETECTORS = [
  'time', // outside the bot's learned active hours
  'session', // order outside market sessions
  'location', // source address not seen before for this bot
  'network', // an order from a network (IPv4 /16, IPv6 /48) this bot never used, or first used minutes ago
  'cidr', // source address outside allowed CIDRs
  'client', // client identity (certificate / pod) not seen before
  'volume', // quantity or notional far above baseline
  'new_api', // api-id never used by this bot
  'new_symbol', // symbol never used by this bot
  'burst', // call rate far above usual
  'cancel_storm', // cancel / modify rate far above usual
  'mode_switch', // a query-only bot suddenly places orders
  'drain', // selling everything / buying illiquid names
  'shared_source', // cross-tenant: one source address presents many bots' credentials
  'herd', // cross-tenant: many accounts trade one symbol, new to each, the same way within minutes
  'sell_off', // sells a share of a position this bot never sells (all of it, or a sliver of a full-closer's)
  'order_size', // order size far above or below this bot's own orders on that side, or a buy above the largest it ever placed
  'account_reads', // account, order and fill inquiries far above this bot's busiest day
  'api_breadth', // several api-ids never used by this bot within the hour
  'condition', // a realtime condition search this bot never ran (its strategy's condition swapped)
  'stuffing', // cross-tenant: bot secrets failing for many bots from this source (or everywhere) at once
  'sequence', // an order after a lead-in (previous call, gap, same stock) none of this bot's orders had
  'model', // the learned per-bot model (half-space trees); shadow unless weighted
  'escalation', // sustained risk: repeated calls above step-up lock the bot down
] as const;
export type DetectorName = (typeof DETECTORS)[number];

/**
 * Detectors that judge a call against absolute rules (allowed CIDRs, market
 * sessions, the draining-flow floors), not against the bot's own learned
 * behaviour. Only these may push a warming-up bot's score over step-up: a new
 * bot has no baseline, so "unlike its baseline" means nothing yet.
 */
export const ABSOLUTE_DETECTORS: ReadonlySet<DetectorName> = new Set<DetectorName>([
  'session',
  'cidr',
  'drain',
  'shared_source',
  'herd',
  'stuffing',
  'escalation',
]);

export interface MarketSession {
  /** 0 = Sunday ... 6 = Saturday (Seoul; the one weekday convention, see common/kst.ts) */
  readonly days: readonly number[];
  /** minutes after Seoul midnight, inclusive */
  readonly startMin: number;
  /** minutes after Seoul midnight, exclusive */
  readonly endMin: number;
}

export interface RiskConfig extends FlowConfig {
  readonly enabled: boolean;
  /** Learned calls before time, location and pattern detectors judge; or Seoul days with a call (warmedUp in baseline.ts). */
  readonly warmupCalls: number;
  readonly warmupDays: number;
  /** Learned orders before the volume detector judges. */
  readonly warmupSamples: number;
  /** A bot is warming up until it has warmupCalls learned calls (or warmupDays) AND its baseline is this old. */
  readonly warmupMs: number;
  /** While warming up, baseline-relative detectors raise the score to this at most (an alert, never a hold; below stepUp); absolute ones are not capped. */
  readonly warmupMaxScore: number;
  readonly baselineTtlMs: number;
  /** Bots whose parsed baseline this process keeps while its stored text is unchanged (0: parsed on every call). */
  readonly baselineCacheBots: number;
  readonly weights: Readonly<Record<DetectorName, number>>;
  readonly thresholds: { readonly alert: number; readonly stepUp: number; readonly admin: number; readonly lockdown: number };
  /** Detectors whose score of 1 triggers lockdown on their own (e.g. ['cidr']). */
  readonly lockdownDetectors: readonly DetectorName[];
  readonly time: { readonly minActivityRatio: number; readonly weekCoverageMs: number };
  readonly sessions: readonly MarketSession[];
  readonly holidays: ReadonlySet<string>;
  readonly location: {
    readonly allowedCidrs: readonly string[];
    readonly botCidrs: Readonly<Record<string, readonly string[]>>;
    readonly maxSources: number;
    /** Score for a new address when the client identity is already known (pods move). */
    readonly knownClientNewAddressScore: number;
    /** Leading bits that make an address's network for the `network` detector (a pod moves inside its cluster's). */
    readonly networkPrefixV4: number;
    readonly networkPrefixV6: number;
  };
  readonly volume: { readonly zWarn: number; readonly zMax: number; readonly ewmaAlpha: number; readonly window: number; readonly minSpread: number };
  readonly pattern: {
    readonly maxSymbols: number;
    readonly maxApis: number;
    readonly burstFactor: number;
    readonly burstMinPerMinute: number;
    readonly burstAbsolutePerMinute: number;
    readonly cancelStormFactor: number;
    readonly cancelStormMinPerMinute: number;
    /** Cancels/modifies the broker rejected (orders the bot does not have) in the last minute before cancel_storm scores on them alone. */
    readonly cancelStormRejectedPerMinute: number;
    readonly rateAlpha: number;
    readonly rateWarmupMinutes: number;
    readonly modeSwitchOrderShare: number;
    readonly orderShareAlpha: number;
    readonly drainWindowMs: number;
    readonly drainDistinctSymbols: number;
    readonly drainNotionalFactor: number;
    readonly drainHoldingFraction: number;
    /**
     * Whole positions sold in one Seoul day before drain holds the next: at least this many (0: off) and
     * `drainDayFactor` times the most this bot sold on a learned day.
     */
    readonly drainDayCloses: number;
    readonly drainDayFactor: number;
    /** Parts of positions sold in one Seoul day before drain holds the next, by a bot whose learned sells all sold whole positions (0: off). */
    readonly drainDayParts: number;
    /** A buy above this share of the symbol's average daily volume is draining into an illiquid name. */
    readonly illiquidAdvFraction: number;
    /**
     * The average daily volume comes from the daily charts (ka10081) bots fetch through the sidecar: completed
     * days it needs in one chart, and how long a learned volume counts (unknown after: no judgement).
     */
    readonly advMinDays: number;
    readonly advTtlMs: number;
  };
  /** Cross-tenant signals, counted in the shared Store. */
  readonly crossTenant: {
    readonly sourceWindowMs: number;
    /** Distinct bots from one source within the window before it scores. */
    readonly sharedSourceMinBots: number;
    /**
     * Addresses that host many bots by design, not counted by shared_source: the loopback of a sidecar on the bots'
     * own machine (every bot there shares it), and an operator's bot hosts or NAT egress.
     */
    readonly botHostCidrs: readonly string[];
    readonly herdWindowMs: number;
    /** Distinct accounts trading one symbol new to each, same side, within the window, before it scores. */
    readonly herdMinAccounts: number;
    /** Distinct accounts at which the herd scores 1 (the score grows with the victims from herdMinAccounts). */
    readonly herdFullAccounts: number;
    /** Distinct accounts whose orders in one symbol, one way, their owners refused within the herd window before an order there scores. */
    readonly herdRefusedMinAccounts: number;
    /** Members recorded per source or symbol and window (bounded cardinality). */
    readonly maxTracked: number;
  };
}

export const DEFAULT_WEIGHTS: Readonly<Record<DetectorName, number>> = {
  time: 0.45,
  session: 0.5,
  location: 0.55,
  network: 0.5,
  cidr: 1,
  client: 0.4,
  volume: 0.7,
  new_api: 0.35,
  new_symbol: 0.75,
  burst: 0.6,
  cancel_storm: 0.8,
  mode_switch: 0.45,
  drain: 0.9,
  shared_source: 0.7,
  herd: 0.8,
  sell_off: 0.8,
  order_size: 0.75,
  account_reads: 0.85,
  api_breadth: 0.85,
  condition: 0.75,
  stuffing: 0.8,
  sequence: 0.75,
  model: 0,
  escalation: 1,
};

const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

function minutes(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

function parseCidrs(values: string[], path: string): string[] {
  values.forEach((c, i) => {
    const [addr, bits, extra] = c.split('/');
    const family = isIP(addr ?? '');
    const prefix = Number(bits);
    if (extra !== undefined || family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) {
      throw configError(`${path}[${i}]`, `"${c}" is not a CIDR like 10.0.0.0/8`);
    }
  });
  return values;
}

export function parseRiskConfig(raw: unknown, path = 'risk'): RiskConfig {
  const r = section(raw, path, [
    'enabled',
    'warmupCalls',
    'warmupDays',
    'warmupSamples',
    'warmupHours',
    'warmupMaxScore',
    'baselineTtlDays',
    'baselineCacheBots',
    'weights',
    'thresholds',
    'lockdownDetectors',
    'time',
    'sessions',
    'holidays',
    'location',
    'volume',
    'pattern',
    'crossTenant',
    ...FLOW_SECTIONS,
  ]);
  const w = section(r.weights, `${path}.weights`, DETECTORS);
  const weights = Object.fromEntries(DETECTORS.map((d) => [d, num(w, d, `${path}.weights`, DEFAULT_WEIGHTS[d], 0, 1)])) as Record<DetectorName, number>;
  const flow = parseFlowConfig(r, path);
  if (!flow.model.enabled && weights.model > 0) throw configError(`${path}.weights.model`, 'must be 0 while model.enabled is false');
  const t = section(r.thresholds, `${path}.thresholds`, ['alert', 'stepUp', 'admin', 'lockdown']);
  const thresholds = {
    alert: num(t, 'alert', `${path}.thresholds`, 0.4, 0, 1),
    stepUp: num(t, 'stepUp', `${path}.thresholds`, 0.7, 0, 1),
    admin: num(t, 'admin', `${path}.thresholds`, 0.9, 0, 1),
    lockdown: num(t, 'lockdown', `${path}.thresholds`, 0.95, 0, 1),
  };
  if (!(thresholds.alert <= thresholds.stepUp && thresholds.stepUp <= thresholds.admin && thresholds.admin <= thresholds.lockdown)) {
    throw configError(`${path}.thresholds`, 'must satisfy alert <= stepUp <= admin <= lockdown');
  }
  const warmupMaxScore = num(r, 'warmupMaxScore', path, Math.min(0.6, 0.9 * thresholds.stepUp), 0, 1);
  // The policy holds at score >= its stepUp (default = ours): the ceiling must stay strictly below.
  if (warmupMaxScore > 0 && warmupMaxScore >= thresholds.stepUp)
    throw configError(`${path}.warmupMaxScore`, `must be below thresholds.stepUp (${thresholds.stepUp})`);
  const lockdownDetectors = strList(r, 'lockdownDetectors', path, []).map((d, i) => {
    if (!(DETECTORS as readonly string[]).includes(d)) throw configError(`${path}.lockdownDetectors[${i}]`, `unknown detector "${d}"`);
    return d as DetectorName;
  });

  const tm = section(r.time, `${path}.time`, ['minActivityRatio', 'weekCoverageDays']);
  const sessionsRaw = list(r, 'sessions', path);
  const sessions: MarketSession[] = sessionsRaw
    ? sessionsRaw.map((s, i) => {
        const p = `${path}.sessions[${i}]`;
        const o = section(s, p, ['days', 'start', 'end']);
        const days = o.days === undefined ? [1, 2, 3, 4, 5] : o.days;
        if (!Array.isArray(days) || days.some((d) => !Number.isInteger(d) || d < 0 || d > 6))
          throw configError(`${p}.days`, 'must be a list of 0..6 (0 = Sunday)');
        const start = o.start,
          end = o.end;
        if (typeof start !== 'string' || !HHMM.test(start)) throw configError(`${p}.start`, 'must be HH:MM');
        if (typeof end !== 'string' || !HHMM.test(end)) throw configError(`${p}.end`, 'must be HH:MM');
        if (minutes(end) <= minutes(start)) throw configError(p, 'end must be after start');
        return { days: days as number[], startMin: minutes(start), endMin: minutes(end) };
      })
    : // KRX regular 09:00-15:30 plus NXT pre/after market 08:00-20:00, weekdays.
      [{ days: [1, 2, 3, 4, 5], startMin: 8 * 60, endMin: 20 * 60 }];

  const loc = section(r.location, `${path}.location`, [
    'allowedCidrs',
    'botCidrs',
    'maxSources',
    'knownClientNewAddressScore',
    'networkPrefixV4',
    'networkPrefixV6',
  ]);
  const botCidrsRaw = section(loc.botCidrs, `${path}.location.botCidrs`, Object.keys((loc.botCidrs as Raw | undefined) ?? {}));
  const botCidrs: Record<string, string[]> = {};
  for (const [bot, v] of Object.entries(botCidrsRaw)) {
    botCidrs[bot] = parseCidrs(strList({ v }, 'v', `${path}.location.botCidrs.${bot}`, []), `${path}.location.botCidrs.${bot}`);
  }
  const vol = section(r.volume, `${path}.volume`, ['zWarn', 'zMax', 'ewmaAlpha', 'window', 'minSpread']);
  const volume = {
    zWarn: num(vol, 'zWarn', `${path}.volume`, 4, 1, 50),
    zMax: num(vol, 'zMax', `${path}.volume`, 8, 1, 100),
    ewmaAlpha: num(vol, 'ewmaAlpha', `${path}.volume`, 0.05, 0.001, 1),
    window: num(vol, 'window', `${path}.volume`, 200, 10, 5000, true),
    minSpread: num(vol, 'minSpread', `${path}.volume`, 0.15, 0.001, 10),
  };
  if (volume.zMax <= volume.zWarn) throw configError(`${path}.volume`, 'zMax must be above zWarn');
  const pt = section(r.pattern, `${path}.pattern`, [
    'maxSymbols',
    'maxApis',
    'burstFactor',
    'burstMinPerMinute',
    'burstAbsolutePerMinute',
    'cancelStormFactor',
    'cancelStormMinPerMinute',
    'cancelStormRejectedPerMinute',
    'rateAlpha',
    'rateWarmupMinutes',
    'modeSwitchOrderShare',
    'orderShareAlpha',
    'drainWindowMinutes',
    'drainDistinctSymbols',
    'drainNotionalFactor',
    'drainHoldingFraction',
    'drainDayCloses',
    'drainDayFactor',
    'drainDayParts',
    'illiquidAdvFraction',
    'advMinDays',
    'advTtlHours',
  ]);
  const pp = `${path}.pattern`;
  // One would hold every such sale after the first of the day: that is a policy rule, not a pattern.
  const perDay = (key: string): number => {
    const n = num(pt, key, pp, 3, 0, 10_000, true);
    if (n === 1) throw configError(`${pp}.${key}`, 'must be 0 (off) or at least 2');
    return n;
  };
  const ct = section(r.crossTenant, `${path}.crossTenant`, [
    'sourceWindowMinutes',
    'sharedSourceMinBots',
    'botHostCidrs',
    'herdWindowMinutes',
    'herdMinAccounts',
    'herdFullAccounts',
    'herdRefusedMinAccounts',
    'maxTracked',
  ]);
  const cp = `${path}.crossTenant`;
  const herdMinAccounts = num(ct, 'herdMinAccounts', cp, 3, 2, 10_000, true);
  const herdFullAccounts = num(ct, 'herdFullAccounts', cp, Math.max(5, herdMinAccounts + 1), 3, 10_000, true);
  if (herdFullAccounts <= herdMinAccounts) throw configError(`${cp}.herdFullAccounts`, `must be above herdMinAccounts (${herdMinAccounts})`);
  return checkTracked(path, {
    ...flow,
    enabled: bool(r, 'enabled', path, true),
    warmupCalls: num(r, 'warmupCalls', path, 50, 0, 1e6, true),
    warmupDays: num(r, 'warmupDays', path, 5, 0, 365, true),
    warmupSamples: num(r, 'warmupSamples', path, 30, 3, 1e6, true),
    warmupMs: num(r, 'warmupHours', path, 24, 0, 24 * 90) * 3_600_000,
    warmupMaxScore,
    baselineTtlMs: num(r, 'baselineTtlDays', path, 45, 1, 3650) * 86_400_000,
    baselineCacheBots: num(r, 'baselineCacheBots', path, 10_000, 0, 1_000_000, true),
    weights,
    thresholds,
    lockdownDetectors,
    time: {
      minActivityRatio: num(tm, 'minActivityRatio', `${path}.time`, 0.1, 0, 1),
      weekCoverageMs: num(tm, 'weekCoverageDays', `${path}.time`, 7, 1, 60) * 86_400_000,
    },
    sessions,
    holidays: new Set(calendarDates(strList(r, 'holidays', path, [], DATE), `${path}.holidays`)),
    location: {
      allowedCidrs: parseCidrs(strList(loc, 'allowedCidrs', `${path}.location`, []), `${path}.location.allowedCidrs`),
      botCidrs,
      maxSources: num(loc, 'maxSources', `${path}.location`, 64, 1, 10_000, true),
      knownClientNewAddressScore: num(loc, 'knownClientNewAddressScore', `${path}.location`, 0.5, 0, 1),
      networkPrefixV4: num(loc, 'networkPrefixV4', `${path}.location`, 16, 1, 32, true),
      networkPrefixV6: num(loc, 'networkPrefixV6', `${path}.location`, 48, 1, 128, true),
    },
    volume,
    pattern: {
      maxSymbols: num(pt, 'maxSymbols', pp, 500, 1, 100_000, true),
      maxApis: num(pt, 'maxApis', pp, 300, 1, 10_000, true),
      burstFactor: num(pt, 'burstFactor', pp, 5, 1, 1000),
      burstMinPerMinute: num(pt, 'burstMinPerMinute', pp, 30, 1, 1e6),
      burstAbsolutePerMinute: num(pt, 'burstAbsolutePerMinute', pp, 600, 1, 1e7),
      cancelStormFactor: num(pt, 'cancelStormFactor', pp, 5, 1, 1000),
      cancelStormMinPerMinute: num(pt, 'cancelStormMinPerMinute', pp, 20, 1, 1e6),
      cancelStormRejectedPerMinute: num(pt, 'cancelStormRejectedPerMinute', pp, 10, 1, 1e6),
      rateAlpha: num(pt, 'rateAlpha', pp, 0.1, 0.001, 1),
      rateWarmupMinutes: num(pt, 'rateWarmupMinutes', pp, 5, 0, 1e6, true),
      modeSwitchOrderShare: num(pt, 'modeSwitchOrderShare', pp, 0.02, 0, 1),
      orderShareAlpha: num(pt, 'orderShareAlpha', pp, 0.01, 0.0001, 1),
      drainWindowMs: num(pt, 'drainWindowMinutes', pp, 5, 1, 1440) * 60_000,
      drainDistinctSymbols: num(pt, 'drainDistinctSymbols', pp, 5, 2, 10_000, true),
      drainNotionalFactor: num(pt, 'drainNotionalFactor', pp, 10, 1, 1000),
      drainHoldingFraction: num(pt, 'drainHoldingFraction', pp, 0.9, 0.01, 1),
      drainDayCloses: perDay('drainDayCloses'),
      drainDayFactor: num(pt, 'drainDayFactor', pp, 1.5, 1, 100),
      drainDayParts: perDay('drainDayParts'),
      illiquidAdvFraction: num(pt, 'illiquidAdvFraction', pp, 0.05, 0.0001, 10),
      advMinDays: num(pt, 'advMinDays', pp, 5, 1, 600, true),
      advTtlMs: num(pt, 'advTtlHours', pp, 72, 1, 24 * 30) * 3_600_000,
    },
    crossTenant: {
      sourceWindowMs: num(ct, 'sourceWindowMinutes', cp, 60, 1, 1440) * 60_000,
      sharedSourceMinBots: num(ct, 'sharedSourceMinBots', cp, 3, 2, 10_000, true),
      botHostCidrs: parseCidrs(strList(ct, 'botHostCidrs', cp, ['127.0.0.0/8', '::1/128']), `${cp}.botHostCidrs`),
      herdWindowMs: num(ct, 'herdWindowMinutes', cp, 10, 1, 1440) * 60_000,
      herdMinAccounts,
      herdFullAccounts,
      herdRefusedMinAccounts: num(ct, 'herdRefusedMinAccounts', cp, 2, 1, 10_000, true),
      maxTracked: num(ct, 'maxTracked', cp, 64, 2, 100_000, true),
    },
  });
}

/** Matchers of the allowed address ranges per bot (its own and the global ones), built once per config; none: not judged. */
export function compileCidrs(config: RiskConfig): (botId: string) => ((address: string) => boolean) | undefined {
  const build = (cidrs: readonly string[]) => (cidrs.length === 0 ? undefined : cidrMatcher(cidrs));
  const global = build(config.location.allowedCidrs);
  const perBot = new Map(Object.entries(config.location.botCidrs).map(([bot, c]) => [bot, build([...c, ...config.location.allowedCidrs])]));
  return (botId) => (perBot.has(botId) ? perBot.get(botId) : global);
}
