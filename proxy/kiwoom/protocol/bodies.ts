// The inquiries the sidecar makes on its own behalf (policy market data,
// lockdown's cancel-all, damage assessment), each followed across cont-yn /
// next-key pages collecting one list field. `body()` gives a fresh object.

export interface PagedInquiry {
  readonly apiId: string;
  body(): Record<string, string>;
  /** The response's list field, collected across pages. */
  readonly listField: string;
}

/** ka10075 미체결요청: every open order — all stocks (all_stk_tp 0), both sides (trde_tp 0), every venue (stex_tp 0). */
export const OPEN_ORDERS: PagedInquiry = {
  apiId: 'ka10075',
  body: () => ({ all_stk_tp: '0', trde_tp: '0', stk_cd: '', stex_tp: '0' }),
  listField: 'oso',
};

/** ka10076 체결요청: today's fills — all stocks, every order, both sides (sell_tp 0), every venue. */
export const FILLS: PagedInquiry = {
  apiId: 'ka10076',
  body: () => ({ stk_cd: '', qry_tp: '0', sell_tp: '0', ord_no: '', stex_tp: '0' }),
  listField: 'cntr',
};

/** kt00018 계좌평가잔고내역요청: holdings, combined per stock (qry_tp 1), KRX; rows carry stk_cd as A005930. */
export const BALANCE: PagedInquiry = {
  apiId: 'kt00018',
  body: () => ({ qry_tp: '1', dmst_stex_tp: 'KRX' }),
  listField: 'acnt_evlt_remn_indv_tot',
};

/** kt10003 취소주문 for the whole remaining quantity (cncl_qty "0"), on the venue the order lives on. */
export function cancelAllBody(order: { readonly exchange: string; readonly ordNo: string; readonly stkCd: string }): Record<string, string> {
  return { dmst_stex_tp: order.exchange, orig_ord_no: order.ordNo, stk_cd: order.stkCd, cncl_qty: '0' };
}
