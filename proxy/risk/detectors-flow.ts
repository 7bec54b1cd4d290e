// Detectors added with issue 17, each aimed at what an attack family does
// and measured by bench/risk: selling a share of a position the bot never
// sells, orders far outside the bot's own size on that side, account
// inquiries far above its busiest day, several never-used api-ids within the
// hour, a realtime condition search it never ran, draining the account, and
// credential stuffing seen across bots. Pure functions of the call, the
// baseline and live counters, like detectors.ts.
import { seoulParts } from '../kiwoom/protocol/index.js';
import { busiestDay, CONDITION_REQUESTS, SELL_FRAC_LOW, normaliseIp, notionalOf, positionOf, sellFracBin, soldFraction, warmedUp } from './baseline.js';
import { envelopeOn, envelopeRatio } from './buy-envelope.js';
import type { DetectorContext, DetectorResult } from './detectors.js';
import { clamp01, median, scaledMad } from './stats.js';

type Detector = (ctx: DetectorContext) => DetectorResult | undefined;

const ORDER_SIZE_MIN_SPREAD = 0.35;
/** Orders of a side learned before order_size judges (and the volume detector stops judging new orders: one piece of evidence, counted once). */
export const ORDER_SIZE_MIN_SAMPLES = 15;

/** Learned sells of part of a position: every band but the whole one. */
const partialSells = (h: readonly number[]): number => (h[0] ?? 0) + (h[1] ?? 0) + (h[2] ?? 0);

/** A share as a percentage with one decimal (0.8 %, where a whole percent would say 1). */
const pct1 = (share: number): number => Math.round(1000 * share) / 10;

export const sellOff: Detector = (ctx) => {
  const { input, baseline: b, cfg } = ctx;
  if (input.kind !== 'order' || input.side !== 'sell' || !warmedUp(b, cfg)) return undefined;
  // A bot whose orders were all buys: its first sell is the pattern (liquidation, or low-and-slow selling), whatever its size.
  const neverSold = b.sells.windows === 0 && b.sells.distinct.length === 0 && (b.sellFrac ?? [0]).every((c) => c === 0);
  if (neverSold && b.orders >= cfg.sellOff.firstSellMinOrders) {
    const of = input.holdingQty && input.qty ? Math.round((100 * input.qty) / input.holdingQty) : undefined;
    return { score: 1, reason: ctx.say.firstSell(b.orders, cfg.sellOff.firstSellMinOrders, of) };
  }
  const sold = soldFraction(b, input, cfg.sellOff.minHoldingQty);
  if (sold === undefined) return undefined;
  // More than the position can be (the last read plus the bot's own buys since): at least all of it, on a stale view
  // of the book (what an intruder acting on an old balance does).
  const fraction = Math.min(sold, 1);
  const beyond = sold > 1 ? { qty: input.qty!, upper: positionOf(b, input)!.upper } : undefined;
  const bin = sellFracBin(fraction);
  const h = b.sellFrac ?? [0, 0, 0, 0];
  const total = h.reduce((a, c) => a + c, 0);
  const pct = Math.round(100 * fraction);
  if (total < cfg.sellOff.minSamples) return closerPart(ctx, fraction, h) ?? sliver(ctx, fraction);
  const { rareShare, rareScore } = cfg.sellOff;
  const share = (h[bin] ?? 0) / total;
  // Two shapes only: all of a position by a bot that rarely sells all of one (whatever its trims look like),
  // or a smaller share of one than this bot ever sells (a sliver by a bot that sells halves, a part by a full-closer).
  const above = h.slice(bin + 1).reduce((a, c) => a + c, 0) / total;
  if (share >= rareShare || !(bin === 3 || (bin <= 1 && above >= 1 - rareShare)))
    return floor(ctx, fraction, total, partialSells(h)) ?? ceiling(ctx, fraction, partialSells(h));
  return {
    score: clamp01(rareScore + (1 - rareScore) * (1 - share / Math.max(rareShare, 1e-9))),
    reason: ctx.say.sellShare({ pct, ...(beyond ? { beyond } : {}), inBand: h[bin] ?? 0, total, band: bin, rarePct: Math.round(100 * rareShare) }),
  };
};

