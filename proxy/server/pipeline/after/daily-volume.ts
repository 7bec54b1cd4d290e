// A bot's own daily chart (ka10081, first page) teaches the risk engine the
// symbol's average daily volume, which the drain detector judges buys
// against (risk.pattern.illiquidAdvFraction): the sidecar never calls the
// broker for market data itself. A failure here only loses that lesson.
// Kiwoom's page holds 600 days (well over the 64 KB the outcome stage reads
// for return codes), so this stage reads the answer itself: it is bounded by
// upstream.maxResponseBytes like every answer.
import type { RequestContext } from '../../context.js';
import type { PipelineDeps } from '../deps.js';

const DAILY_CHART = 'ka10081';

export function dailyVolume(deps: Pick<PipelineDeps, 'risk' | 'logger' | 'clock'>) {
  return async (ctx: RequestContext): Promise<void> => {
    if (ctx.apiId !== DAILY_CHART || ctx.error || ctx.upstream?.status !== 200 || ctx.contYn === 'Y' || typeof ctx.json?.stk_cd !== 'string') return;
    try {
      const answer = JSON.parse(ctx.upstream.body.toString('utf8')) as Record<string, unknown>;
      const rows = answer.stk_dt_pole_chart_qry;
      if (answer.return_code !== 0 || !Array.isArray(rows)) return;
      const days = (rows as Record<string, unknown>[]).map((r) => ({
        day: String(r?.dt ?? ''),
        shares: Number(String(r?.trde_qty ?? '').replace(/[+,]/g, '')),
      }));
      await deps.risk.noteDailyVolume(ctx.json.stk_cd, days, deps.clock());
    } catch (err) {
      deps.logger.warn({ err: String(err) }, 'daily volume update failed');
    }
  };
}
