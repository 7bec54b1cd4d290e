// A bot's learned behaviour, kept as one JSON document per bot in the Store.
// Every collection is bounded so a document never grows without limit.
import { BALANCE, baseCode, seoulParts } from '../kiwoom/protocol/index.js';
import { type BuyEnvelope, learnBuyEnvelope } from './buy-envelope.js';
import type { RiskConfig } from './config.js';
import { type DormantBuys, learnDormantBuy } from './dormant.js';
import { ewmaUpdate, pushBounded, type Ewma } from './stats.js';
import type { SequenceBaseline } from './sequence.js';
import type { RiskInput } from './types.js';

export interface RateBaseline {
  /** Epoch minute being counted. */
  minute: number;
  count: number;
  /** Typical calls per active minute. */
  ewma: number;
  /** Completed active minutes folded in. */
  minutes: number;
}

export interface Baseline {
  v: 1;
  firstSeen: number;
  lastSeen: number;
  calls: number;
  orders: number;
  hourOfWeek: number[];
  sources: Record<string, number>;
  clients: Record<string, number>;
  apis: Record<string, number>;
  symbols: Record<string, number>;
  logQty: number[];
  logNotional: number[];
  qtyEwma?: Ewma;
  notionalEwma?: Ewma;
  rate: RateBaseline;
  cancelRate: RateBaseline;
  /** EWMA of the share of calls that are orders. */
  orderShare: number;
  sells: { window: number; distinct: string[]; notional: number; windows: number; distinctEwma: number; notionalEwma: number };
  // Added with issue 17 (optional: older documents parse and fill them in as they learn).
  /** Symbols this bot has ordered (new buy/sell), last order time; bounded by maxSymbols. */
  traded?: Record<string, number>;
  /** Symbols first seen within the last hour: first-seen time (at most FRESH_MAX). */
  fresh?: Record<string, number>;
  /** Sources: first-seen time, same keys as `sources`. */
  sourceFirst?: Record<string, number>;
  /** Learned sells of a known position, by the fraction sold: [<15%, 15-60%, 60-90%, >=90%]. */
  sellFrac?: number[];
  /** The smallest fractions of a known position learned sells sold, ascending (at most SELL_FRAC_LOW). */
  sellFracLow?: number[];
  /** The largest fractions under 90% (a whole position has its own band), descending (at most SELL_FRAC_LOW). */
  sellFracHigh?: number[];
  /** Log notional (KRW) of new orders per side (bounded windows). */
  buyLogNotional?: number[];
  sellLogNotional?: number[];
  /** Account reads (kind 'account') per Seoul day. */
  reads?: DailyCount;
  /** Learned calls per Seoul day: how many days the bot has been at work (warm-up, warmedUp). */
  callDays?: DailyCount;
  /** Sells of a whole position (drainHoldingFraction of it or more) that went out, per Seoul day. */
  closes?: DailyCount;
  /** Sells of part of a known position that went out, per Seoul day. */
  parts?: DailyCount;
  /** Shares bought and sold per symbol by new orders that went out since the last holdings read (BALANCE, kt00018). */
  sinceRead?: Record<string, [bought: number, sold: number]>;
  /** Realtime condition searches this bot ran (CNSRREQ, one-shot or live): seq, last run; bounded by maxSymbols. */
  conditions?: Record<string, number>;
  /** Size envelope of new buys: how many were learned, the largest quantity and the largest KRW notional. */
  buyEnvelope?: BuyEnvelope;
  /** Its buying days and the buys with no call about their symbol shortly before (dormant.ts). */
  dormantBuys?: DormantBuys;
  /** What led up to each learned order (sequence.ts). */
  sequence?: SequenceBaseline;
  /** The learned per-bot model (model.ts), opaque here. */
  model?: unknown;
}

/**
 * The log windows (logQty, logNotional, buyLogNotional, sellLogNotional) hold natural logs to 1/LOG_SCALE, and the
 * stored document holds them as integers of that unit (baseline-json.ts): a float's shortest decimal took JSON.stringify
 * four times as long as an integer's, and the four windows were most of a learned call's write. The steps (0.01 %
 * of a quantity or a KRW amount) are far below anything the detectors tell apart, and quantities under 10,000 come
 * back exact from their logs.
 */
export const LOG_SCALE = 10_000;
export const storedLog = (x: number): number => Math.round(Math.log(x) * LOG_SCALE) / LOG_SCALE;
/** The windows baseline-json.ts writes as integers. */
export const LOG_WINDOWS = ['logQty', 'logNotional', 'buyLogNotional', 'sellLogNotional'] as const;

