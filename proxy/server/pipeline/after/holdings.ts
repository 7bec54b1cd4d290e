// A bot's own complete balance inquiry (kt00018, one page) becomes the
// holdings baseline that a lockdown's damage assessment compares with: the
// baseline stays current without the sidecar calling the broker itself.
import { BALANCE } from '../../../kiwoom/protocol/index.js';
import { holdingsFromBalance } from '../../../response/index.js';
import type { RequestContext } from '../../context.js';
import type { PipelineDeps } from '../deps.js';

export function holdings(deps: Pick<PipelineDeps, 'responder' | 'logger'>) {
  return async (ctx: RequestContext): Promise<void> => {
    if (!ctx.outcome?.ok || ctx.apiId !== BALANCE.apiId || ctx.contYn === 'Y' || ctx.upstream?.contYn === 'Y' || !ctx.upstream || !ctx.bot) return;
    try {
      const j = JSON.parse(ctx.upstream.body.toString('utf8')) as Record<string, unknown>;
      const rows = j.acnt_evlt_remn_indv_tot;
      if (!Array.isArray(rows)) return;
      await deps.responder.recordHoldings(ctx.bot.account, holdingsFromBalance(rows as Record<string, unknown>[]));
    } catch (err) {
      deps.logger.warn({ err: String(err) }, 'holdings baseline update failed');
    }
  };
}
