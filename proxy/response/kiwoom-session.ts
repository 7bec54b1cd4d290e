// BrokerSession over Kiwoom's TRs: ka10075 open orders, kt10003 cancel,
// ka10076 fills, kt00018 holdings, following cont-yn / next-key paging.
// `call` is the sidecar's own TR caller (proxy/kiwoom/gateway.ts CallTr).
import { GuardError } from '../common/errors.js';
import { BrokerGateway as KiwoomGateway, type CallTr, type TrResult } from '../kiwoom/gateway.js';
import type { BrokerGateway, BrokerSession, CancelResult, Fill, Holding, OpenOrder } from './types.js';

const MAX_PAGES = 200;
const SEOUL_OFFSET_MS = 9 * 3_600_000;

export function kiwoomInt(v: unknown): number {
  if (typeof v === 'number') return Number.isFinite(v) ? v : 0;
  if (typeof v !== 'string') return 0;
  const n = Number(v.trim().replace(/^\+/, ''));
  return Number.isFinite(n) ? n : 0;
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

function allPages(call: CallTr, apiId: string, body: Record<string, unknown>, field: string): Promise<Record<string, unknown>[]> {
  return KiwoomGateway.allPages(call, apiId, body, field, MAX_PAGES);
}

/** HHmmss today in Seoul -> epoch ms (Kiwoom's fills inquiry covers the current day). */
export function seoulClockToEpoch(hhmmss: string, nowMs: number): number | undefined {
  if (!/^\d{6}$/.test(hhmmss)) return undefined;
  const seoulMidnight = Math.floor((nowMs + SEOUL_OFFSET_MS) / 86_400_000) * 86_400_000 - SEOUL_OFFSET_MS;
  const secs = Number(hhmmss.slice(0, 2)) * 3600 + Number(hhmmss.slice(2, 4)) * 60 + Number(hhmmss.slice(4, 6));
  return seoulMidnight + secs * 1000;
}

export function kiwoomSession(call: CallTr, now: () => number = Date.now): BrokerSession {
  return {
    async listOpenOrders() {
      const rows = await allPages(call, 'ka10075', { all_stk_tp: '0', trde_tp: '0', stk_cd: '', stex_tp: '0' }, 'oso');
      return rows.map((r): OpenOrder => ({
        ordNo: String(r.ord_no ?? ''),
        stkCd: String(r.stk_cd ?? ''),
        side: side(r),
        qty: kiwoomInt(r.ord_qty),
        remaining: kiwoomInt(r.oso_qty),
        price: Math.abs(kiwoomInt(r.ord_pric)),
        trdeTp: String(r.trde_tp ?? ''),
        // Kiwoom's list carries the venue for NXT/SOR rows; the suffix on stk_cd tells it too.
        exchange: typeof r.stex_tp === 'string' && /^(KRX|NXT|SOR)$/.test(r.stex_tp) ? r.stex_tp
          : /_NX$/.test(String(r.stk_cd)) ? 'NXT' : /_AL$/.test(String(r.stk_cd)) ? 'SOR' : 'KRX',
      })).filter((o) => o.ordNo !== '' && o.remaining > 0);
    },
    async cancel(order): Promise<CancelResult> {
      const r = await call('kt10003', { dmst_stex_tp: order.exchange, orig_ord_no: order.ordNo, stk_cd: order.stkCd, cncl_qty: '0' });
      checkHttp('kt10003', r);
      if (r.json.return_code === 0) return { ok: true };
      return { ok: false, detail: String(r.json.return_msg ?? `return_code ${String(r.json.return_code)}`).slice(0, 200) };
    },
    async fills(since) {
      const rows = await allPages(call, 'ka10076', { stk_cd: '', qry_tp: '0', sell_tp: '0', ord_no: '', stex_tp: '0' }, 'cntr');
      const t = now();
      return rows.map((r): Fill => {
        const at = seoulClockToEpoch(String(r.ord_tm ?? r.tm ?? ''), t);
        return { ordNo: String(r.ord_no ?? ''), stkCd: String(r.stk_cd ?? ''), side: side(r), qty: kiwoomInt(r.cntr_qty), price: Math.abs(kiwoomInt(r.cntr_pric)), ...(at !== undefined ? { at } : {}) };
      }).filter((f) => f.qty > 0 && (f.at === undefined || f.at >= since));
    },
    async holdings() {
      return holdingsFromBalance(await allPages(call, 'kt00018', { qry_tp: '1', dmst_stex_tp: 'KRX' }, 'acnt_evlt_remn_indv_tot'));
    },
  };
}

/** kt00018's acnt_evlt_remn_indv_tot rows → holdings (codes without the "A" prefix, positions only). */
export function holdingsFromBalance(rows: readonly Record<string, unknown>[]): Holding[] {
  return rows.map((r): Holding => ({
    stkCd: String(r.stk_cd ?? '').replace(/^A/, ''),
    qty: kiwoomInt(r.rmnd_qty),
    price: Math.abs(kiwoomInt(r.cur_prc)),
    avgPrice: Math.abs(kiwoomInt(r.pur_pric)),
  })).filter((h) => h.qty > 0);
}

/** Adapts the sidecar's gateway (withSession giving a CallTr) to the responder's BrokerGateway. */
export function kiwoomBrokerGateway(gateway: { withSession<T>(botId: string, fn: (call: CallTr) => Promise<T>): Promise<T> }, now?: () => number): BrokerGateway {
  return { withSession: (botId, fn) => gateway.withSession(botId, (call) => fn(kiwoomSession(call, now))) };
}
