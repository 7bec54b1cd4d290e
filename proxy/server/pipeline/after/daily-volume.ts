// A bot's own daily chart (ka10081, first page) teaches the risk engine the
// symbol's average daily volume, which the drain detector judges buys
// against (risk.pattern.illiquidAdvFraction): the sidecar never calls the
// broker for market data itself. A failure here only loses that lesson.
// Kiwoom's page holds 600 days (~110 KB), parsed here only when it may teach
// something new: the average is of completed days, so a symbol learned today
// by this process is not parsed again until tomorrow. The answer is bounded
// by upstream.maxResponseBytes like every answer.
import { seoulDay } from '../../../common/kst.js';
import type { RequestContext } from '../../context.js';
import type { PipelineDeps } from '../deps.js';
import { answerOf } from './outcome.js';

const DAILY_CHART = 'ka10081';
/** Symbols parsed today by this process; cleared when it holds more (Kiwoom lists a few thousand). */
const MAX_LEARNED_TODAY = 10_000;

export function dailyVolume(deps: Pick<PipelineDeps, 'risk' | 'logger' | 'clock'>) {
  const learnedToday = new Map<string, string>();
  return async (ctx: RequestContext): Promise<void> => {
    const code = ctx.json?.stk_cd;
    if (ctx.apiId !== DAILY_CHART || !deps.risk.learnsDailyVolume || !ctx.outcome?.ok || !ctx.upstream || ctx.contYn === 'Y' || typeof code !== 'string')
      return;
    const now = deps.clock();
    const today = seoulDay(now);
    if (learnedToday.get(code) === today) return;
    try {
      const rows = answerOf(ctx).stk_dt_pole_chart_qry;
      if (!Array.isArray(rows)) return;
      const days = (rows as Record<string, unknown>[]).map((r) => ({
        day: String(r?.dt ?? ''),
        shares: Number(String(r?.trde_qty ?? '').replace(/[+,]/g, '')),
      }));
      // Not learned (a chart of a past base_dt, too few days): a later chart today may teach it.
      if ((await deps.risk.noteDailyVolume(code, days, now)) === undefined) return;
      if (learnedToday.size >= MAX_LEARNED_TODAY) learnedToday.clear();
      learnedToday.set(code, today);
    } catch (err) {
      deps.logger.warn({ err: String(err) }, 'daily volume update failed');
    }
  };
}
