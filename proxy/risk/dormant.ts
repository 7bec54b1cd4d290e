// Dormant buys: a buy in a symbol the bot made no call about on that KRX trading day or the ones before
// (risk.dormantBuys.days), from a bot that looks before it buys. Someone else using its identity buys names they
// know it trades, without its data pipeline in front. Judged by new_symbol, learned with the baseline.
import { seoulParts } from '../kiwoom/protocol/index.js';
import type { Baseline } from './baseline.js';
import { tradingDaysSince } from './calendar.js';
import type { RiskConfig } from './config.js';
import type { DetectorContext, DetectorResult } from './detectors.js';

/** The Seoul days a bot placed new buys on (`days`, the last one `day`), and its buys that were dormant. */
export interface DormantBuys {
  days: number;
  day: string;
  dormant: number;
}

/** The counts halve past this many buying days (about a trading year), so the rate follows what the bot does now. */
const BUY_DAYS_LIMIT = 250;
/** Trading days a reason counts up to (more reads as that many, "or more"). */
const DAYS_SHOWN = 60;

/** Trading days since this bot's last call about `sym` (b.symbols: any kind), up to `cap`: cap when it made none. */
function daysDormant(b: Baseline, sym: string, nowMs: number, cfg: RiskConfig, cap: number): number {
  const last = b.symbols[sym];
  return last === undefined ? cap : tradingDaysSince(cfg, last, nowMs, cap);
}

/** Counts a new buy that went out (before learnInto records this call about its symbol). */
export function learnDormantBuy(b: Baseline, sym: string, nowMs: number, cfg: RiskConfig): void {
  const within = cfg.dormantBuys.days;
  if (within === 0) return;
  const day = seoulParts(nowMs).date;
  b.dormantBuys ??= { days: 0, day: '', dormant: 0 };
  const d = b.dormantBuys;
  if (d.day !== day) {
    d.days += 1;
    d.day = day;
  }
  if (daysDormant(b, sym, nowMs, cfg, within + 1) > within) d.dormant += 1;
  if (d.days > BUY_DAYS_LIMIT) {
    d.days /= 2;
    d.dormant /= 2;
  }
}

/**
 * A dormant buy from a bot whose dormant buys came on at most `maxRate` of its buying days ((dormant + 1) /
 * (days + 1)): scores as a fresh symbol's order does, a hold with one more sign (a size, a lead-in), not on its own.
 * Per buying day, not per buy: a bot that buys a hundred times a day and now and then without looking would be flagged
 * every few days. Trading days, not hours: a bot that reads on Friday and buys on Monday looked.
 */
export function dormantBuy(ctx: DetectorContext, sym: string, score: number): DetectorResult | undefined {
  const { input, baseline: b, cfg, nowMs } = ctx;
  const { days: within, maxRate } = cfg.dormantBuys;
  const learned = b.dormantBuys;
  if (input.side !== 'buy' || within === 0 || !learned || (learned.dormant + 1) / (learned.days + 1) > maxRate) return undefined;
  const days = daysDormant(b, sym, nowMs, cfg, DAYS_SHOWN);
  if (days <= within) return undefined;
  return {
    score,
    reason: ctx.say.dormantSymbolBuy({
      symbol: sym,
      days,
      atLeast: days === DAYS_SHOWN,
      within,
      buyDays: Math.round(learned.days),
      dormant: Math.round(learned.dormant),
    }),
  };
}
