// Market data for rules, with a short-lived reference price cache, a
// deadline on every call, and failures turned into `null` (rules fail closed).
import type { Counter } from 'prom-client';
import { quoteCode } from '../kiwoom/protocol/index.js';
import { NEEDS_HELD_QUANTITY, NEEDS_OPEN_ORDERS, NEEDS_REFERENCE_PRICE, type MarketSnapshot } from './compiled.js';
import type { CallFacts } from './facts.js';
import type { MarketData } from './types.js';

export interface MarketFetcherOptions {
  market: MarketData;
  ttlMs: number;
  cacheSize: number;
  timeoutMs: number;
  now: () => number;
  errors: Counter<'source'>;
  onError: (source: string, err: unknown) => void;
}

/** Runs call with a deadline; at the deadline the call is also aborted, so no fetch (key unwrap, token issue) outlives the decision. */
function withDeadline<T>(call: (signal: AbortSignal) => Promise<T>, ms: number): Promise<T> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(new Error(`market data call exceeded ${ms} ms`));
    }, ms);
  });
  return Promise.race([Promise.resolve().then(() => call(abort.signal)), deadline]).finally(() => clearTimeout(timer));
}

export interface MarketFetcher {
  fetch(needs: number, f: CallFacts): Promise<MarketSnapshot>;
  /** The symbol's reference price on a venue (dmst_stex_tp) through the same cache, deadline and error counting (null: cannot tell). */
  referencePrice(botId: string, symbol: string, venue: string | undefined): Promise<number | null>;
  clear(): void;
}

export function createMarketFetcher(o: MarketFetcherOptions): MarketFetcher {
  const cache = new Map<string, { price: number; expires: number }>();
  const inflight = new Map<string, Promise<number | null>>();

  const guarded = async <T>(source: string, call: (signal: AbortSignal) => Promise<unknown>, valid: (v: unknown) => v is T): Promise<T | null> => {
    try {
      const v = await withDeadline(call, o.timeoutMs);
      if (v === undefined) return null;
      if (!valid(v)) throw new Error(`market data ${source} returned an invalid value`);
      return v;
    } catch (err) {
      o.errors.inc({ source });
      o.onError(source, err);
      return null;
    }
  };
  const isPrice = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;
  const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

  const referencePrice = (botId: string, symbol: string | undefined): Promise<number | null> | number | null => {
    if (symbol === undefined) return null;
    const hit = cache.get(symbol);
    const t = o.now();
    if (hit !== undefined && hit.expires > t) return hit.price;
    const running = inflight.get(symbol);
    if (running) return running;
    const p = guarded('reference_price', (signal) => o.market.referencePrice(botId, symbol, signal), isPrice).then((price) => {
      inflight.delete(symbol);
      if (price !== null && o.ttlMs > 0) {
        if (cache.size >= o.cacheSize) cache.delete(cache.keys().next().value!); // oldest first
        cache.set(symbol, { price, expires: o.now() + o.ttlMs });
      }
      return price;
    });
    inflight.set(symbol, p);
    return p;
  };

  return {
    async fetch(needs, f) {
      const snap: MarketSnapshot = {};
      const tasks: Promise<unknown>[] = [];
      if (needs & NEEDS_REFERENCE_PRICE) {
        // The order's own venue's quote: outside KRX hours the KRX one is the close while NXT trades on.
        const r = referencePrice(f.botId, f.symbol === undefined ? undefined : quoteCode(f.symbol, f.market));
        if (r instanceof Promise)
          tasks.push(
            r.then((v) => {
              snap.referencePrice = v;
            }),
          );
        else snap.referencePrice = r;
      }
      if (needs & NEEDS_HELD_QUANTITY) {
        if (f.symbol === undefined) snap.heldQuantity = null;
        else
          tasks.push(
            guarded('held_quantity', (signal) => o.market.heldQuantity(f.botId, f.account, f.symbol!, signal), isCount).then((v) => {
              snap.heldQuantity = v;
            }),
          );
      }
      if (needs & NEEDS_OPEN_ORDERS) {
        tasks.push(
          guarded('open_orders', (signal) => o.market.openOrderCount(f.botId, f.account, signal), isCount).then((v) => {
            snap.openOrders = v;
          }),
        );
      }
      if (tasks.length > 0) await Promise.all(tasks);
      return snap;
    },
    referencePrice: async (botId, symbol, venue) => referencePrice(botId, quoteCode(symbol, venue)),
    clear() {
      cache.clear();
    },
  };
}
