// Accounts, holdings and the order book. Orders follow Kiwoom's model: every
// new, modify and cancel gets its own 7-digit order number; a modify or cancel
// takes quantity away from the order it names.

import type { SimHolding, SimOrder, SimOrderStatus } from './types.js';
import { orderNumber } from './format.js';
import { baseCode } from '../kiwoom/protocol/index.js';
import type { Market } from './market.js';
import { KiwoomReply, SimError, orderRejected } from './responses.js';

export const DEFAULT_CASH = 100_000_000;

// trde_tp codes (kiwoom/protocol/trade-types.ts). Market-type codes fill at
// once at the quote; limit IOC/FOK codes (gold's 10 and 20 too) fill at once
// when marketable and are killed otherwise; every other code rests in the book.
// The closing-price orders (61 장시작전시간외, 81 장마감후시간외) take no price, as
// Kiwoom's order documentation says of them and of market orders; they fill at
// the quote, the simulator's close.
const MARKET_TYPES = new Set(['3', '6', '7', '13', '16', '23', '26', '61', '81']);
const IMMEDIATE_LIMIT_TYPES = new Set(['10', '20', '30', '31']);

export function isMarketType(trdeTp: string): boolean {
  return MARKET_TYPES.has(trdeTp);
}

type MutableOrder = { -readonly [K in keyof SimOrder]: SimOrder[K] };

interface Position {
  qty: number;
  avgPrice: number;
}

function checkHoldings(holdings: readonly SimHolding[]): void {
  for (const h of holdings) {
    if (typeof h.stkCd !== 'string' || !/^[0-9A-Z]{6,9}$/.test(h.stkCd)) throw new SimError(`bad holding code: ${JSON.stringify(h.stkCd)}`);
    if (!Number.isSafeInteger(h.qty) || h.qty <= 0) throw new SimError(`holding qty must be a positive integer: ${h.stkCd}`);
    if (!Number.isFinite(h.avgPrice) || h.avgPrice <= 0) throw new SimError(`holding avgPrice must be positive: ${h.stkCd}`);
  }
}

export class Account {
  cash: number;
  readonly holdings = new Map<string, Position>();
  readonly orders: MutableOrder[] = [];

  constructor(
    readonly accountNo: string,
    cash: number,
  ) {
    this.cash = cash;
  }

  order(ordNo: string): MutableOrder | undefined {
    return this.orders.find((o) => o.ordNo === ordNo);
  }

  /** Cash not tied up by open buy orders. */
  orderableCash(market: Market): number {
    let reserved = 0;
    for (const o of this.orders) {
      if (o.status === 'open' && o.side === 'buy') reserved += o.openQty * (o.price || (market.price(o.stkCd) ?? 0));
    }
    return this.cash - reserved;
  }

  /** Shares not already offered by open sell orders. */
  sellableQty(stkCd: string): number {
    const held = this.holdings.get(baseCode(stkCd))?.qty ?? 0;
    let offered = 0;
    for (const o of this.orders) if (o.status === 'open' && o.side === 'sell' && baseCode(o.stkCd) === baseCode(stkCd)) offered += o.openQty;
    return held - offered;
  }

  holdingList(): SimHolding[] {
    return [...this.holdings].map(([stkCd, p]) => ({ stkCd, qty: p.qty, avgPrice: p.avgPrice }));
  }
}

export interface NewOrder {
  readonly apiId: string;
  readonly market: SimOrder['market'];
  readonly side: SimOrder['side'];
  readonly stkCd: string;
  readonly exchange: SimOrder['exchange'];
  readonly trdeTp: string;
  readonly qty: number;
  readonly price: number;
}

/**
 * What the book tells listeners (the realtime WebSocket's 00/04 pushes):
 * 'accepted' when an order number is given out (new, modify or cancel),
 * 'filled' after a fill changed the order, the cash and the holding,
 * 'confirmed' when a modify or cancel has taken effect or an IOC/FOK order
 * was killed. `order` is a snapshot taken at that moment.
 */
