// The average daily volume (ADV) of a symbol, learned from the daily charts
// (ka10081) bots already fetch through the sidecar: the drain detector judges
// a buy against it (illiquidAdvFraction). Shared through the Store, one key
// per symbol with a TTL, so every replica and every tenant sees what any bot's
// chart showed; a symbol nobody charted within advTtl has no ADV and is not
// judged on it.
import { seoulDay } from '../common/kst.js';
import { isStockCode } from '../kiwoom/protocol/index.js';
import type { Store } from '../state/types.js';
import { symbolOf } from './baseline.js';
import type { RiskConfig } from './config.js';
import type { RiskInput } from './types.js';

/** Completed days averaged at most: about a trading month. */
const ADV_DAYS = 20;
/**
 * Days older than this (calendar) are not today's market: a chart asked for a past base_dt would otherwise
 * set the shared volume of a thin name to a busier season's, and let a large buy of it pass.
 */
const ADV_MAX_AGE_DAYS = 45;

const advKey = (symbol: string): string => `risk:adv:${symbol}`;

/** One day of a daily chart: its Seoul date (YYYYMMDD) and the shares traded. */
export interface DailyVolume {
  readonly day: string;
  readonly shares: number;
}

/**
 * The mean volume of the chart's most recent completed days (today's row is partial) of the last
 * ADV_MAX_AGE_DAYS, when it has at least `advMinDays` of them; undefined otherwise.
 */
export function averageDailyVolume(days: readonly DailyVolume[], nowMs: number, minDays: number): number | undefined {
  const today = seoulDay(nowMs);
  const oldest = seoulDay(nowMs - ADV_MAX_AGE_DAYS * 86_400_000);
  const done = days
    .filter((d) => /^\d{8}$/.test(d.day) && d.day < today && d.day >= oldest && Number.isFinite(d.shares) && d.shares >= 0)
    .sort((a, b) => (a.day < b.day ? 1 : -1))
    .slice(0, ADV_DAYS);
  if (done.length < minDays) return undefined;
  return done.reduce((a, d) => a + d.shares, 0) / done.length;
}

export async function noteDailyVolume(store: Store, cfg: RiskConfig, stkCd: string, days: readonly DailyVolume[], nowMs: number): Promise<number | undefined> {
  if (!cfg.enabled || cfg.weights.drain === 0) return undefined;
  const symbol = isStockCode(stkCd) ? symbolOf(stkCd) : undefined;
  const adv = symbol ? averageDailyVolume(days, nowMs, cfg.pattern.advMinDays) : undefined;
  if (symbol === undefined || adv === undefined) return undefined;
  await store.set(advKey(symbol), String(Math.round(adv)), cfg.pattern.advTtlMs);
  return adv;
}

/** The learned ADV of a buy's symbol (drain judges buys only); undefined when none or not needed. */
export async function advOf(store: Store, cfg: RiskConfig, input: RiskInput): Promise<number | undefined> {
  // Every call is assessed; only a buy reads the store.
  if (input.kind !== 'order' || input.side !== 'buy' || input.symbolAdv !== undefined || cfg.weights.drain === 0) return input.symbolAdv;
  const symbol = symbolOf(input.stkCd);
  if (!symbol) return undefined;
  const raw = await store.get(advKey(symbol));
  const adv = raw === null ? NaN : Number(raw);
  return Number.isFinite(adv) && adv >= 0 ? adv : undefined;
}
