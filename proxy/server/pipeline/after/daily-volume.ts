// A bot's own daily chart (ka10081, first page) teaches the risk engine the
// symbol's average daily volume, which the drain detector judges buys
// against (risk.pattern.illiquidAdvFraction): the sidecar never calls the
// broker for market data itself. A failure here only loses that lesson.
import type { RequestContext } from '../../context.js';
import type { PipelineDeps } from '../deps.js';

const DAILY_CHART = 'ka10081';

export function dailyVolume(deps: Pick<PipelineDeps, 'risk' | 'logger' | 'clock'>) {
  return async (ctx: RequestContext): Promise<void> => {
    if (!ctx.outcome?.ok || ctx.apiId !== DAILY_CHART || ctx.contYn === 'Y' || !ctx.upstream || typeof ctx.json?.stk_cd !== 'string') return;
    try {
      const rows = (JSON.parse(ctx.upstream.body.toString('utf8')) as Record<string, unknown>).stk_dt_pole_chart_qry;
      if (!Array.isArray(rows)) return;
      const days = (rows as Record<string, unknown>[]).map((r) => ({ day: String(r.dt ?? ''), shares: Number(String(r.trde_qty ?? '').replace(/[+,]/g, '')) }));
      await deps.risk.noteDailyVolume(ctx.json.stk_cd, days, deps.clock());
    } catch (err) {
      deps.logger.warn({ err: String(err) }, 'daily volume update failed');
    }
  };
}
