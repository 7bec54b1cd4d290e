// The policy decides on the parsed call, the risk score and the trading state
// read early. A denial names its rule.
import { GuardError } from '../../common/errors.js';
import type { RequestContext } from '../context.js';
import type { PipelineDeps } from './deps.js';
import { parsed, type Parsed } from './need.js';

export function policyCall(ctx: Parsed) {
  return {
    botId: ctx.bot.id,
    account: ctx.bot.account,
    apiId: ctx.apiId,
    entry: ctx.entry,
    body: ctx.json,
    intentional: ctx.intentional,
    riskScore: ctx.risk?.score,
  };
}

export function policy(deps: Pick<PipelineDeps, 'policy'>) {
  return async (ctx: RequestContext): Promise<void> => {
    const p = parsed(ctx);
    if (!p.prefetched) throw new GuardError('KG9001', 'pipeline order: prefetch missing');
    p.decision = await deps.policy.evaluate(policyCall(p), { tradingState: p.prefetched.tradingState });
  };
}