/**
 * A share of a position far under the smallest this bot sells (all but SELL_FRAC_LOW - 1 of its learned sells sold
 * that much or more), inside a band it uses: one share of each holding from a rebalancer whose trims are 3-13% of a
 * position (all under 15%: the bands cannot tell them apart). A bot that sells a steady share (its partial sells,
 * all but SELL_FRAC_LOW - 1 each way, within tightSpread of each other: a halver) is held to a closer floor: a third
 * of each holding from a bot that always sells half is not its own, while a trimmer's 3-13% spread is kept wide.
 */
function floor(ctx: DetectorContext, fraction: number, total: number, partial: number): DetectorResult | undefined {
  const smallest = (ctx.baseline.sellFracLow ?? [])[SELL_FRAC_LOW - 1];
  const largest = (ctx.baseline.sellFracHigh ?? [])[SELL_FRAC_LOW - 1];
  const { floorShare, tightSpread, tightFloorShare, tightMinSells } = ctx.cfg.sellOff;
  if (smallest === undefined || floorShare === 0) return undefined;
  // Few partial sells put the third smallest and the third largest next to each other (five: the same one).
  const steady = tightSpread > 0 && partial >= tightMinSells && largest !== undefined && largest <= smallest * tightSpread;
  const share = steady ? Math.max(floorShare, tightFloorShare) : floorShare;
  if (fraction >= smallest * share) return undefined;
  const belowPct = pct1(smallest * share);
  return {
    score: 1,
    reason: ctx.say.sellFloor({ pct: pct1(fraction), floorPct: pct1(smallest), belowPct, total, ...(steady ? { steadyPct: pct1(largest) } : {}) }),
  };
}

/**
 * A part of a position far over the largest part this bot sells (all but SELL_FRAC_LOW - 1 of its learned partial
 * sells sold that much or less): a third of each holding from a bot that trims a few percent. Selling a whole
 * position has its own band.
 */
function ceiling(ctx: DetectorContext, fraction: number, partial: number): DetectorResult | undefined {
  const largest = (ctx.baseline.sellFracHigh ?? [])[SELL_FRAC_LOW - 1];
  const { ceilingFactor } = ctx.cfg.sellOff;
  if (largest === undefined || ceilingFactor === 0 || fraction >= 0.9 || fraction <= largest * ceilingFactor) return undefined;
  return { score: 1, reason: ctx.say.sellCeiling({ pct: pct1(fraction), ceilingPct: pct1(largest), abovePct: pct1(largest * ceilingFactor), partial }) };
}

/**
 * Part of a position from a bot whose learned sells, `closerMinSells` or more but fewer than the five sell_off judges a
 * share by, each sold a whole one: an insider's 30 % sell-down of a swing trader that has closed two positions. From
 * the fifth whole sell sell_off holds the same part as a share the bot never sells; this holds it from the second,
 * where the first two parts of a sell-down went out before (drainDayParts holds the third in a day).
 */
function closerPart(ctx: DetectorContext, fraction: number, h: readonly number[]): DetectorResult | undefined {
  const min = ctx.cfg.sellOff.closerMinSells;
  const wholes = h[3] ?? 0;
  if (min === 0 || wholes < min || partialSells(h) > 0 || sellFracBin(fraction) === 3) return undefined;
  // A part only if it is one without the bot's buys since the read too: a limit buy that has not filled is not held,
  // and selling what the read showed is the whole position (measured: a swing trader's own close after such a buy).
  const { unbought } = positionOf(ctx.baseline, ctx.input)!;
  if (unbought === 0 || sellFracBin(ctx.input.qty! / unbought) === 3) return undefined;
  return { score: 1, reason: ctx.say.closerPart({ pct: pct1(fraction), wholes: Math.round(wholes), min }) };
}

/**
 * Too few sells learned to know what share of a position this bot sells, but a sliver of one far below every
 * order it ever placed: one share of each holding a day (low-and-slow) from a bot that trades in lots. Its buys
 * say what its lots are; a young history is when the first sliver would otherwise go out unjudged and then
 * become part of the baseline.
 */
function sliver(ctx: DetectorContext, fraction: number): DetectorResult | undefined {
  const { input, baseline: b, cfg } = ctx;
  const { sliverMinOrders, sliverFactor } = cfg.sellOff;
  if (sellFracBin(fraction) !== 0 || input.qty === undefined || b.logQty.length < sliverMinOrders) return undefined;
  const smallest = Math.round(Math.exp(Math.min(...b.logQty)));
  if (input.qty > sliverFactor * smallest) return undefined;
  return { score: 1, reason: ctx.say.sliver({ qty: input.qty, pct: Math.round(100 * fraction), smallest, orders: b.logQty.length }) };
}