/** Events per Seoul day: the day counted, its count, the EWMA and the (slowly decaying) max of completed days. */
export interface DailyCount {
  day: string;
  count: number;
  ewma: number;
  max: number;
  days: number;
}

const FRESH_MAX = 32;
/** Condition-search requests (one-shot, live); ka10174 clears one. */
export const CONDITION_REQUESTS: ReadonlySet<string> = new Set(['ka10172', 'ka10173']);
const FRESH_MS = 3_600_000;
const SELL_FRAC_LIMIT = 400;
/**
 * Smallest sold fractions kept; the largest of them is the floor sell_off judges by. Not the smallest alone: one
 * sell that went out (an intruder's first sliver) would lower it for the next.
 */
export const SELL_FRAC_LOW = 3;

/**
 * A sell's position as the sidecar can know it: the quantity last read, the largest it can be now (plus the bot's
 * own buys since, as if filled), the estimate (less its own sells since; a cancelled sell makes it low) and the
 * estimate were none of those buys filled (`unbought`: a limit buy may still be open).
 */
export function positionOf(b: Baseline, input: RiskInput): { read: number; upper: number; estimate: number; unbought: number } | undefined {
  if (input.holdingQty === undefined) return undefined;
  const sym = symbolOf(input.stkCd);
  const [bought, sold] = (sym && b.sinceRead?.[sym]) || [0, 0];
  const upper = input.holdingQty + bought;
  return { read: input.holdingQty, upper, estimate: Math.max(0, upper - sold), unbought: Math.max(0, input.holdingQty - sold) };
}

/** The fraction of its position a sell sells, when it can be known: 1 when it sells more than the position can be. */
export function soldFraction(b: Baseline, input: RiskInput, minHoldingQty: number): number | undefined {
  const pos = positionOf(b, input);
  if (!pos || input.qty === undefined || input.qty <= 0 || pos.upper < minHoldingQty) return undefined;
  if (input.qty > pos.upper) return Infinity;
  // Between the estimate and the upper bound (a sell since may not have filled), or too small a position: unknown.
  if (input.qty > pos.estimate || pos.estimate < minHoldingQty) return undefined;
  return input.qty / pos.estimate;
}

/** Bin of a sold fraction of a position: [<15%, 15-60%, 60-90%, >=90%]. */
export function sellFracBin(fraction: number): number {
  return fraction < 0.15 ? 0 : fraction < 0.6 ? 1 : fraction < 0.9 ? 2 : 3;
}

const HOW_AGE_LIMIT = 20_000;

export function emptyBaseline(now: number): Baseline {
  return {
    v: 1,
    firstSeen: now,
    lastSeen: now,
    calls: 0,
    orders: 0,
    hourOfWeek: new Array<number>(168).fill(0),
    sources: {},
    clients: {},
    apis: {},
    symbols: {},
    logQty: [],
    logNotional: [],
    rate: { minute: 0, count: 0, ewma: 0, minutes: 0 },
    cancelRate: { minute: 0, count: 0, ewma: 0, minutes: 0 },
    orderShare: 0,
    sells: { window: 0, distinct: [], notional: 0, windows: 0, distinctEwma: 0, notionalEwma: 0 },
  };
}