export interface BookEvent {
  readonly kind: 'accepted' | 'filled' | 'confirmed';
  readonly accountNo: string;
  readonly order: SimOrder;
  /** For 'filled': this fill's quantity and price. */
  readonly fill?: { readonly qty: number; readonly price: number };
}

export type BookListener = (event: BookEvent) => void;

export class OrderBook {
  private readonly accounts = new Map<string, Account>();
  private readonly listeners = new Set<BookListener>();
  private nextOrdNo = 1;

  constructor(private readonly market: Market) {}

  /** Adds a listener; returns the function that removes it. A listener that throws does not disturb the book. */
  listen(listener: BookListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(account: Account, kind: BookEvent['kind'], order: MutableOrder, fill?: BookEvent['fill']): void {
    if (this.listeners.size === 0) return;
    const event: BookEvent = { kind, accountNo: account.accountNo, order: { ...order }, ...(fill ? { fill } : {}) };
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        /* a listener's failure is its own */
      }
    }
  }

  open(accountNo: string, cash: number, holdings: readonly SimHolding[]): Account {
    if (!/^[0-9-]{6,20}$/.test(accountNo)) throw new SimError(`bad account number: ${JSON.stringify(accountNo)}`);
    if (!Number.isSafeInteger(cash) || cash < 0) throw new SimError('cash must be a non-negative integer KRW');
    checkHoldings(holdings);
    const account = new Account(accountNo, cash);
    for (const h of holdings) account.holdings.set(h.stkCd, { qty: h.qty, avgPrice: h.avgPrice });
    this.accounts.set(accountNo, account);
    return account;
  }

  /** Replaces an account's holdings (a test or replay playing the market); its orders and cash stay. */
  setHoldings(accountNo: string, holdings: readonly SimHolding[]): void {
    const account = this.accounts.get(accountNo);
    if (!account) throw new SimError(`unknown account: ${JSON.stringify(accountNo)}`);
    checkHoldings(holdings);
    account.holdings.clear();
    for (const h of holdings) account.holdings.set(baseCode(h.stkCd), { qty: h.qty, avgPrice: h.avgPrice });
  }

  get(accountNo: string): Account | undefined {
    return this.accounts.get(accountNo);
  }

  clear(): void {
    this.accounts.clear();
    this.nextOrdNo = 1;
  }

  place(account: Account, req: NewOrder, now: number): MutableOrder {
    const quote = this.market.price(req.stkCd);
    if (quote === undefined) throw orderRejected('505216', '종목코드를 확인하십시오');
    const marketType = isMarketType(req.trdeTp);
    const cost = req.qty * (marketType ? quote : req.price);
    if (req.side === 'buy' && cost > account.orderableCash(this.market)) throw orderRejected('800033', '주문가능금액을 확인하십시오');
    if (req.side === 'sell' && req.qty > account.sellableQty(req.stkCd)) throw orderRejected('800043', '매도가능수량이 부족합니다');
    const order = this.record(account, { ...req, origOrdNo: '0000000', openQty: req.qty }, now);
    if (marketType) this.fill(account, order, quote);
    else if (IMMEDIATE_LIMIT_TYPES.has(req.trdeTp)) {
      const marketable = req.side === 'buy' ? req.price >= quote : req.price <= quote;
      if (marketable) this.fill(account, order, quote);
      else {
        this.close(order, 'killed');
        this.emit(account, 'confirmed', order);
      }
    }
    return order;
  }

  /** Re-prices `qty` of an open order: a new order number carries it, the original shrinks. */
  modify(account: Account, origOrdNo: string, stkCd: string, qty: number, price: number, now: number): { order: MutableOrder; base: string } {
    const orig = this.openOrder(account, origOrdNo, stkCd);
    if (qty > orig.openQty) throw orderRejected('505218', '정정가능수량을 초과하였습니다');
    orig.openQty -= qty;
    if (orig.openQty === 0) this.close(orig, 'replaced');
    const order = this.followUp(account, orig, qty, price, qty, now);
    this.emit(account, 'confirmed', order);
    return { order, base: this.root(account, orig) };
  }

  /** Cancels `qty` (0 = all remaining) of an open order. */
  cancel(account: Account, origOrdNo: string, stkCd: string, qty: number, now: number): { order: MutableOrder; base: string; cancelled: number } {
    const orig = this.openOrder(account, origOrdNo, stkCd);
    const cancelled = qty === 0 ? orig.openQty : qty;
    if (cancelled > orig.openQty) throw orderRejected('505219', '취소가능수량을 초과하였습니다');
    orig.openQty -= cancelled;
    if (orig.openQty === 0) this.close(orig, 'cancelled');
    const order = this.followUp(account, orig, cancelled, orig.price, 0, now);
    this.close(order, 'cancelled');
    this.emit(account, 'confirmed', order);
    return { order, base: this.root(account, orig), cancelled };
  }

  /** A modify or cancel is its own order, on the same stock, side and venue as the one it acts on. */
  private followUp(account: Account, orig: MutableOrder, qty: number, price: number, openQty: number, now: number): MutableOrder {
    const { apiId, market, side, stkCd, exchange, trdeTp } = orig;
    return this.record(account, { apiId, market, side, stkCd, exchange, trdeTp, qty, price, origOrdNo: orig.ordNo, openQty }, now);
  }

  private openOrder(account: Account, ordNo: string, stkCd: string): MutableOrder {
    const orig = account.order(ordNo);
    if (!orig) throw orderRejected('505208', '원주문번호가 존재하지 않습니다');
    if (baseCode(orig.stkCd) !== baseCode(stkCd)) throw orderRejected('505209', '원주문의 종목코드와 일치하지 않습니다');
    if (orig.status !== 'open' || orig.openQty === 0) throw orderRejected('505210', '정정/취소 가능한 미체결 주문이 없습니다');
    return orig;
  }

  private root(account: Account, order: MutableOrder): string {
    let cur = order;
    for (let guard = 0; cur.origOrdNo !== '0000000' && guard < 1000; guard++) {
      const parent = account.order(cur.origOrdNo);
      if (!parent) break;
      cur = parent;
    }
    return cur.ordNo;
  }

  private record(account: Account, o: Omit<MutableOrder, 'ordNo' | 'filledQty' | 'fillPrice' | 'status' | 'time'>, now: number): MutableOrder {
    const order: MutableOrder = { ...o, ordNo: orderNumber(this.nextOrdNo++), filledQty: 0, fillPrice: 0, status: 'open', time: now };
    account.orders.push(order);
    this.emit(account, 'accepted', order);
    return order;
  }

  private close(order: MutableOrder, status: SimOrderStatus): void {
    order.status = status;
  }

  private fill(account: Account, order: MutableOrder, price: number): void {
    const qty = order.openQty;
    const code = baseCode(order.stkCd);
    const pos = account.holdings.get(code) ?? { qty: 0, avgPrice: 0 };
    if (order.side === 'buy') {
      account.cash -= qty * price;
      pos.avgPrice = (pos.avgPrice * pos.qty + price * qty) / (pos.qty + qty);
      pos.qty += qty;
      account.holdings.set(code, pos);
    } else {
      account.cash += qty * price;
      pos.qty -= qty;
      if (pos.qty <= 0) account.holdings.delete(code);
    }
    order.filledQty += qty;
    order.fillPrice = price;
    order.openQty = 0;
    order.status = 'filled';
    this.emit(account, 'filled', order, { qty, price });
  }

  /** Fills resting limit orders whose price the new quote has reached. */
  matchResting(price: number, stkCd: string): void {
    for (const account of this.accounts.values()) {
      for (const o of account.orders) {
        if (o.status !== 'open' || baseCode(o.stkCd) !== baseCode(stkCd)) continue;
        const reached = o.side === 'buy' ? price <= o.price : price >= o.price;
        if (reached) this.fill(account, o, o.price);
      }
    }
  }
}

export type { MutableOrder };
export { KiwoomReply };
