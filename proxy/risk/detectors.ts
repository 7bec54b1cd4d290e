// Explainable detectors: each is a pure function of the call, the bot's
// baseline and a few live counters, returning a score in [0,1] and a reason.
import { isIP } from 'node:net';
import { seoulParts } from '../kiwoom/protocol/index.js';
import { hourOfWeek, isTradingKind, normaliseIp, notionalOf, symbolOf, warmedUp, type Baseline } from './baseline.js';
import type { DetectorName, RiskConfig } from './config.js';
import type { Reasons } from './reasons.js';
import { clamp01, median, scaledMad } from './stats.js';
import { networkOf } from './network.js';
import { sessionAt } from './calendar.js';
import { dormantBuy } from './dormant.js';
import { accountReads, apiBreadth, condition, drain, model, ORDER_SIZE_MIN_SAMPLES, orderSize, sellOff, stuffing } from './detectors-flow.js';
import type { ModelResult } from './model.js';
import { sequence } from './sequence.js';
import type { RiskInput } from './types.js';

export interface LiveCounters {
  /** Calls (all kinds, this one included) in the last minute, sliding estimate. */
  readonly callsPerMinute: number;
  /** Cancels and modifies in the last minute, sliding estimate. */
  readonly cancelsPerMinute: number;
  /** This bot's cancels and modifies the broker rejected in the last minute (sliding; 0 for other kinds). */
  readonly cancelsRejected: number;
  /** Distinct symbols sold in the current drain window, this call included. */
  readonly soldDistinct: number;
  /** KRW sold in the current drain window, this call included. */
  readonly soldNotional: number;
  /** Cross-tenant: distinct bots seen from this source in its window, this one included. */
  readonly sourceBots: number;
  /** Cross-tenant: distinct accounts trading this symbol, new to each, this way in its window (0 when not counted). */
  readonly herdAccounts: number;
  /** Cross-tenant: distinct accounts whose orders in this symbol, this way, their owners refused within the herd window (orders only). */
  readonly refusedAccounts: number;
  /** Sells of a whole position this Seoul day, this one included (0 when this call is not one). */
  readonly closesToday: number;
  /** Sells of part of a known position this Seoul day, this one included (0 when this call is not one). */
  readonly partsToday: number;
  /** Account inquiries (kind 'account') this Seoul day, this one included (0 for other kinds). */
  readonly readsToday: number;
  /** Distinct never-used api-ids this bot called in the api-breadth window, this one included (0 when this one is known). */
  readonly newApis: number;
  /** Distinct condition searches this bot never ran, requested in the api-breadth window, this one included (0 when known). */
  readonly newConditions: number;
  /** Cross-tenant: distinct bots whose secret failed from this source / anywhere in the stuffing window; this bot's failed there. */
  readonly stuffingSource: number;
  readonly stuffingGlobal: number;
  readonly stuffingThisBot: boolean;
  /** When the owner last refused one of this bot's held calls, within escalation.refusedOrdersMs (orders and modifies only). */
  readonly refusedAt?: number;
  /** An order's or account read's lead-in: its bot's previous call, how long before, same stock (sequence.ts; absent for other calls). */
  readonly lead?: string;
}

export interface DetectorContext {
  readonly input: RiskInput;
  readonly nowMs: number;
  readonly baseline: Baseline;
  readonly cfg: RiskConfig;
  /** The bot's allowed address ranges (risk.location), when any are configured. */
  readonly cidrs: ((address: string) => boolean) | undefined;
  readonly live: LiveCounters;
  /** The learned model's verdict on this call, when it has a reference window. */
  readonly model?: ModelResult | undefined;
  /** The reasons in the sidecar's language. */
  readonly say: Reasons;
  /** Not warmedUp (baseline.ts) or younger than warmupMs: relative detectors are capped, day counts not judged. */
  readonly warmingUp: boolean;
}

export interface DetectorResult {
  readonly score: number;
  readonly reason: string;
}

export type Detector = (ctx: DetectorContext) => DetectorResult | undefined;

const YOUNG_SOURCE_MS = 30 * 60_000;
const YOUNG_SOURCE_ORDER_SCORE = 0.6;
const FRESH_SYMBOL_ORDER_SCORE = 0.6;
const QUERY_NEW_SYMBOL_SCORE = 0.15;
const warm = (ctx: DetectorContext): boolean => warmedUp(ctx.baseline, ctx.cfg);

