// The simulator's realtime payloads: REAL frames for 0B (주식체결), 0D
// (주식호가잔량), 00 (주문체결), 04 (잔고) and 02 (조건검색). Pure builders,
// no I/O; ws.ts decides who gets them.
//
// Field numbers and value formats follow Kiwoom's own material:
//  - Kiwoom-Securities/Kiwoom-REST-API kiwoom/core/fid.py (FID number -> name
//    per REAL type) and the response examples in kiwoom/_data/kiwoom_api_spec.json
//    (e.g. 0B: '20':'165208','10':'-20800','11':'-50','12':'-0.24','15':'+82',
//    '13':'30379732','25':'5','9081':'1'; 00: '913':'접수','905':'+매수',
//    '906':'시장가','907':'2','2134':'1','2135':'KRX'; 04 is named '현물잔고').
//  - 9001 in 00/04 carries the 'A' prefix ('A005930') as captured by client
//    fixtures on GitHub; Kiwoom's spec example shows '005930'. The item field
//    is the plain code either way.
//  - 02 values 841/9001/843/20 as in Kiwoom's condition-search example and
//    clients' fixtures ({'841':'1','9001':'001210','843':'D','20':'095654'}).

import { baseCode, formatHhmmss, tradeTypeName } from '../kiwoom/protocol/index.js';
import type { BookEvent } from './book.js';
import { signedPrice, signedRate } from './format.js';
import type { SimOrder } from './types.js';

export type RealValues = Record<string, string>;

export interface RealEntry {
  readonly type: string;
  readonly name: string;
  readonly item: string;
  readonly values: RealValues;
}

export interface RealFrame {
  readonly trnm: 'REAL';
  readonly data: readonly RealEntry[];
}

/** The `name` Kiwoom puts on each pushed type. */
export const REAL_NAMES: Readonly<Record<string, string>> = {
  '00': '주문체결',
  '04': '현물잔고',
  '0B': '주식체결',
  '0D': '주식호가잔량',
  '02': '조건검색',
};

export function realFrame(type: string, item: string, values: RealValues): RealFrame {
  return { trnm: 'REAL', data: [{ type, name: REAL_NAMES[type] ?? type, item, values }] };
}

/** What the builders read about a stock (market.ts's Instrument). */
export interface Quote {
  readonly name: string;
  readonly previousClose: number;
  readonly price: number;
}

/** KRX tick size for a price (the table in force since 2023). */
export function tickSize(price: number): number {
  if (price < 2000) return 1;
  if (price < 5000) return 5;
  if (price < 20_000) return 10;
  if (price < 50_000) return 50;
  if (price < 200_000) return 100;
  if (price < 500_000) return 500;
  return 1000;
}

/** Kiwoom's 전일대비기호: 1 upper limit, 2 up, 3 flat, 4 lower limit, 5 down. */
function signCode(price: number, previousClose: number): string {
  if (price >= Math.round(previousClose * 1.3)) return '1';
  if (price <= Math.round(previousClose * 0.7)) return '4';
  if (price > previousClose) return '2';
  if (price < previousClose) return '5';
  return '3';
}

function signedDelta(n: number): string {
  const v = Math.round(n);
  return v > 0 ? `+${v}` : String(v);
}

const hhmmss = (now: number): string => formatHhmmss(now);

/** Per-stock day state that 0B needs and market.ts does not keep. */
interface Tape {
  open: number;
  high: number;
  low: number;
  volume: number;
  value: number;
}

/**
 * The simulated tape: volumes, open/high/low per stock, and a seeded
 * pseudo-random source (mulberry32) so timer-driven trades are repeatable.
 */
export class TradeTape {
  private readonly tapes = new Map<string, Tape>();
  private state: number;

  constructor(private readonly seed = 0x5eed) {
    this.state = seed;
  }

  clear(): void {
    this.tapes.clear();
    this.state = this.seed;
  }