/** Normalises IPv4-mapped IPv6 so ::ffff:10.0.0.1 and 10.0.0.1 are one source. */
export function normaliseIp(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

export function isTradingKind(kind: string): boolean {
  return kind === 'order' || kind === 'modify';
}

export function notionalOf(input: RiskInput): number | undefined {
  if (input.notional !== undefined && input.notional > 0) return input.notional;
  if (input.qty !== undefined && input.price !== undefined && input.qty > 0 && input.price > 0) return input.qty * input.price;
  return undefined;
}

/** One symbol for 005930, 005930_NX, 005930_AL and A005930 (protocol baseCode). */
export function symbolOf(stkCd: string | undefined): string | undefined {
  if (!stkCd) return undefined;
  return baseCode(stkCd);
}

/**
 * Index into Baseline.hourOfWeek: Seoul weekday (0 = Sunday) * 24 + hour, 0..167.
 * Stored in baselines, so the numbering must not change.
 */
export function hourOfWeek(epochMs: number): number {
  const p = seoulParts(epochMs);
  return p.weekday * 24 + p.hour;
}

function touchBounded(map: Record<string, number>, key: string, now: number, max: number): void {
  map[key] = now;
  const keys = Object.keys(map);
  if (keys.length <= max) return;
  keys.sort((a, b) => map[a]! - map[b]!);
  for (const k of keys.slice(0, keys.length - max)) delete map[k];
}

/** A call about `sym` now: first seen within the hour (fresh) when it is new to the bot; its last call about it. */
function touchSymbol(b: Baseline, sym: string, nowMs: number, maxSymbols: number): void {
  b.fresh ??= {};
  const fresh = b.fresh;
  for (const [k, t] of Object.entries(fresh)) if (nowMs - t > FRESH_MS) delete fresh[k];
  if (!(sym in b.symbols) && Object.keys(fresh).length < FRESH_MAX) fresh[sym] = nowMs;
  touchBounded(b.symbols, sym, nowMs, maxSymbols);
}

function foldRate(rate: RateBaseline, minute: number, alpha: number, counts: boolean): void {
  if (rate.minute !== minute) {
    if (rate.count > 0) {
      rate.ewma = rate.minutes === 0 ? rate.count : rate.ewma + alpha * (rate.count - rate.ewma);
      rate.minutes += 1;
    }
    rate.minute = minute;
    rate.count = 0;
  }
  if (counts) rate.count += 1;
}

/** Folds one allowed and completed call into the baseline (mutates). */
export function learnInto(b: Baseline, input: RiskInput, nowMs: number, cfg: RiskConfig, holdingsRecorded = true): void {
  const p = cfg.pattern;
  b.lastSeen = nowMs;
  b.calls += 1;
  b.callDays = countDaily(b.callDays, nowMs);
  const how = hourOfWeek(nowMs);
  b.hourOfWeek[how] = (b.hourOfWeek[how] ?? 0) + 1;
  if (b.hourOfWeek.reduce((a, c) => a + c, 0) > HOW_AGE_LIMIT) b.hourOfWeek = b.hourOfWeek.map((c) => c / 2);

  const ip = normaliseIp(input.sourceIp);
  b.sourceFirst ??= {};
  const firsts = b.sourceFirst;
  if (!(ip in b.sources)) firsts[ip] = nowMs;
  touchBounded(b.sources, ip, nowMs, cfg.location.maxSources);
  for (const k of Object.keys(firsts)) if (!(k in b.sources)) delete firsts[k];
  if (input.clientId) touchBounded(b.clients, input.clientId, nowMs, cfg.location.maxSources);
  touchBounded(b.apis, input.apiId, nowMs, p.maxApis);
  if (input.condition !== undefined && CONDITION_REQUESTS.has(input.apiId)) {
    b.conditions ??= {};
    touchBounded(b.conditions, input.condition, nowMs, p.maxSymbols);
  }
  const sym = symbolOf(input.stkCd);
  if (sym) {
    if (input.kind === 'order' && input.side === 'buy') learnDormantBuy(b, sym, nowMs, cfg);
    touchSymbol(b, sym, nowMs, p.maxSymbols);
    if (input.kind === 'order') {
      b.traded ??= {};
      touchBounded(b.traded, sym, nowMs, p.maxSymbols);
    }
  }
  // A realtime registration's stocks: the bot watches them (the last maxSymbols of them, when it names more).
  for (const code of input.watched?.slice(-p.maxSymbols) ?? []) touchSymbol(b, baseCode(code), nowMs, p.maxSymbols);
  if (input.kind === 'account') b.reads = countDaily(b.reads, nowMs);

  const minute = Math.floor(nowMs / 60_000);
  foldRate(b.rate, minute, p.rateAlpha, true);
  const isCancel = input.kind === 'cancel' || input.kind === 'modify';
  foldRate(b.cancelRate, minute, p.rateAlpha, isCancel);

  const isOrder = input.kind === 'order';
  b.orderShare = b.calls === 1 ? (isOrder ? 1 : 0) : b.orderShare + p.orderShareAlpha * ((isOrder ? 1 : 0) - b.orderShare);

  if (isTradingKind(input.kind)) {
    b.orders += 1;
    if (input.qty !== undefined && input.qty > 0) {
      const lq = storedLog(input.qty);
      pushBounded(b.logQty, lq, cfg.volume.window);
      b.qtyEwma = ewmaUpdate(b.qtyEwma, lq, cfg.volume.ewmaAlpha);
    }
    const notional = notionalOf(input);
    if (input.kind === 'order' && input.side === 'buy') learnBuyEnvelope(b, input, notional, nowMs, cfg.orderSize.envelopeMinOrders);
    if (input.kind === 'order' && notional !== undefined) {
      b.sellLogNotional ??= [];
      b.buyLogNotional ??= [];
      const w = input.side === 'sell' ? b.sellLogNotional : b.buyLogNotional;
      pushBounded(w, storedLog(notional), cfg.volume.window);
    }
    if (notional !== undefined) {
      const ln = storedLog(notional);
      pushBounded(b.logNotional, ln, cfg.volume.window);
      b.notionalEwma = ewmaUpdate(b.notionalEwma, ln, cfg.volume.ewmaAlpha);
    }
  }

  if (input.kind === 'order' && input.side === 'sell') {
    const fraction = soldFraction(b, input, cfg.sellOff.minHoldingQty);
    if (fraction !== undefined) {
      if (fraction >= p.drainHoldingFraction) b.closes = countDaily(b.closes, nowMs);
      else b.parts = countDaily(b.parts, nowMs);
    }
    if (fraction !== undefined && fraction <= 1) {
      b.sellFrac ??= [0, 0, 0, 0];
      const h = b.sellFrac;
      const bin = sellFracBin(fraction);
      h[bin] = (h[bin] ?? 0) + 1;
      b.sellFracLow = [...(b.sellFracLow ?? []), fraction].sort((x, y) => x - y).slice(0, SELL_FRAC_LOW);
      if (fraction < 0.9) b.sellFracHigh = [...(b.sellFracHigh ?? []), fraction].sort((x, y) => y - x).slice(0, SELL_FRAC_LOW);
      if (h.reduce((a, c) => a + c, 0) > SELL_FRAC_LIMIT) b.sellFrac = h.map((c) => c / 2);
    }
  }
  // The balance inquiry whose rows become the holdings a sell is judged against (server/pipeline/after/holdings.ts).
  if (input.apiId === BALANCE.apiId) {
    // A read that did not become the holdings (a first page of several) leaves the orders since the last one counted.
    if (holdingsRecorded) b.sinceRead = {};
  } else if (input.kind === 'order' && (input.side === 'buy' || input.side === 'sell') && sym && input.qty !== undefined && input.qty > 0) {
    b.sinceRead ??= {};
    const q = b.sinceRead;
    if (sym in q || Object.keys(q).length < p.maxSymbols) {
      const e = q[sym] ?? [0, 0];
      e[input.side === 'buy' ? 0 : 1] += input.qty;
      q[sym] = e;
    }
  }

  if (input.kind === 'order' && input.side === 'sell') {
    const win = Math.floor(nowMs / p.drainWindowMs);
    const s = b.sells;
    if (s.window !== win) {
      if (s.distinct.length > 0) {
        const a = p.rateAlpha;
        s.distinctEwma = s.windows === 0 ? s.distinct.length : s.distinctEwma + a * (s.distinct.length - s.distinctEwma);
        s.notionalEwma = s.windows === 0 ? s.notional : s.notionalEwma + a * (s.notional - s.notionalEwma);
        s.windows += 1;
      }
      s.window = win;
      s.distinct = [];
      s.notional = 0;
    }
    if (sym && !s.distinct.includes(sym) && s.distinct.length < 1000) s.distinct.push(sym);
    s.notional += notionalOf(input) ?? 0;
  }
}

/**
 * Learned enough to be judged against its own behaviour: warmupCalls calls, or calls on warmupDays Seoul days. A bot
 * that calls a few times a day (a DCA buyer's five) shows its routine over days long before it reaches the calls.
 */
export function warmedUp(b: Baseline, cfg: Pick<RiskConfig, 'warmupCalls' | 'warmupDays'>): boolean {
  if (b.calls >= cfg.warmupCalls) return true;
  const c = b.callDays;
  return cfg.warmupDays > 0 && c !== undefined && c.days + (c.count > 0 ? 1 : 0) >= cfg.warmupDays;
}

/** The most events of a completed Seoul day before `day` (the last day counted is completed once `day` is another). */
export function busiestDay(c: DailyCount | undefined, day: string): number {
  if (!c) return 0;
  return c.day === day ? c.max : Math.max(c.max, c.count);
}

/** Counts one event of a Seoul day (a day closes into the EWMA and the max when the next one starts). */
function countDaily(c: DailyCount | undefined, nowMs: number): DailyCount {
  const day = seoulParts(nowMs).date;
  const r = c ?? { day, count: 0, ewma: 0, max: 0, days: 0 };
  if (r.day !== day) {
    if (r.count > 0) {
      r.ewma = r.days === 0 ? r.count : r.ewma + 0.1 * (r.count - r.ewma);
      r.max = Math.max(r.max * 0.97, r.count);
      r.days += 1;
    }
    r.day = day;
    r.count = 0;
  }
  r.count += 1;
  return r;
}