/** Size counts once: the stronger of the robust z on that side and the buy envelope. */
export const orderSize: Detector = (ctx) => {
  const z = sizeZ(ctx);
  const e = buyEnvelope(ctx);
  return !z ? e : !e ? z : e.score > z.score ? e : z;
};

function sizeZ(ctx: DetectorContext): DetectorResult | undefined {
  const { input, baseline: b, cfg } = ctx;
  const notional = notionalOf(input);
  if (input.kind !== 'order' || notional === undefined) return undefined;
  const window = input.side === 'sell' ? b.sellLogNotional : b.buyLogNotional;
  if (!window || window.length < ORDER_SIZE_MIN_SAMPLES) return undefined;
  const med = median(window);
  const z = (Math.log(notional) - med) / Math.max(scaledMad(window, med), ORDER_SIZE_MIN_SPREAD);
  const { zWarn, zMax } = cfg.orderSize;
  if (Math.abs(z) < zWarn) return undefined;
  return {
    score: clamp01(Math.max(0.01, (Math.abs(z) - zWarn) / (zMax - zWarn))),
    reason: ctx.say.sizeZ({ side: input.side, krw: notional, usual: Math.exp(med), z }),
  };
}

/**
 * A buy above the largest this bot ever placed, by quantity or by KRW, each with one share of slack (so 6
 * shares after 5 is not 1.2x): from 0 at the largest to 1 at `envelopeFactor` times it. A buy above it when
 * one already went out today scores 1 whatever its size when `envelopeRepeatMinOrders` is set and the envelope
 * holds that many buys: the bar does not move until tomorrow (baseline.ts), and the same outsized buy again is a
 * pattern, not a new high (off by default: measured, it held a scalper's own draws and stopped nothing
 * `sequence` had not stopped already; config-flow.ts). Sells are bounded by the
 * position and judged by the share of it sold (sell_off, drain), not here.
 */
function buyEnvelope(ctx: DetectorContext): DetectorResult | undefined {
  const { input, baseline: b, cfg } = ctx;
  if (input.kind !== 'order' || input.side !== 'buy' || !warmedUp(b, cfg)) return undefined;
  const learned = b.buyEnvelope;
  const { envelopeMinOrders: minOrders, envelopeFactor: factor, envelopeRepeatMinOrders: repeatFrom } = cfg.orderSize;
  if (!learned || learned.orders < minOrders) return undefined;
  const e = envelopeOn(learned, seoulParts(ctx.nowMs).date);
  const notional = notionalOf(input);
  const { byQty, byKrw, ratio } = envelopeRatio(e, input.qty, notional, input.price);
  if (ratio <= 1) return undefined;
  const measure = byQty >= byKrw ? { by: 'qty' as const, qty: input.qty!, max: e.maxQty } : { by: 'krw' as const, krw: notional!, max: e.maxNotional };
  const repeat = repeatFrom > 0 && e.above > 0 && learned.orders >= repeatFrom;
  return {
    score: repeat ? 1 : clamp01((ratio - 1) / (factor - 1)),
    reason: ctx.say.envelope({ measure, times: ratio, learned: learned.orders, factor, nthToday: repeat ? e.above + 1 : undefined }),
  };
}

/**
 * A realtime condition search this bot never ran, by a bot that runs them: swapping the condition its strategy
 * trades on (a live search scores 1, a one-shot 0.6, and so does any once `apiBreadth.minApis` never-run
 * conditions were requested within the api-breadth window: probing them). A bot's first search at all is new_api's.
 */
export const condition: Detector = (ctx) => {
  const { input, baseline: b, cfg } = ctx;
  const seq = input.condition;
  if (seq === undefined || !CONDITION_REQUESTS.has(input.apiId) || !warmedUp(b, cfg)) return undefined;
  const known = Object.keys(b.conditions ?? {});
  if (known.length === 0 || known.includes(seq)) return undefined;
  const live = input.apiId === 'ka10173';
  const n = ctx.live.newConditions;
  const probing = n >= cfg.apiBreadth.minApis;
  const breadth = probing ? { n, minutes: cfg.apiBreadth.windowMs / 60_000, min: cfg.apiBreadth.minApis } : undefined;
  return {
    score: live || probing ? 1 : 0.6,
    reason: ctx.say.condition({ live, seq, known: known.slice(0, 5), ...(breadth ? { breadth } : {}) }),
  };
};