  /** A number in [0, 1). */
  random(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** The next simulated price: one tick up, down or unchanged, inside the ±30 % daily band. */
  walk(quote: Quote): number {
    const r = this.random();
    const step = r < 0.4 ? -1 : r < 0.8 ? 1 : 0;
    const next = quote.price + step * tickSize(quote.price);
    const upper = Math.round(quote.previousClose * 1.3);
    const lower = Math.round(quote.previousClose * 0.7);
    return Math.min(upper, Math.max(lower, next));
  }

  /** Records a trade; returns the stock's day state after it. */
  trade(code: string, price: number, qty: number): Readonly<Tape> {
    const key = baseCode(code);
    const tape = this.tapes.get(key) ?? { open: price, high: price, low: price, volume: 0, value: 0 };
    tape.high = Math.max(tape.high, price);
    tape.low = Math.min(tape.low, price);
    tape.volume += qty;
    tape.value += qty * price;
    this.tapes.set(key, tape);
    return tape;
  }

  /** Shares traded today in a stock (0 before its first trade). */
  volume(code: string): number {
    return this.tapes.get(baseCode(code))?.volume ?? 0;
  }

  /** Traded quantity of the next simulated trade, 1..100 shares, and its side (true = buyer-initiated). */
  nextTrade(): { qty: number; buy: boolean } {
    return { qty: 1 + Math.floor(this.random() * 100), buy: this.random() < 0.5 };
  }
}

/** REAL 0B (주식체결) values for one trade. */
export function stockTrade(quote: Quote, tape: Readonly<Tape>, qty: number, buy: boolean, now: number): RealValues {
  const { price, previousClose } = quote;
  const tick = tickSize(price);
  return {
    20: hhmmss(now),
    10: signedPrice(price, previousClose),
    11: signedDelta(price - previousClose),
    12: signedRate(((price - previousClose) / previousClose) * 100),
    27: signedPrice(price + tick, previousClose),
    28: signedPrice(price, previousClose),
    15: `${buy ? '+' : '-'}${qty}`,
    13: String(tape.volume),
    14: String(Math.round(tape.value / 1_000_000)),
    16: signedPrice(tape.open, previousClose),
    17: signedPrice(tape.high, previousClose),
    18: signedPrice(tape.low, previousClose),
    25: signCode(price, previousClose),
    228: '100.00',
    290: '2',
    9081: '1',
  };
}

/** REAL 0D (주식호가잔량) values: ten levels each side around the current price. */
export function orderBookLevels(quote: Quote, now: number): RealValues {
  const { price, previousClose } = quote;
  const tick = tickSize(price);
  const values: RealValues = { 21: hhmmss(now) };
  let asks = 0;
  let bids = 0;
  for (let i = 0; i < 10; i++) {
    const askQty = 100 * (i + 1);
    const bidQty = 100 * (10 - i);
    values[String(41 + i)] = signedPrice(price + tick * (i + 1), previousClose);
    values[String(51 + i)] = signedPrice(Math.max(tick, price - tick * i), previousClose);
    values[String(61 + i)] = String(askQty);
    values[String(71 + i)] = String(bidQty);
    values[String(81 + i)] = '0';
    values[String(91 + i)] = '0';
    asks += askQty;
    bids += bidQty;
  }
  values['121'] = String(asks);
  values['122'] = '0';
  values['125'] = String(bids);
  values['126'] = '0';
  values['128'] = signedDelta(bids - asks);
  values['138'] = signedDelta(asks - bids);
  values['215'] = '2';
  return values;
}

/** new, modify or cancel, told apart by the snapshot the book sends. */
function orderKind(o: SimOrder): 'new' | 'modify' | 'cancel' {
  if (o.origOrdNo === '0000000') return 'new';
  if (o.status === 'cancelled' || (o.status === 'open' && o.openQty === 0 && o.filledQty === 0)) return 'cancel';
  return 'modify';
}

/** 주문구분 (905) as Kiwoom spells it. */
function orderLabel(o: SimOrder): string {
  const kind = orderKind(o);
  if (kind === 'cancel') return o.side === 'buy' ? '매수취소' : '매도취소';
  const base = o.side === 'buy' ? '+매수' : '-매도';
  return kind === 'modify' ? `${base}정정` : base;
}

/** 2134/2135/2136: exchange code, name and whether smart order routing placed it (SOR orders are shown filled on KRX). */
function venue(o: SimOrder): [string, string, string] {
  if (o.exchange === 'NXT') return ['2', 'NXT', 'N'];
  return ['1', 'KRX', o.exchange === 'SOR' ? 'Y' : 'N'];
}

const ORDER_STATUS: Readonly<Record<BookEvent['kind'], string>> = { accepted: '접수', filled: '체결', confirmed: '확인' };

/** REAL 00 (주문체결) values for a book event; `fillNo` names the fill for 'filled' events. */
export function orderFill(event: BookEvent, quote: Quote | undefined, fillNo: string, now: number): RealValues {
  const o = event.order;
  const code = baseCode(o.stkCd);
  const current = quote?.price ?? o.price;
  const prev = quote?.previousClose ?? current;
  const filled = event.kind === 'filled' && event.fill !== undefined;
  const [exCode, exName, sor] = venue(o);
  return {
    9201: event.accountNo,
    9203: o.ordNo,
    9205: '',
    9001: `A${code}`,
    912: 'JJ',
    913: ORDER_STATUS[event.kind],
    302: quote?.name ?? code,
    900: String(o.qty),
    901: String(o.price),
    902: String(o.openQty),
    903: String(o.filledQty * o.fillPrice),
    904: o.origOrdNo,
    905: orderLabel(o),
    906: tradeTypeName(o.trdeTp) ?? o.trdeTp,
    907: o.side === 'buy' ? '2' : '1',
    908: hhmmss(now),
    909: filled ? fillNo : '',
    910: filled ? String(event.fill?.price) : '',
    911: filled ? String(o.filledQty) : '',
    10: signedPrice(current, prev),
    27: signedPrice(current + tickSize(current), prev),
    28: signedPrice(current, prev),
    914: filled ? String(event.fill?.price) : '',
    915: filled ? String(event.fill?.qty) : '',
    938: '0',
    939: '0',
    919: '0',
    920: '',
    921: '',
    922: '00',
    923: '00000000',
    10010: '',
    2134: exCode,
    2135: exName,
    2136: sor,
  };
}

/** What 04 (잔고) reports about one holding after a fill. */
export interface BalanceFacts {
  readonly accountNo: string;
  readonly stkCd: string;
  /** 0 once the holding is sold out. */
  readonly qty: number;
  readonly avgPrice: number;
  /** Shares not already offered by open sell orders. */
  readonly orderable: number;
  /** Today's bought minus sold shares of this stock. */
  readonly netBoughtToday: number;
  readonly side: 'buy' | 'sell';
}

/** REAL 04 (잔고) values. */
export function balance(facts: BalanceFacts, quote: Quote | undefined): RealValues {
  const code = baseCode(facts.stkCd);
  const current = quote?.price ?? Math.round(facts.avgPrice);
  const prev = quote?.previousClose ?? current;
  return {
    9201: facts.accountNo,
    9001: `A${code}`,
    917: '00',
    916: '00000000',
    302: quote?.name ?? code,
    10: signedPrice(current, prev),
    930: String(facts.qty),
    931: String(Math.round(facts.avgPrice)),
    932: String(Math.round(facts.avgPrice * facts.qty)),
    933: String(Math.max(0, facts.orderable)),
    945: String(facts.netBoughtToday),
    946: facts.side === 'buy' ? '2' : '1',
    950: '0',
    951: '0',
    27: signedPrice(current + tickSize(current), prev),
    28: signedPrice(current, prev),
    307: String(prev),
    8019: '0.00',
    957: '0',
    958: '0',
    918: '00000000',
    990: '0',
    991: '0.00',
    992: '0',
    993: '0.00',
    959: '0',
    924: '0',
  };
}

/** REAL 02 (조건검색) values: stock `code` entered (I) or left (D) condition `seq`. */
export function conditionHit(seq: string, code: string, kind: 'I' | 'D', now: number): RealValues {
  return { 841: seq, 9001: code, 843: kind, 20: hhmmss(now) };
}