const time: Detector = (ctx) => {
  if (!warm(ctx)) return undefined;
  const b = ctx.baseline;
  const st = seoulParts(ctx.nowMs);
  const how = hourOfWeek(ctx.nowMs);
  const total = b.hourOfWeek.reduce((a, c) => a + c, 0);
  if (total <= 0) return undefined;
  const covered = ctx.nowMs - b.firstSeen >= ctx.cfg.time.weekCoverageMs;
  let seen: number, expected: number;
  if (covered) {
    // This hour of the week and its neighbours, so 08:59 vs 09:00 does not alarm.
    seen = [-1, 0, 1].reduce((a, d) => a + (b.hourOfWeek[(how + d + 168) % 168] ?? 0), 0);
    expected = (3 * total) / 168;
  } else {
    // Less than a week learned: compare with the same hour on any day.
    const byHour = (h: number): number => [0, 1, 2, 3, 4, 5, 6].reduce((a, d) => a + (b.hourOfWeek[d * 24 + ((h + 24) % 24)] ?? 0), 0);
    seen = byHour(st.hour - 1) + byHour(st.hour) + byHour(st.hour + 1);
    expected = (3 * total) / 24;
  }
  const ratio = seen / expected;
  const min = ctx.cfg.time.minActivityRatio;
  if (ratio >= min) return undefined;
  const week = covered ? { how, weekday: st.weekday } : undefined;
  return { score: clamp01(1 - ratio / min), reason: ctx.say.quietHour({ ...(week ? { week } : {}), hour: st.hour, seen, expected }) };
};

const session: Detector = (ctx) => {
  if (!isTradingKind(ctx.input.kind)) return undefined;
  const at = sessionAt(ctx.cfg, ctx.nowMs);
  if (at.holiday) return { score: 1, reason: ctx.say.holiday(at.date) };
  return at.open ? undefined : { score: 1, reason: ctx.say.offSession(at.date, at.hhmm) };
};

const cidr: Detector = (ctx) => {
  if (!ctx.cidrs) return undefined;
  const ip = normaliseIp(ctx.input.sourceIp);
  if (ctx.cidrs(ip)) return undefined;
  return { score: 1, reason: ctx.say.outsideCidrs(isIP(ip) === 0 ? undefined : ip) };
};

const location: Detector = (ctx) => {
  const b = ctx.baseline;
  const ip = normaliseIp(ctx.input.sourceIp);
  if (!warm(ctx) || Object.keys(b.sources).length === 0) return undefined;
  if (ip in b.sources) {
    // A source first seen minutes ago that now places an order: the address that read the balance now sells.
    const first = b.sourceFirst?.[ip];
    const age = first === undefined ? Infinity : ctx.nowMs - first;
    if (ctx.input.kind !== 'order' || age >= YOUNG_SOURCE_MS || Object.keys(b.sources).length < 2) return undefined;
    // Seconds after its first (unheld) read, the new address is as new as it was then: from the new-address
    // score at first sight down to YOUNG_SOURCE_ORDER_SCORE when it is YOUNG_SOURCE_MS old.
    const knownClient = ctx.input.clientId !== undefined && ctx.input.clientId in b.clients;
    const start = knownClient ? ctx.cfg.location.knownClientNewAddressScore : 1;
    const score = Math.max(YOUNG_SOURCE_ORDER_SCORE, start - ((start - YOUNG_SOURCE_ORDER_SCORE) * age) / YOUNG_SOURCE_MS);
    return { score, reason: ctx.say.youngSource(ip, Math.round(age / 60_000), knownClient) };
  }
  const knownClient = ctx.input.clientId !== undefined && ctx.input.clientId in b.clients;
  const score = knownClient ? ctx.cfg.location.knownClientNewAddressScore : 1;
  return { score, reason: ctx.say.newSource(ip, Object.keys(b.sources).length, knownClient) };
};

/**
 * An order from a network this bot never used, or first used minutes ago (its address read the balance, now it
 * trades): a pod that moves stays inside its cluster's network, a stolen token is used from elsewhere. With
 * `location` it holds the order for approval; a known client identity scores as for a new address.
 */
const network: Detector = (ctx) => {
  const b = ctx.baseline;
  const known = Object.keys(b.sources);
  if (!isTradingKind(ctx.input.kind) || !warm(ctx) || known.length === 0) return undefined;
  const { networkPrefixV4: v4, networkPrefixV6: v6, knownClientNewAddressScore } = ctx.cfg.location;
  const net = networkOf(normaliseIp(ctx.input.sourceIp), v4, v6);
  if (net === undefined) return undefined;
  let firstUsed = Infinity;
  for (const source of known) {
    // An address learned before first-seen times were kept counts as long known.
    if (networkOf(source, v4, v6) === net) firstUsed = Math.min(firstUsed, b.sourceFirst?.[source] ?? -Infinity);
  }
  const age = ctx.nowMs - firstUsed;
  if (firstUsed !== Infinity && age >= YOUNG_SOURCE_MS) return undefined;
  // The bot's other networks, for the reason only (an order from a known network allocates nothing).
  const networks = new Set(known.map((source) => networkOf(source, v4, v6)));
  networks.delete(net);
  networks.delete(undefined);
  const knownClient = ctx.input.clientId !== undefined && ctx.input.clientId in b.clients;
  return {
    score: knownClient ? knownClientNewAddressScore : 1,
    reason: ctx.say.newNetwork({ network: net, ...(firstUsed === Infinity ? {} : { minutes: Math.round(age / 60_000) }), known: networks.size, knownClient }),
  };
};

