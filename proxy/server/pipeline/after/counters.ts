// Policy counters (rate limits, daily caps, duplicate guard) learn what went
// out: every call the policy let through, with its outcome.
import type { RequestContext } from '../../context.js';
import type { PipelineDeps } from '../deps.js';
import { policyCall } from '../policy.js';
import type { Parsed } from '../need.js';

export function counters(deps: Pick<PipelineDeps, 'policy' | 'logger'>) {
  return async (ctx: RequestContext): Promise<void> => {
    if (!ctx.outcome || !ctx.decision || ctx.decision.outcome === 'deny' || !ctx.entry || !ctx.json) return;
    await deps.policy
      .recordOutcome(policyCall(ctx as Parsed), ctx.decision, ctx.outcome)
      .catch((err) => deps.logger.error({ err: String(err), requestId: ctx.id }, 'policy outcome failed'));
  };
}