export const accountReads: Detector = (ctx) => {
  const { input, baseline: b, cfg, live } = ctx;
  if (input.kind !== 'account' || !warmedUp(b, cfg)) return undefined;
  const r = b.reads;
  const usual = r && r.days > 0 ? Math.max(r.max, r.ewma) : 0;
  const threshold = Math.max(cfg.reads.minPerDay, Math.ceil(cfg.reads.factor * usual));
  const n = live.readsToday;
  if (n < threshold) return undefined;
  return {
    score: clamp01(0.6 + (0.4 * (n - threshold)) / threshold),
    reason: ctx.say.accountReads(n, usual, threshold),
  };
};

export const apiBreadth: Detector = (ctx) => {
  const n = ctx.live.newApis;
  const min = ctx.cfg.apiBreadth.minApis;
  if (n < min) return undefined;
  return {
    score: clamp01(0.5 + (0.5 * (n - min)) / min),
    reason: ctx.say.apiBreadth(n, ctx.cfg.apiBreadth.windowMs / 60_000, min),
  };
};

export const stuffing: Detector = (ctx) => {
  const { live, cfg } = ctx;
  const s = cfg.stuffing;
  const minutes = s.windowMs / 60_000;
  if (live.stuffingSource >= s.minBots) {
    // At the threshold this alone (score 0.9 x weight 0.8) steps the call up: one address failing several
    // bots' secrets and then calling with a good one is the stuffing pattern itself. 1 at twice the threshold.
    return {
      score: clamp01(0.9 + (0.1 * (live.stuffingSource - s.minBots)) / s.minBots),
      reason: ctx.say.stuffingSource(normaliseIp(ctx.input.sourceIp), live.stuffingSource, minutes, s.minBots),
    };
  }
  if (live.stuffingGlobal >= s.globalMinBots && live.stuffingThisBot) {
    return { score: 0.7, reason: ctx.say.stuffingWave(live.stuffingGlobal, minutes, s.globalMinBots) };
  }
  return undefined;
};

export const model: Detector = (ctx) => {
  const m = ctx.model;
  if (!m || m.score < ctx.cfg.model.scoreFrom || !warmedUp(ctx.baseline, ctx.cfg)) return undefined;
  const from = ctx.cfg.model.scoreFrom;
  return {
    score: clamp01((m.score - from) / Math.max(1 - from, 1e-9)),
    reason: ctx.say.model(m.score, from, m.top),
  };
};

/**
 * Draining the account: many symbols or far more KRW sold within the drain window, a whole position sold (routine
 * alone, draining with many others in the window), a whole position sold when the bot already sold more of them today
 * than on its busiest learned day (a liquidation paced over hours), parts of several positions sold in a day by a bot
 * that only ever sold whole ones (a sell-down), and a buy into an illiquid name.
 */
