// Behaviour baselines learn only from calls that were allowed and completed;
// a balance inquiry restarts the count of orders since the holdings read only
// when it became the holdings (the holdings stage runs first).
import type { RequestContext } from '../../context.js';
import type { PipelineDeps } from '../deps.js';

export function learning(deps: Pick<PipelineDeps, 'risk' | 'logger'>) {
  return async (ctx: RequestContext): Promise<void> => {
    if (!ctx.outcome || !ctx.riskInput) return;
    await deps.risk
      .learn(ctx.riskInput, {
        allowed: ctx.decision?.outcome !== 'deny' && !ctx.error,
        completed: ctx.outcome.ok,
        holdingsRecorded: ctx.holdingsRecorded === true,
        approved: ctx.approved === true,
      })
      .catch((err) => deps.logger.warn({ err: String(err) }, 'risk baseline update failed'));
  };
}
