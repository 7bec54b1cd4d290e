// Detectors added with issue 17, each aimed at what an attack family does
// and measured by bench/risk: selling a share of a position the bot never
// sells, orders far outside the bot's own size on that side, account
// inquiries far above its busiest day, several never-used api-ids within the
// hour, and credential stuffing seen across bots. Pure functions of the call,
// the baseline and live counters, like detectors.ts.
import { normaliseIp, notionalOf, sellFracBin } from './baseline.js';
import type { DetectorContext, DetectorResult } from './detectors.js';
import { clamp01, median, scaledMad } from './stats.js';

type Detector = (ctx: DetectorContext) => DetectorResult | undefined;

const r2 = (x: number): string => (Math.round(x * 100) / 100).toString();
const BANDS = ['under 15%', '15-60%', '60-90%', '90% or more'];
const ORDER_SIZE_MIN_SPREAD = 0.35;
/** Orders of a side learned before order_size judges (and the volume detector stops judging new orders: one piece of evidence, counted once). */
export const ORDER_SIZE_MIN_SAMPLES = 15;

export const sellOff: Detector = (ctx) => {
  const { input, baseline: b, cfg } = ctx;
  if (input.kind !== 'order' || input.side !== 'sell' || b.calls < cfg.warmupCalls) return undefined;
  if (input.holdingQty === undefined || input.holdingQty <= 0 || input.qty === undefined || input.qty <= 0) return undefined;
  const fraction = input.qty / input.holdingQty;
  // More than the position last seen: it grew since the bot's inquiry, so the fraction says nothing.
  if (fraction > 1) return undefined;
  const bin = sellFracBin(fraction);
  const h = b.sellFrac ?? [0, 0, 0, 0];
  const total = h.reduce((a, c) => a + c, 0);
  const pct = Math.round(100 * fraction);
  if (total < cfg.sellOff.minSamples) {
    // A bot that has placed orders but never sold: its first sell of most of a position is the liquidation pattern.
    if (b.sells.windows === 0 && b.sells.distinct.length === 0 && b.orders >= cfg.warmupSamples)
      return { score: fraction >= 0.5 ? 1 : 0.8, reason: `first sell ever by this bot (${b.orders} orders learned), ${pct}% of the position` };
    return undefined;
  }
  const share = (h[bin] ?? 0) / total;
  // Two shapes only: all of a position by a bot that only trims, or a part of one by a bot that only closes whole positions.
  const big = ((h[2] ?? 0) + (h[3] ?? 0)) / total;
  const trimmer = big <= cfg.sellOff.rareShare;
  const fullCloser = big >= 1 - cfg.sellOff.rareShare;
  if (share >= cfg.sellOff.rareShare || !((bin === 3 && trimmer) || (bin <= 1 && fullCloser))) return undefined;
  return {
    score: clamp01(Math.max(0.5, 1 - share / Math.max(cfg.sellOff.rareShare, 1e-9))),
    reason: `sells ${pct}% of the position; ${r2(h[bin] ?? 0)} of ${r2(total)} learned sells were in that band (${BANDS[bin]})`,
  };
};

export const orderSize: Detector = (ctx) => {
  const { input, baseline: b, cfg } = ctx;
  const notional = notionalOf(input);
  if (input.kind !== 'order' || notional === undefined) return undefined;
  const window = input.side === 'sell' ? b.sellLogNotional : b.buyLogNotional;
  if (!window || window.length < ORDER_SIZE_MIN_SAMPLES) return undefined;
  const med = median(window);
  const z = (Math.log(notional) - med) / Math.max(scaledMad(window, med), ORDER_SIZE_MIN_SPREAD);
  const { zWarn, zMax } = cfg.orderSize;
  if (Math.abs(z) < zWarn) return undefined;
  const typical = Math.exp(med);
  return {
    score: clamp01(Math.max(0.01, (Math.abs(z) - zWarn) / (zMax - zWarn))),
    reason: `${input.side ?? 'order'} of ${Math.round(notional)} KRW is ${z > 0 ? `${r2(notional / typical)}x` : `1/${r2(typical / notional)} of`} this bot's usual ${Math.round(typical)} on that side (robust z ${r2(z)})`,
  };
};

export const accountReads: Detector = (ctx) => {
  const { input, baseline: b, cfg, live } = ctx;
  if (input.kind !== 'account' || b.calls < cfg.warmupCalls) return undefined;
  const r = b.reads;
  const usual = r && r.days > 0 ? Math.max(r.max, r.ewma) : 0;
  const threshold = Math.max(cfg.reads.minPerDay, Math.ceil(cfg.reads.factor * usual));
  const n = live.readsToday;
  if (n < threshold) return undefined;
  return {
    score: clamp01(0.6 + (0.4 * (n - threshold)) / threshold),
    reason: `${n} account/order/fill inquiries today vs this bot's busiest learned day ${r2(usual)} (threshold ${threshold})`,
  };
};

export const apiBreadth: Detector = (ctx) => {
  const n = ctx.live.newApis;
  const min = ctx.cfg.apiBreadth.minApis;
  if (n < min) return undefined;
  return {
    score: clamp01(0.5 + (0.5 * (n - min)) / min),
    reason: `${n} api-ids never used by this bot called within ${ctx.cfg.apiBreadth.windowMs / 60_000} min (threshold ${min})`,
  };
};

export const stuffing: Detector = (ctx) => {
  const { live, cfg } = ctx;
  const s = cfg.stuffing;
  const win = `${s.windowMs / 60_000} min`;
  if (live.stuffingSource >= s.minBots) {
    return {
      score: clamp01(0.6 + (0.4 * (live.stuffingSource - s.minBots)) / s.minBots),
      reason: `source ${normaliseIp(ctx.input.sourceIp)} failed the secrets of ${live.stuffingSource} bots within ${win} (threshold ${s.minBots})`,
    };
  }
  if (live.stuffingGlobal >= s.globalMinBots && live.stuffingThisBot) {
    return { score: 0.7, reason: `this bot's secret failed during a wave of ${live.stuffingGlobal} bots failing within ${win} (threshold ${s.globalMinBots})` };
  }
  return undefined;
};

export const model: Detector = (ctx) => {
  const m = ctx.model;
  if (!m || m.score < ctx.cfg.model.scoreFrom || ctx.baseline.calls < ctx.cfg.warmupCalls) return undefined;
  const from = ctx.cfg.model.scoreFrom;
  return {
    score: clamp01((m.score - from) / Math.max(1 - from, 1e-9)),
    reason: `learned model anomaly ${r2(m.score)} (from ${from}); driven by ${m.top.map((f) => `${f.feature} ${r2(f.value)} (${Math.round(100 * f.share)}%)`).join(', ')}`,
  };
};
