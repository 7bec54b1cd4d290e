// The size envelope of a bot's new buys (order_size judges a buy above it): the largest learned, by quantity and by
// KRW, with a new high held back until the next Seoul day so one outsized buy does not raise its own bar.
import { seoulParts } from '../kiwoom/protocol/index.js';
import type { RiskInput } from './types.js';

/**
 * The largest buys learned. A buy above them joins them only from the next Seoul day on (pending until then):
 * an insider repeating an outsized buy must not raise the bar with the first one, and the day's count of buys
 * above the bar is what order_size reads as a repeat.
 */
export interface BuyEnvelope {
  orders: number;
  maxQty: number;
  maxNotional: number;
  /** The Seoul day the pending maxima and the count below belong to. */
  day?: string;
  /** Buys above the envelope learned that day. */
  above?: number;
  pendingQty?: number;
  pendingNotional?: number;
}

/** The envelope as it stands on `day`: earlier days' pending maxima folded in, that day's count of buys above it. */
export function envelopeOn(e: BuyEnvelope, day: string): { maxQty: number; maxNotional: number; above: number } {
  if (e.day === day) return { maxQty: e.maxQty, maxNotional: e.maxNotional, above: e.above ?? 0 };
  return { maxQty: Math.max(e.maxQty, e.pendingQty ?? 0), maxNotional: Math.max(e.maxNotional, e.pendingNotional ?? 0), above: 0 };
}

/**
 * How far a buy is above the envelope: the larger of its quantity over the largest (plus one share) and its KRW
 * over the largest (plus one share's price). 1 or less is within.
 */
export function envelopeRatio(env: { maxQty: number; maxNotional: number }, qty: number | undefined, notional: number | undefined, price: number | undefined) {
  const byQty = qty !== undefined && env.maxQty > 0 ? qty / (env.maxQty + 1) : 0;
  const slack = price ?? (notional !== undefined && qty ? notional / qty : 0);
  const byKrw = notional !== undefined && env.maxNotional > 0 ? notional / (env.maxNotional + slack) : 0;
  return { byQty, byKrw, ratio: Math.max(byQty, byKrw) };
}

export function learnBuyEnvelope(
  b: { buyEnvelope?: BuyEnvelope },
  input: Pick<RiskInput, 'qty' | 'price'>,
  notional: number | undefined,
  nowMs: number,
  minOrders: number,
): void {
  b.buyEnvelope ??= { orders: 0, maxQty: 0, maxNotional: 0 };
  const e = b.buyEnvelope;
  const day = seoulParts(nowMs).date;
  if (e.day !== day) {
    const now = envelopeOn(e, day);
    e.maxQty = now.maxQty;
    e.maxNotional = now.maxNotional;
    e.day = day;
    e.above = 0;
    e.pendingQty = 0;
    e.pendingNotional = 0;
  }
  const qty = input.qty ?? 0;
  const krw = notional ?? 0;
  if (e.orders >= minOrders && envelopeRatio(e, input.qty, notional, input.price).ratio > 1) {
    e.above = (e.above ?? 0) + 1;
    e.pendingQty = Math.max(e.pendingQty ?? 0, qty);
    e.pendingNotional = Math.max(e.pendingNotional ?? 0, krw);
  } else {
    e.maxQty = Math.max(e.maxQty, qty);
    e.maxNotional = Math.max(e.maxNotional, krw);
  }
  e.orders += 1;
}