const client: Detector = (ctx) => {
  const id = ctx.input.clientId;
  const b = ctx.baseline;
  if (!id || !warm(ctx) || Object.keys(b.clients).length === 0 || id in b.clients) return undefined;
  return { score: 1, reason: ctx.say.newClient(Object.keys(b.clients).length) };
};

function robustZ(x: number, window: readonly number[], ewma: { mean: number; variance: number } | undefined, minSpread: number): { z: number; med: number } {
  const med = median(window);
  const zRobust = (x - med) / Math.max(scaledMad(window, med), minSpread);
  // Both the windowed median/MAD and the EWMA must agree: each adapts to slow drift, so only real jumps pass both.
  const zEwma = ewma ? (x - ewma.mean) / Math.max(Math.sqrt(ewma.variance), minSpread) : zRobust;
  return { z: Math.min(zRobust, zEwma), med };
}

const volume: Detector = (ctx) => {
  const { input, baseline: b, cfg } = ctx;
  if (!isTradingKind(input.kind) || b.orders < cfg.warmupSamples) return undefined;
  // A new order on a side order_size can judge is judged there (per side, by notional): size counts once.
  const sideWindow = input.side === 'sell' ? b.sellLogNotional : b.buyLogNotional;
  if (input.kind === 'order' && cfg.weights.order_size > 0 && (sideWindow?.length ?? 0) >= ORDER_SIZE_MIN_SAMPLES) return undefined;
  const v = cfg.volume;
  let best: DetectorResult | undefined;
  const judge = (what: 'qty' | 'krw', x: number | undefined, window: number[], ew: typeof b.qtyEwma): void => {
    if (x === undefined || x <= 0 || window.length < cfg.warmupSamples) return;
    const { z, med } = robustZ(Math.log(x), window, ew, v.minSpread);
    if (z < v.zWarn) return;
    const score = clamp01((z - v.zWarn) / (v.zMax - v.zWarn));
    if (!best || score > best.score) {
      best = {
        score: Math.max(score, 0.01),
        reason: ctx.say.volume({ what, x, times: Math.exp(Math.log(x) - med), median: Math.exp(med), z, zWarn: v.zWarn }),
      };
    }
  };
  judge('qty', input.qty, b.logQty, b.qtyEwma);
  judge('krw', notionalOf(input), b.logNotional, b.notionalEwma);
  return best;
};

const newApi: Detector = (ctx) => {
  if (!warm(ctx) || ctx.input.kind === 'auth' || ctx.input.apiId in ctx.baseline.apis) return undefined;
  return { score: 1, reason: ctx.say.newApi(ctx.input.apiId) };
};

const newSymbol: Detector = (ctx) => {
  const sym = symbolOf(ctx.input.stkCd);
  const b = ctx.baseline;
  if (!sym || !warm(ctx)) return undefined;
  const trading = isTradingKind(ctx.input.kind);
  if (sym in b.symbols) {
    if (ctx.input.kind !== 'order') return undefined;
    // Seen minutes ago for the first time and never ordered: the quote-then-buy of a name new to this bot; else a buy
    // of a name it made no call about for days (dormant.ts).
    const first = b.fresh?.[sym];
    if (first !== undefined && b.traded && !(sym in b.traded)) {
      return { score: FRESH_SYMBOL_ORDER_SCORE, reason: ctx.say.freshSymbolOrder(sym, Math.round((ctx.nowMs - first) / 60_000)) };
    }
    return dormantBuy(ctx, sym, FRESH_SYMBOL_ORDER_SCORE);
  }
  return { score: trading ? 1 : QUERY_NEW_SYMBOL_SCORE, reason: ctx.say.newSymbol(sym, trading) };
};

function rateScore(count: number, typical: number, factor: number, min: number): number {
  const ratio = count / Math.max(typical, 1);
  if (count < min || ratio < factor) return 0;
  return clamp01(0.5 + (0.5 * (ratio - factor)) / factor);
}

