// TR handlers: orders on the book and the account/quote queries. Each takes
// the parsed body and the account the token speaks for, and returns the body
// plus paging state. Kiwoom sends every value as a string, so do we.

import type { ApiEntry } from '../kiwoom/types.js';
import { type Account, type OrderBook, isMarketType, type MutableOrder } from './book.js';
import { baseCode, formatHhmmss, isStockCode, tradeTypeName, tradeTypesOf } from '../kiwoom/protocol/index.js';
import { dailyChart } from './charts.js';
import { padded, signedAmount, signedPrice, signedRate } from './format.js';
import type { Market } from './market.js';
import { type KiwoomBody, OK_MSG, badField, missingField, orderRejected, unknownStock } from './responses.js';

export type JsonObject = Record<string, unknown>;

export interface PageRequest {
  readonly contYn: boolean;
  readonly nextKey: string;
}

export interface TrContext {
  readonly entry: ApiEntry;
  readonly body: JsonObject;
  readonly account: Account;
  readonly book: OrderBook;
  readonly market: Market;
  readonly now: number;
  readonly pageSize: number;
  /** Rows of a daily chart page. */
  readonly chartDays: number;
  readonly page: PageRequest;
}

export interface TrResult {
  readonly body: KiwoomBody;
  readonly contYn: 'Y' | 'N';
  readonly nextKey: string;
}

const EXCHANGES = new Set(['KRX', 'NXT', 'SOR']);

function optionalString(body: JsonObject, field: string): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw badField(field, '문자열이어야 합니다');
  return v;
}

function requiredString(body: JsonObject, field: string): string {
  const v = optionalString(body, field);
  if (v === undefined || v === '') throw missingField(field);
  return v;
}

function integerField(body: JsonObject, field: string, min: number): number {
  const v = requiredString(body, field);
  if (!/^\d{1,12}$/.test(v)) throw badField(field, '숫자여야 합니다');
  const n = Number(v);
  if (n < min) throw badField(field, `${min} 이상이어야 합니다`);
  return n;
}

function oneOf(body: JsonObject, field: string, allowed: readonly string[], fallback?: string): string {
  const v = fallback === undefined ? requiredString(body, field) : optionalString(body, field) || fallback;
  if (!allowed.includes(v)) throw badField(field, `${allowed.join(', ')} 중 하나여야 합니다`);
  return v;
}

export function stockCode(body: JsonObject, market: Market): string {
  const stkCd = requiredString(body, 'stk_cd');
  if (!isStockCode(stkCd)) throw badField('stk_cd', '종목코드 형식이 아닙니다');
  if (market.price(stkCd) === undefined) throw unknownStock(stkCd);
  return stkCd;
}

function exchangeOf(ctx: TrContext): 'KRX' | 'NXT' | 'SOR' {
  if (ctx.entry.market === 'gold') return 'KRX';
  const v = requiredString(ctx.body, 'dmst_stex_tp');
  if (!EXCHANGES.has(v)) throw badField('dmst_stex_tp', 'KRX, NXT, SOR 중 하나여야 합니다');
  return v as 'KRX' | 'NXT' | 'SOR';
}

// A limit price: Kiwoom rejects a missing one with its 2000 shape.
function limitPrice(body: JsonObject, field: string): number {
  const v = optionalString(body, field);
  if (v === undefined || v === '') throw orderRejected('308003', '주문단가를 입력하십시요');
  if (!/^\d{1,12}$/.test(v) || Number(v) <= 0) throw badField(field, '주문단가는 0보다 큰 숫자여야 합니다');
  return Number(v);
}

export function single(body: KiwoomBody): TrResult {
  return { body, contYn: 'N', nextKey: '' };
}

export function ok(fields: JsonObject): KiwoomBody {
  return { ...fields, return_code: 0, return_msg: OK_MSG };
}

function withExchange(ctx: TrContext, exchange: string, fields: JsonObject): JsonObject {
  return ctx.entry.market === 'gold' ? fields : { ...fields, dmst_stex_tp: exchange };
}

// Orders -----------------------------------------------------------------

