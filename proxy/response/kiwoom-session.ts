// BrokerSession over Kiwoom's TRs: ka10075 open orders, kt10003 cancel,
// ka10076 fills, kt00018 holdings, following cont-yn / next-key paging.
// `call` is the sidecar's own TR caller (proxy/kiwoom/gateway.ts CallTr).
import { GuardError } from '../common/errors.js';
import { IncompleteListError, BrokerGateway as KiwoomGateway, type CallTr, type TrResult } from '../kiwoom/gateway.js';
import {
  BALANCE,
  FILLS,
  OPEN_ORDERS,
  baseCode,
  cancelAllBody,
  hhmmssToEpoch,
  kiwoomPrice,
  kiwoomQuantity,
  returnedOk,
  venueOfListedOrder,
  type PagedInquiry,
} from '../kiwoom/protocol/index.js';
import { IncompleteOrderList, type BrokerGateway, type BrokerSession, type CancelResult, type Fill, type Holding, type OpenOrder } from './types.js';

const MAX_PAGES = 200;

/** A quantity or a price from Kiwoom's list rows; 0 when missing or malformed (such rows are filtered out). */
function qty(v: unknown): number {
  return kiwoomQuantity(v) ?? 0;
}

function price(v: unknown): number {
  return kiwoomPrice(v) ?? 0;
}

function side(row: Record<string, unknown>): OpenOrder['side'] {
  const t = String(row.io_tp_nm ?? '');
  if (t.includes('매수')) return 'buy';
  if (t.includes('매도')) return 'sell';
  return 'unknown';
}

/** Retryable: transport errors and HTTP 5xx / 429 surface as throws; a Kiwoom refusal is a result. */
function checkHttp(apiId: string, r: TrResult): void {
  if (r.status === 429 || r.status >= 500) throw new GuardError('KG5001', `${apiId} HTTP ${r.status}`);
}

function allPages(call: CallTr, q: PagedInquiry): Promise<Record<string, unknown>[]> {
  return KiwoomGateway.allPages(call, q.apiId, q.body(), q.listField, MAX_PAGES);
}

/** ka10075 rows → open orders with something left to cancel. */
function openOrders(rows: readonly Record<string, unknown>[]): OpenOrder[] {
  return rows
    .map(
      (r): OpenOrder => ({
        ordNo: String(r.ord_no ?? ''),
        stkCd: String(r.stk_cd ?? ''),
        side: side(r),
        qty: qty(r.ord_qty),
        remaining: qty(r.oso_qty),
        price: price(r.ord_pric),
        trdeTp: String(r.trde_tp ?? ''),
        // The venue the order rests on (stex_tp "1"/"2", sor_yn): a cancel naming another one is refused or misses it.
        exchange: venueOfListedOrder(r),
      }),
    )
    .filter((o) => o.ordNo !== '' && o.remaining > 0);
}

export function kiwoomSession(call: CallTr, now: () => number = Date.now): BrokerSession {
  return {
    async listOpenOrders() {
      const rows = await allPages(call, OPEN_ORDERS).catch((err: unknown) => {
        // The orders read are still worth cancelling; the list is not the whole one (cancel-all.ts).
        throw err instanceof IncompleteListError ? new IncompleteOrderList(err.message, openOrders(err.rows)) : err;
      });
      return openOrders(rows);
    },
    async cancel(order): Promise<CancelResult> {
      const r = await call('kt10003', cancelAllBody(order));
      checkHttp('kt10003', r);
      const rc = r.json.return_code;
      const returnCode = typeof rc === 'number' || typeof rc === 'string' ? { returnCode: typeof rc === 'string' ? rc.slice(0, 16) : rc } : {};
      if (returnedOk(rc)) return { ok: true, ...returnCode };
      return { ok: false, detail: String(r.json.return_msg ?? `return_code ${String(rc)}`).slice(0, 200), ...returnCode };
    },
    async fills(since) {
      const rows = await allPages(call, FILLS);
      const t = now();
      return rows
        .map((r): Fill => {
          const at = hhmmssToEpoch(String(r.ord_tm ?? r.tm ?? ''), t);
          return {
            ordNo: String(r.ord_no ?? ''),
            stkCd: String(r.stk_cd ?? ''),
            side: side(r),
            qty: qty(r.cntr_qty),
            price: price(r.cntr_pric),
            ...(at !== undefined ? { at } : {}),
          };
        })
        .filter((f) => f.qty > 0 && (f.at === undefined || f.at >= since));
    },
    async holdings() {
      return holdingsFromBalance(await allPages(call, BALANCE));
    },
  };
}

/** kt00018's acnt_evlt_remn_indv_tot rows → holdings (codes as baseCode: A005930 → 005930; positions only). */
export function holdingsFromBalance(rows: readonly Record<string, unknown>[]): Holding[] {
  return rows
    .map(
      (r): Holding => ({
        stkCd: baseCode(String(r.stk_cd ?? '')),
        qty: qty(r.rmnd_qty),
        price: price(r.cur_prc),
        avgPrice: price(r.pur_pric),
      }),
    )
    .filter((h) => h.qty > 0);
}

/** Adapts the sidecar's gateway (withSession giving a CallTr) to the responder's BrokerGateway. */
export function kiwoomBrokerGateway(
  gateway: { withSession<T>(botId: string, fn: (call: CallTr) => Promise<T>): Promise<T> },
  now?: () => number,
): BrokerGateway {
  return { withSession: (botId, fn) => gateway.withSession(botId, (call) => fn(kiwoomSession(call, now))) };
}
