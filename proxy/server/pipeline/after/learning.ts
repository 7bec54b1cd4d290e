// Behaviour baselines learn only from calls that were allowed and completed.
import type { RequestContext } from '../../context.js';
import type { PipelineDeps } from '../deps.js';

export function learning(deps: Pick<PipelineDeps, 'risk' | 'logger'>) {
  return async (ctx: RequestContext): Promise<void> => {
    if (!ctx.outcome || !ctx.riskInput) return;
    await deps.risk
      .learn(ctx.riskInput, { allowed: ctx.decision?.outcome !== 'deny' && !ctx.error, completed: ctx.outcome.ok })
      .catch((err) => deps.logger.warn({ err: String(err) }, 'risk baseline update failed'));
  };
}
