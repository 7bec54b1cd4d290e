// The orders the sidecar forwarded today, by account and order number: what a
// modify (kt10002 정정) is charged against. A modify re-prices mdfy_qty shares
// of the order it names; Kiwoom gives the modify its own order number and the
// original keeps what is left (see the simulator's book). So daily notional
// caps charge a modify by the notional it adds over the order it modifies,
// which needs that order's price, side and remaining quantity: recorded from
// each accepted order, modify and cancel before the bot has the broker's answer
// (recordOrder, from the forward stage), in one Store hash per
// account and Seoul day that expires at Seoul midnight, and at most
// `maxOrderRecords` orders per account and day. An order never recorded
// (placed before the sidecar, past the bound, or expired) reads as null, and
// the cap then charges the modify's whole notional (fail safe). The same
// record gives a modify or cancel its side (`when.sides`): the side of the
// order it names; an order never recorded leaves it unknown, and rules on
// either side judge the call (fail closed).
import { KEY_PREFIX, type OrderTerms } from './compiled.js';
import { callFacts, type CallFacts } from './facts.js';
import type { PolicyCall } from './types.js';
import { msUntilSeoulMidnight } from '../kiwoom/protocol/index.js';
import type { Store } from '../state/types.js';

function recordKey(account: string, day: string): string {
  return `${KEY_PREFIX}ord:${account}:${day}`;
}

/** Order numbers come zero-padded ('0000138'); a bot may name one without the padding. */
function field(ordNo: string): string {
  return ordNo.replace(/^0+(?=.)/, '');
}

const SIDE_CODE = { buy: 'b', sell: 's' } as const;

function encode(t: OrderTerms): string {
  return `${t.qty}:${t.price}:${t.side ? SIDE_CODE[t.side] : '-'}${t.symbol ? `:${t.symbol}` : ''}`;
}

function decode(v: string | null): OrderTerms | null {
  if (v === null) return null;
  const [q, p, s, symbol] = v.split(':');
  const qty = Number(q);
  const price = Number(p);
  // Anything unreadable is an order never seen: the modify is charged in full.
  if (!Number.isSafeInteger(qty) || qty < 0 || !Number.isFinite(price) || price < 0) return null;
  return { qty, price, side: s === 'b' ? 'buy' : s === 's' ? 'sell' : undefined, ...(symbol ? { symbol } : {}) };
}

/** The recorded terms of the order a modify names (f.origOrderNo); null when there is none. */
export async function originalOrder(store: Store, f: Pick<CallFacts, 'account' | 'day' | 'origOrderNo'>): Promise<OrderTerms | null> {
  if (f.origOrderNo === undefined) return null;
  return decode(await store.hget(recordKey(f.account, f.day), field(f.origOrderNo)));
}

/** For a modify or cancel: the recorded terms of the order it names (PolicyCall.original; null: none); undefined for any other call. */
export async function orderNamedBy(store: Store, call: PolicyCall, now: number): Promise<OrderTerms | null | undefined> {
  const kind = call.entry?.kind;
  if (kind !== 'modify' && kind !== 'cancel') return undefined;
  return originalOrder(store, callFacts(call, now));
}

/** What recordOrder knows of an accepted order, modify or cancel. */
export interface AcceptedCall {
  readonly f: Pick<CallFacts, 'account' | 'day' | 't' | 'kind' | 'side' | 'quantity' | 'limitPrice' | 'origOrderNo' | 'symbol'>;
  /** The broker's ord_no for this call. */
  readonly orderNo: string;
  /** The price a market-priced order was judged at (the decision's reference price); 0 when none. */
  readonly referencePrice: number | undefined;
}

/**
 * Records an accepted call's effect on the book: a new order is recorded; a modify is recorded under its own
 * number (the original's side, its own quantity and price) and takes its quantity from the original; a cancel
 * takes its quantity (0 = all) from the original. Not atomic: two calls on one order at once may leave the
 * original's remaining quantity too high, which only ever charges a later modify more, never less (the broker
 * refuses a modify of more than remains).
 */
export async function recordAccepted(store: Store, call: AcceptedCall, maxOrderRecords: number): Promise<void> {
  const { f } = call;
  const key = recordKey(f.account, f.day);
  const ttl = msUntilSeoulMidnight(f.t);
  const qty = f.quantity;
  if (qty === undefined || Number.isNaN(qty)) return;
  const original = f.kind === 'order' ? null : await originalOrder(store, f);
  if (original !== null && f.origOrderNo !== undefined) {
    const taken = f.kind === 'cancel' && qty === 0 ? original.qty : Math.min(qty, original.qty);
    await store.hset(key, field(f.origOrderNo), encode({ ...original, qty: original.qty - taken }), ttl);
  }
  if (f.kind === 'cancel') return;
  // The bound: a record past it is not kept, and a modify of that order is charged in full.
  if ((await store.incr(`${key}:n`, 1, ttl)) > maxOrderRecords) return;
  const price = f.limitPrice !== undefined && !Number.isNaN(f.limitPrice) ? f.limitPrice : (call.referencePrice ?? 0);
  const side = f.kind === 'order' ? f.side : original?.side;
  // A modify's own record keeps the stock of the order it modified (the broker's, whatever stk_cd it named).
  const symbol = (f.kind === 'order' ? undefined : original?.symbol) ?? f.symbol;
  await store.hset(key, field(call.orderNo), encode({ qty, price, side, ...(symbol ? { symbol } : {}) }), ttl);
}