export function newOrder(ctx: TrContext): TrResult {
  const exchange = exchangeOf(ctx);
  const stkCd = stockCode(ctx.body, ctx.market);
  const qty = integerField(ctx.body, 'ord_qty', 1);
  const trdeTp = requiredString(ctx.body, 'trde_tp');
  if (!tradeTypesOf(ctx.entry.market ?? 'stock').has(trdeTp)) throw badField('trde_tp', '매매구분 코드가 아닙니다');
  const price = isMarketType(trdeTp) ? 0 : limitPrice(ctx.body, 'ord_uv');
  const order = ctx.book.place(
    ctx.account,
    {
      apiId: ctx.entry.apiId,
      market: ctx.entry.market ?? 'stock',
      side: ctx.entry.side ?? 'buy',
      stkCd,
      exchange,
      trdeTp,
      qty,
      price,
    },
    ctx.now,
  );
  return single(ok(withExchange(ctx, exchange, { ord_no: order.ordNo })));
}

function originalOrder(body: JsonObject): string {
  const v = requiredString(body, 'orig_ord_no');
  if (!/^\d{7}$/.test(v)) throw badField('orig_ord_no', '7자리 주문번호여야 합니다');
  return v;
}

export function modifyOrder(ctx: TrContext): TrResult {
  const exchange = exchangeOf(ctx);
  const orig = originalOrder(ctx.body);
  const stkCd = stockCode(ctx.body, ctx.market);
  const qty = integerField(ctx.body, 'mdfy_qty', 1);
  const price = limitPrice(ctx.body, 'mdfy_uv');
  sameVenue(ctx, orig, exchange);
  const { order, base } = ctx.book.modify(ctx.account, orig, stkCd, qty, price, ctx.now);
  return single(ok(withExchange(ctx, exchange, { ord_no: order.ordNo, base_orig_ord_no: base, mdfy_qty: padded(qty, 12) })));
}

export function cancelOrder(ctx: TrContext): TrResult {
  const exchange = exchangeOf(ctx);
  const orig = originalOrder(ctx.body);
  const stkCd = stockCode(ctx.body, ctx.market);
  const qty = integerField(ctx.body, 'cncl_qty', 0);
  sameVenue(ctx, orig, exchange);
  const { order, base, cancelled } = ctx.book.cancel(ctx.account, orig, stkCd, qty, ctx.now);
  return single(ok(withExchange(ctx, exchange, { ord_no: order.ordNo, base_orig_ord_no: base, cncl_qty: padded(cancelled, 12) })));
}

// Paging -----------------------------------------------------------------

/** Slices rows for the page asked for; next-key is `<api-id>-<offset>`. */
export function paginate<T>(ctx: TrContext, rows: readonly T[]): { rows: readonly T[]; contYn: 'Y' | 'N'; nextKey: string } {
  let offset = 0;
  if (ctx.page.contYn) {
    const m = /^([A-Za-z0-9]+)-(\d{1,9})$/.exec(ctx.page.nextKey);
    if (!m || m[1] !== ctx.entry.apiId || Number(m[2]) > rows.length) throw badField('next-key', '연속조회키가 올바르지 않습니다');
    offset = Number(m[2]);
  }
  const end = offset + ctx.pageSize;
  const more = end < rows.length;
  return { rows: rows.slice(offset, end), contYn: more ? 'Y' : 'N', nextKey: more ? `${ctx.entry.apiId}-${end}` : '' };
}

// Account queries --------------------------------------------------------

export function accountNumber(ctx: TrContext): TrResult {
  return single(ok({ acctNo: ctx.account.accountNo }));
}

export function deposit(ctx: TrContext): TrResult {
  oneOf(ctx.body, 'qry_tp', ['2', '3']);
  const cash = ctx.account.cash;
  const orderable = ctx.account.orderableCash(ctx.market);
  return single(
    ok({
      entr: signedAmount(cash),
      profa_ch: signedAmount(0),
      ord_alow_amt: signedAmount(orderable),
      pymn_alow_amt: signedAmount(cash),
      d1_entra: signedAmount(cash),
      d2_entra: signedAmount(cash),
      stk_entr_prst: [],
    }),
  );
}

