// Reads without side effects start together with the session check, so they
// cost no wait of their own: the trading state (for the policy), the record
// of the order a modify or cancel names (its side, when the policy selects by
// side) and the lockdown flags. No valid policy → refused here (KG3003, fail closed).
import { parsed } from './need.js';
import { policyCall } from './policy.js';
import type { RequestContext } from '../context.js';
import type { PipelineDeps } from './deps.js';

export function prefetch(deps: Pick<PipelineDeps, 'policy' | 'responder'>) {
  return (ctx: RequestContext): void => {
    deps.policy.health();
    const c = parsed(ctx);
    const state = deps.policy.tradingState(c.bot.id, c.bot.account);
    const original = deps.policy.originalOrder(policyCall(c));
    const lockdown = deps.responder.checkLockdown({ botId: c.bot.id, account: c.bot.account, kind: c.entry.kind, body: c.json });
    // Awaited by later stages only if the call gets that far.
    state.catch(() => undefined);
    lockdown.catch(() => undefined);
    original.catch(() => undefined);
    ctx.prefetched = { tradingState: { botId: c.bot.id, account: c.bot.account, state }, lockdown, original };
  };
}