const burst: Detector = (ctx) => {
  const p = ctx.cfg.pattern;
  const count = ctx.live.callsPerMinute;
  const r = ctx.baseline.rate;
  if (count >= p.burstAbsolutePerMinute) return { score: 1, reason: ctx.say.burstCap(count, p.burstAbsolutePerMinute) };
  if (r.minutes < p.rateWarmupMinutes) return undefined;
  const score = rateScore(count, r.ewma, p.burstFactor, p.burstMinPerMinute);
  if (score === 0) return undefined;
  return { score, reason: ctx.say.burst(count, r.ewma) };
};

const cancelStorm: Detector = (ctx) => {
  if (ctx.input.kind !== 'cancel' && ctx.input.kind !== 'modify') return undefined;
  const p = ctx.cfg.pattern;
  const r = ctx.baseline.cancelRate;
  const count = ctx.live.cancelsPerMinute;
  const typical = r.minutes < p.rateWarmupMinutes ? 0 : r.ewma;
  const rate = rateScore(count, typical, p.cancelStormFactor, p.cancelStormMinPerMinute);
  // Cancels and modifies the broker rejected: orders this bot does not have (made-up or stale order numbers).
  // A bot racing a fill now and then is rejected once or twice; a minute of them is tampering or a runaway bot.
  const rejected = ctx.live.cancelsRejected;
  const min = p.cancelStormRejectedPerMinute;
  const refused = rejected >= min ? clamp01(0.9 + (0.1 * (rejected - min)) / min) : 0;
  const score = Math.max(rate, refused);
  if (score === 0) return undefined;
  return { score, reason: ctx.say.cancelStorm({ count, usual: typical, rejected, rejectedMin: min }) };
};

const modeSwitch: Detector = (ctx) => {
  const p = ctx.cfg.pattern;
  if (ctx.input.kind !== 'order' || !warm(ctx) || ctx.baseline.orderShare >= p.modeSwitchOrderShare) return undefined;
  return {
    score: clamp01(1 - ctx.baseline.orderShare / p.modeSwitchOrderShare),
    reason: ctx.say.modeSwitch(100 * ctx.baseline.orderShare),
  };
};

const sharedSource: Detector = (ctx) => {
  const c = ctx.cfg.crossTenant;
  const n = ctx.live.sourceBots;
  if (n < c.sharedSourceMinBots) return undefined;
  return {
    score: clamp01(0.5 + (0.5 * (n - c.sharedSourceMinBots)) / c.sharedSourceMinBots),
    reason: ctx.say.sharedSource(normaliseIp(ctx.input.sourceIp), n, c.sourceWindowMs / 60_000, c.sharedSourceMinBots),
  };
};

/**
 * Many accounts trading one symbol the same way within minutes: new to each of them (warm bots), or refused by
 * the owners of other accounts (any bot: the evidence is theirs, not this bot's baseline, so it counts while
 * the bot warms up too). The stronger of the two.
 */
const herd: Detector = (ctx) => {
  const c = ctx.cfg.crossTenant;
  const n = ctx.live.herdAccounts;
  const refused = ctx.live.refusedAccounts;
  const at = { symbol: symbolOf(ctx.input.stkCd) ?? '', side: ctx.input.side, from: c.herdWindowMs / 60_000, to: (2 * c.herdWindowMs) / 60_000 };
  const found: DetectorResult[] = [];
  if (refused >= c.herdRefusedMinAccounts) {
    found.push({ score: 0.9, reason: ctx.say.herdRefused({ ...at, accounts: refused, threshold: c.herdRefusedMinAccounts }) });
  }
  if (n >= c.herdMinAccounts) {
    // Stronger as the victims grow: 0.6 at herdMinAccounts, 1 at herdFullAccounts.
    found.push({
      score: clamp01(0.6 + (0.4 * (n - c.herdMinAccounts)) / (c.herdFullAccounts - c.herdMinAccounts)),
      reason: ctx.say.herdNew({ ...at, accounts: n, scoresFrom: c.herdMinAccounts, fullAt: c.herdFullAccounts }),
    });
  }
  return found.length === 0 ? undefined : found.reduce((a, b) => (b.score > a.score ? b : a));
};

export const DETECTOR_FUNCTIONS: Readonly<Record<DetectorName, Detector>> = {
  time,
  session,
  location,
  network,
  cidr,
  client,
  volume,
  new_api: newApi,
  new_symbol: newSymbol,
  burst,
  cancel_storm: cancelStorm,
  mode_switch: modeSwitch,
  drain,
  shared_source: sharedSource,
  herd,
  sell_off: sellOff,
  order_size: orderSize,
  account_reads: accountReads,
  api_breadth: apiBreadth,
  condition,
  stuffing,
  sequence,
  model,
  // Scored by the engine after the others (it counts calls above step-up).
  escalation: () => undefined,
};
