// The daily chart (ka10081, 주식일봉차트조회요청): 600 weekdays up to base_dt
// (a page of Kiwoom's; SimOptions.chartDays), newest first, in Kiwoom's row shape (stk_dt_pole_chart_qry). Each
// day's volume lies within ±30 % of the instrument's average daily volume and
// is the same for the same code and day, so a test can reason about it.
import { DAY_MS, seoulDay, seoulWeekday } from '../common/kst.js';
import { type TrContext, type TrResult, ok, single, stockCode } from './handlers.js';

/** A stable fraction in [0, 1) for a code and a day (FNV-1a). */
function jitter(code: string, day: string): number {
  let h = 0x811c9dc5;
  for (const ch of `${code}|${day}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h / 2 ** 32;
}

export function dailyChart(ctx: TrContext): TrResult {
  const stkCd = stockCode(ctx.body, ctx.market);
  const inst = ctx.market.instrument(stkCd)!;
  const base = typeof ctx.body.base_dt === 'string' && /^\d{8}$/.test(ctx.body.base_dt) ? ctx.body.base_dt : seoulDay(ctx.now);
  // Noon Seoul on base_dt, then back one day at a time over weekdays.
  let t = Date.UTC(Number(base.slice(0, 4)), Number(base.slice(4, 6)) - 1, Number(base.slice(6, 8)), 3);
  const rows: Record<string, string>[] = [];
  while (rows.length < ctx.chartDays) {
    const wd = seoulWeekday(t);
    if (wd !== 0 && wd !== 6) {
      const dt = seoulDay(t);
      const j = jitter(stkCd, dt);
      const qty = Math.round(inst.adv * (0.7 + 0.6 * j));
      const close = inst.previousClose;
      rows.push({
        cur_prc: String(close),
        trde_qty: String(qty),
        trde_prica: String(Math.round((qty * close) / 1_000_000)),
        dt,
        open_pric: String(close),
        high_pric: String(close),
        low_pric: String(close),
        pred_pre: '0',
        pred_pre_sig: '3',
        trde_tern_rt: '0.00',
      });
    }
    t -= DAY_MS;
  }
  return single(ok({ stk_cd: stkCd, stk_dt_pole_chart_qry: rows }));
}
