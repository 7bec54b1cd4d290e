// The market the corpus trades in: a KRX-like calendar (weekends, Seollal and
// the 3.1 substitute holiday, one shortened session), a symbol universe with
// prices and daily volumes (a few thin names), and Kiwoom request bodies.
import { seoulToEpoch } from '../../proxy/kiwoom/protocol/index.js';
import type { Rng } from './prng.js';

/** KRX closures in the corpus window (Seollal 2026-02-16..18; 2026-03-02 substitute for 3.1). */
export const KRX_HOLIDAYS: readonly string[] = ['2026-02-16', '2026-02-17', '2026-02-18', '2026-03-02'];
/** A shortened session (modelled on KRX's delayed-open days): trading 10:00-13:00. */
export const HALF_DAYS: readonly string[] = ['2026-02-13'];

export interface Day {
  /** Seoul date YYYY-MM-DD. */
  readonly date: string;
  /** Epoch ms of Seoul midnight. */
  readonly midnight: number;
  readonly trading: boolean;
  readonly half: boolean;
  /** Index among trading days (-1 on closed days). */
  readonly tradingIndex: number;
  /** Seoul weekday, 0 = Sunday. */
  readonly weekday: number;
}

/** Calendar days from `start` until `tradingDays` trading days have passed (closed days included). */
export function calendar(start: string, tradingDays: number): Day[] {
  const out: Day[] = [];
  let ms = seoulToEpoch(start);
  let idx = 0;
  while (idx < tradingDays) {
    const date = new Date(ms + 9 * 3_600_000).toISOString().slice(0, 10);
    const weekday = new Date(`${date}T00:00:00Z`).getUTCDay();
    const trading = weekday >= 1 && weekday <= 5 && !KRX_HOLIDAYS.includes(date);
    out.push({ date, midnight: ms, trading, half: HALF_DAYS.includes(date), tradingIndex: trading ? idx : -1, weekday });
    if (trading) idx++;
    ms += 86_400_000;
  }
  return out;
}

/** Opening and closing minute (after Seoul midnight) of a trading day. */
export function sessionOf(day: Day): { open: number; close: number } {
  return day.half ? { open: 600, close: 780 } : { open: 540, close: 930 };
}

export interface Stock {
  readonly code: string;
  readonly price: number;
  /** Average daily volume, shares. */
  readonly adv: number;
  readonly thin: boolean;
}

const LIQUID: ReadonlyArray<[string, number]> = [
  ['005930', 74_000],
  ['000660', 180_000],
  ['035420', 210_000],
  ['051910', 400_000],
  ['006400', 380_000],
  ['035720', 50_000],
  ['068270', 180_000],
  ['105560', 80_000],
  ['005380', 240_000],
  ['000270', 110_000],
  ['055550', 52_000],
  ['012330', 260_000],
  ['066570', 95_000],
  ['003550', 78_000],
  ['017670', 56_000],
  ['096770', 120_000],
];
/** ETFs the DCA buyer accumulates. */
export const ETFS: readonly Stock[] = [
  { code: '069500', price: 36_000, adv: 5_000_000, thin: false },
  { code: '360750', price: 19_000, adv: 2_000_000, thin: false },
];

export function universe(rng: Rng, size: number): { liquid: Stock[]; all: Stock[]; thin: Stock[] } {
  const liquid: Stock[] = LIQUID.map(([code, price]) => ({ code, price, adv: rng.int(1_000_000, 15_000_000), thin: false }));
  const thin: Stock[] = [];
  for (let i = 0; i < 12; i++) thin.push({ code: String(900100 + i * 7), price: rng.int(8, 60) * 100, adv: rng.int(5_000, 40_000), thin: true });
  const rest: Stock[] = [];
  for (let i = 0; rest.length + liquid.length + thin.length + ETFS.length < size; i++) {
    rest.push({ code: String(100000 + i * 37).padStart(6, '0'), price: rng.int(20, 900) * 100, adv: rng.int(100_000, 3_000_000), thin: false });
  }
  return { liquid, thin, all: [...liquid, ...ETFS, ...rest, ...thin] };
}

/** A price tick-rounded near `p` (daily noise of a couple of percent). */
export function quote(rng: Rng, p: number): number {
  const x = p * (1 + 0.01 * rng.gauss());
  const tick = x >= 200_000 ? 500 : x >= 50_000 ? 100 : x >= 5_000 ? 10 : 1;
  return Math.max(tick, Math.round(x / tick) * tick);
}

// Kiwoom request bodies, as a bot sends them (numbers as strings).
export type Body = Readonly<Record<string, string>>;
export const body = {
  order: (stk: string, qty: number, price: number): Body => ({ dmst_stex_tp: 'KRX', stk_cd: stk, ord_qty: String(qty), ord_uv: String(price), trde_tp: '0' }),
  modify: (stk: string, orig: string, qty: number, price: number): Body => ({
    dmst_stex_tp: 'KRX',
    orig_ord_no: orig,
    stk_cd: stk,
    mdfy_qty: String(qty),
    mdfy_uv: String(price),
  }),
  cancel: (stk: string, orig: string): Body => ({ dmst_stex_tp: 'KRX', orig_ord_no: orig, stk_cd: stk, cncl_qty: '0' }),
  quote: (stk: string): Body => ({ stk_cd: stk }),
  daily: (stk: string, date: string): Body => ({ stk_cd: stk, base_dt: date.replaceAll('-', ''), upd_stkpc_tp: '1' }),
  balance: (): Body => ({ qry_tp: '1', dmst_stex_tp: 'KRX' }),
  deposit: (): Body => ({ qry_tp: '3' }),
  openOrders: (): Body => ({ all_stk_tp: '0', trde_tp: '0', stex_tp: '0' }),
  fills: (): Body => ({ qry_tp: '0', sell_tp: '0', stex_tp: '0' }),
  journal: (): Body => ({ ottks_tp: '1', ch_crd_tp: '0' }),
  returns: (): Body => ({ stex_tp: '0' }),
  evaluation: (): Body => ({ qry_tp: '0', dmst_stex_tp: 'KRX' }),
  /** Realtime condition search (CNSRREQ): live (search_type 1) or one-shot (0). */
  condition: (seq: string, live: boolean): Body => ({ seq, search_type: live ? '1' : '0', stex_tp: 'K' }),
  /** Clears a live condition search (CNSRCLR). */
  conditionClear: (seq: string): Body => ({ seq }),
};

/** Api-ids the corpus uses (all in the catalogue). */
export const API = {
  buy: 'kt10000',
  sell: 'kt10001',
  modify: 'kt10002',
  cancel: 'kt10003',
  quote: 'ka10001',
  daily: 'ka10081',
  balance: 'kt00018',
  deposit: 'kt00001',
  openOrders: 'ka10075',
  fills: 'ka10076',
  returns: 'ka10085',
  journal: 'ka10170',
  evaluation: 'kt00004',
  /** Realtime condition searches over the WebSocket: one-shot, live, clear. */
  conditionOnce: 'ka10172',
  conditionLive: 'ka10173',
  conditionClear: 'ka10174',
} as const;