export function balance(ctx: TrContext): TrResult {
  oneOf(ctx.body, 'qry_tp', ['1', '2']);
  const exchange = requiredString(ctx.body, 'dmst_stex_tp');
  if (!EXCHANGES.has(exchange)) throw badField('dmst_stex_tp', 'KRX, NXT, SOR 중 하나여야 합니다');
  let totalPurchase = 0;
  let totalValue = 0;
  const rows = [...ctx.account.holdings].map(([code, pos]) => {
    const inst = ctx.market.instrument(code);
    const cur = inst?.price ?? pos.avgPrice;
    const purchase = Math.round(pos.avgPrice * pos.qty);
    const value = cur * pos.qty;
    totalPurchase += purchase;
    totalValue += value;
    const sellable = ctx.account.sellableQty(code);
    return {
      stk_cd: `A${code}`,
      stk_nm: inst?.name ?? code,
      rmnd_qty: padded(pos.qty, 15),
      trde_able_qty: padded(sellable, 15),
      pur_pric: padded(Math.round(pos.avgPrice), 15),
      cur_prc: padded(cur, 15),
      evltv_prft: signedAmount(value - purchase),
      prft_rt: rate(value - purchase, purchase),
      pur_amt: signedAmount(purchase),
      evlt_amt: signedAmount(value),
    };
  });
  const page = paginate(ctx, rows);
  return {
    body: ok({
      tot_pur_amt: signedAmount(totalPurchase),
      tot_evlt_amt: signedAmount(totalValue),
      tot_evlt_pl: signedAmount(totalValue - totalPurchase),
      tot_prft_rt: rate(totalValue - totalPurchase, totalPurchase),
      prsm_dpst_aset_amt: signedAmount(ctx.account.cash + totalValue),
      acnt_evlt_remn_indv_tot: page.rows,
    }),
    contYn: page.contYn,
    nextKey: page.nextKey,
  };
}

function rate(gain: number, base: number): string {
  const r = base === 0 ? 0 : (gain / base) * 100;
  return (r < 0 ? '-' : '') + Math.abs(r).toFixed(2);
}

function orderRow(ctx: TrContext, o: MutableOrder): JsonObject {
  const inst = ctx.market.instrument(o.stkCd);
  return {
    acnt_no: ctx.account.accountNo,
    ord_no: o.ordNo,
    stk_cd: o.stkCd,
    stk_nm: inst?.name ?? baseCode(o.stkCd),
    ord_stt: o.status === 'filled' ? '체결' : '접수',
    ord_qty: String(o.qty),
    ord_pric: String(o.price),
    oso_qty: String(o.openQty),
    orig_ord_no: o.origOrdNo,
    io_tp_nm: o.side === 'buy' ? '+매수' : '-매도',
    trde_tp: tradeTypeName(o.trdeTp) ?? o.trdeTp,
    tm: formatHhmmss(o.time),
    cntr_pric: String(o.fillPrice),
    cntr_qty: String(o.filledQty),
    cur_prc: inst ? signedPrice(inst.price, inst.previousClose) : '0',
    ...venueFields(o.exchange),
  };
}

/** The venue as Kiwoom lists it in ka10075/ka10076 rows: stex_tp 1 KRX / 2 NXT, its text, and sor_yn (a smart-routed order reads S-KRX) [O]. */
function venueFields(exchange: string): JsonObject {
  if (exchange === 'SOR') return { stex_tp: '1', stex_tp_txt: 'S-KRX', sor_yn: 'Y' };
  return exchange === 'NXT' ? { stex_tp: '2', stex_tp_txt: 'NXT', sor_yn: 'N' } : { stex_tp: '1', stex_tp_txt: 'KRX', sor_yn: 'N' };
}

/**
 * A modify or cancel names the venue its original rests on: Kiwoom refuses a SOR one for an order not placed through
 * SOR with 571412 [O], and one sent to another venue than the order's finds no such order there (505208 [G]).
 */
function sameVenue(ctx: TrContext, origOrdNo: string, exchange: string): void {
  const orig = ctx.account.order(origOrdNo);
  if (!orig || orig.exchange === exchange || ctx.entry.market === 'gold') return;
  if (exchange === 'SOR') throw orderRejected('571412', 'SOR정정 및 취소주문은 원주문이 SOR주문인 경우 가능합니다.');
  throw orderRejected('505208', '원주문번호가 존재하지 않습니다');
}

function exchangeFilter(stexTp: string): (o: MutableOrder) => boolean {
  if (stexTp === '1') return (o) => o.exchange === 'KRX';
  if (stexTp === '2') return (o) => o.exchange === 'NXT';
  return () => true;
}

function sideFilter(tp: string): (o: MutableOrder) => boolean {
  if (tp === '1') return (o) => o.side === 'sell';
  if (tp === '2') return (o) => o.side === 'buy';
  return () => true;
}