export const drain: Detector = (ctx) => {
  const { input, cfg, live, baseline: b } = ctx;
  const p = cfg.pattern;
  if (input.kind !== 'order') return undefined;
  const found: DetectorResult[] = [];
  if (input.side === 'sell') {
    const s = b.sells;
    const warmSells = s.windows >= 3;
    const threshold = Math.max(p.drainDistinctSymbols, warmSells ? Math.ceil(2 * s.distinctEwma) : 0);
    if (live.soldDistinct >= threshold) {
      found.push({
        score: clamp01(0.6 + (0.4 * (live.soldDistinct - threshold)) / threshold),
        reason: ctx.say.drainSymbols(live.soldDistinct, cfg.pattern.drainWindowMs / 60_000, threshold),
      });
    }
    // A flow, not one large order (the volume detector judges single orders).
    if (warmSells && s.notionalEwma > 0 && live.soldDistinct >= 2) {
      const ratio = live.soldNotional / (s.notionalEwma * p.drainNotionalFactor);
      if (ratio >= 1) found.push({ score: clamp01(0.5 + 0.5 * (ratio - 1)), reason: ctx.say.drainKrw(live.soldNotional, s.notionalEwma) });
    }
    if (
      input.holdingQty !== undefined &&
      input.holdingQty > 0 &&
      input.qty !== undefined &&
      input.qty >= p.drainHoldingFraction * input.holdingQty &&
      input.qty <= input.holdingQty
    ) {
      // Closing one position is routine; closing it while many others go too is draining.
      // Many: twice the symbols this bot usually sells in a window (a rebalancer sells several every day).
      const many = live.soldDistinct >= Math.max(2, warmSells ? Math.ceil(2 * s.distinctEwma) : Math.ceil(threshold / 2));
      found.push({
        score: many ? 1 : 0.4,
        reason: ctx.say.drainPosition(Math.round((100 * input.qty) / input.holdingQty), many ? live.soldDistinct : undefined),
      });
    }
    for (const day of [dayCloses(ctx), dayParts(ctx)]) if (day) found.push(day);
  } else if (input.side === 'buy' && input.symbolAdv !== undefined && input.symbolAdv >= 0 && input.qty !== undefined) {
    const cap = p.illiquidAdvFraction * input.symbolAdv;
    if (input.qty > cap) {
      const ratio = cap > 0 ? input.qty / cap : Infinity;
      found.push({
        score: clamp01(0.6 + 0.4 * (ratio - 1)),
        reason: ctx.say.illiquidBuy(input.qty, cap > 0 ? (input.qty / input.symbolAdv) * 100 : undefined),
      });
    }
  }
  if (found.length === 0) return undefined;
  return found.reduce((a, c) => (c.score > a.score ? c : a));
};

/**
 * The nth whole position sold this Seoul day, from `drainDayCloses` on and above `drainDayFactor` times the most the
 * bot sold on a learned day (dayScore). Judged once the bot is past warm-up, so a new scalper's first day (dozens of
 * closes) teaches its own busiest day first.
 */
function dayCloses(ctx: DetectorContext): DetectorResult | undefined {
  const { cfg, live, baseline: b } = ctx;
  const p = cfg.pattern;
  const n = live.closesToday;
  if (n === 0 || p.drainDayCloses === 0 || ctx.warmingUp) return undefined;
  const today = seoulParts(ctx.nowMs).date;
  const c = b.closes;
  const countedDays = c ? c.days + (c.day !== today && c.count > 0 ? 1 : 0) : 0;
  const closedToday = c?.day === today ? c.count : 0;
  // Whole positions learned before a day of them was counted (a baseline an older version wrote): the busiest day is
  // not known yet, and a scalper's dozens a day must not be held from the third.
  if (countedDays === 0 && (b.sellFrac?.[3] ?? 0) - closedToday > 0) return undefined;
  const busiest = busiestDay(c, today);
  const threshold = Math.max(p.drainDayCloses, Math.ceil(p.drainDayFactor * busiest));
  if (n < threshold) return undefined;
  return { score: dayScore(n, threshold), reason: ctx.say.drainDay(n, busiest, threshold) };
}

/** A day count at its threshold scores 0.8 (drain's weight 0.9 holds it for approval), 1 at twice it. */
const dayScore = (n: number, threshold: number): number => clamp01(0.8 + (0.2 * (n - threshold)) / threshold);

/**
 * The nth part of a position sold this Seoul day, from `drainDayParts` on, by a bot whose learned sells all sold a
 * whole position: sell_off judges a share against five learned sells or more; before that, an intruder's sell-down of
 * a bot that closes positions (a third of each, 20 minutes apart) is held at its third. Scores as dayCloses.
 */
function dayParts(ctx: DetectorContext): DetectorResult | undefined {
  const { cfg, live, baseline: b } = ctx;
  const n = live.partsToday;
  const threshold = cfg.pattern.drainDayParts;
  if (n === 0 || threshold === 0 || n < threshold || ctx.warmingUp) return undefined;
  const h = b.sellFrac ?? [];
  const wholes = Math.round(h[3] ?? 0);
  // Today's parts that went out are learned already: what counts is whether the bot sold a part on an earlier day.
  const today = b.parts?.day === seoulParts(ctx.nowMs).date ? b.parts.count : 0;
  if (wholes === 0 || partialSells(h) - today > 0) return undefined;
  return { score: dayScore(n, threshold), reason: ctx.say.drainDayParts(n, wholes, threshold) };
}