export function openOrders(ctx: TrContext): TrResult {
  const allStk = oneOf(ctx.body, 'all_stk_tp', ['0', '1']);
  const side = sideFilter(oneOf(ctx.body, 'trde_tp', ['0', '1', '2']));
  const exch = exchangeFilter(oneOf(ctx.body, 'stex_tp', ['0', '1', '2']));
  const stkCd = allStk === '1' ? stockCode(ctx.body, ctx.market) : undefined;
  const rows = ctx.account.orders
    .filter((o) => o.status === 'open' && o.openQty > 0 && side(o) && exch(o) && (!stkCd || baseCode(o.stkCd) === baseCode(stkCd)))
    .map((o) => orderRow(ctx, o));
  const page = paginate(ctx, rows);
  return { body: ok({ oso: page.rows }), contYn: page.contYn, nextKey: page.nextKey };
}

export function fills(ctx: TrContext): TrResult {
  const qryTp = oneOf(ctx.body, 'qry_tp', ['0', '1']);
  const side = sideFilter(oneOf(ctx.body, 'sell_tp', ['0', '1', '2']));
  const exch = exchangeFilter(oneOf(ctx.body, 'stex_tp', ['0', '1', '2']));
  const stkCd = qryTp === '1' ? stockCode(ctx.body, ctx.market) : undefined;
  const ordNo = optionalString(ctx.body, 'ord_no');
  const rows = ctx.account.orders
    .filter((o) => o.filledQty > 0 && side(o) && exch(o) && (!stkCd || baseCode(o.stkCd) === baseCode(stkCd)) && (!ordNo || o.ordNo === ordNo))
    .map((o) => ({ ...orderRow(ctx, o), ord_tm: formatHhmmss(o.time), tdy_trde_cmsn: '0', tdy_trde_tax: '0' }));
  const page = paginate(ctx, rows);
  return { body: ok({ cntr: page.rows }), contYn: page.contYn, nextKey: page.nextKey };
}

// Quotes -----------------------------------------------------------------

export function basicInfo(ctx: TrContext): TrResult {
  const stkCd = stockCode(ctx.body, ctx.market);
  const inst = ctx.market.instrument(stkCd)!;
  const price = ctx.market.price(stkCd)!;
  const change = price - inst.previousClose;
  return single(
    ok({
      stk_cd: stkCd,
      stk_nm: inst.name,
      cur_prc: signedPrice(price, inst.previousClose),
      pred_pre: (change > 0 ? '+' : '') + String(change),
      flu_rt: signedRate((change / inst.previousClose) * 100),
      base_pric: String(inst.previousClose),
      open_pric: String(inst.previousClose),
      high_pric: String(Math.max(price, inst.previousClose)),
      low_pric: String(Math.min(price, inst.previousClose)),
      upl_pric: String(Math.round(inst.previousClose * 1.3)),
      lst_pric: String(Math.round(inst.previousClose * 0.7)),
      trde_qty: '0',
      setl_mm: '12',
      fav: '100',
    }),
  );
}

export function orderBookQuote(ctx: TrContext): TrResult {
  const stkCd = stockCode(ctx.body, ctx.market);
  const price = ctx.market.price(stkCd)!;
  const tick = price >= 500_000 ? 1000 : price >= 200_000 ? 500 : price >= 50_000 ? 100 : price >= 20_000 ? 50 : 10;
  return single(
    ok({
      bid_req_base_tm: formatHhmmss(ctx.now),
      sel_fpr_bid: String(price + tick),
      sel_fpr_req: '100',
      buy_fpr_bid: String(price),
      buy_fpr_req: '100',
      tot_sel_req: '100',
      tot_buy_req: '100',
    }),
  );
}

export function generic(): TrResult {
  return single(ok({}));
}

export type TrHandler = (ctx: TrContext) => TrResult;

const QUERY_HANDLERS: ReadonlyMap<string, TrHandler> = new Map([
  ['ka00001', accountNumber],
  ['kt00001', deposit],
  ['kt00018', balance],
  ['ka10075', openOrders],
  ['ka10076', fills],
  ['ka10001', basicInfo],
  ['ka10004', orderBookQuote],
  ['ka10081', dailyChart],
]);

/** The handler for a catalogue entry: the order engine, a modelled query, or the generic answer. */
export function handlerFor(entry: ApiEntry): TrHandler {
  if (entry.kind === 'order') return newOrder;
  if (entry.kind === 'modify') return modifyOrder;
  if (entry.kind === 'cancel') return cancelOrder;
  return QUERY_HANDLERS.get(entry.apiId) ?? generic;
}
