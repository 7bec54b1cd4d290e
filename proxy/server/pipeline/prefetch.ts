// Reads without side effects start together with the session check, so they
// cost no wait of their own: the trading state (for the policy) and the
// lockdown flags. No valid policy → refused here (KG3003, fail closed).
import { classified } from './need.js';
import type { RequestContext } from '../context.js';
import type { PipelineDeps } from './deps.js';

export function prefetch(deps: Pick<PipelineDeps, 'policy' | 'responder'>) {
  return (ctx: RequestContext): void => {
    deps.policy.health();
    const c = classified(ctx);
    const state = deps.policy.tradingState(c.bot.id, c.bot.account);
    const lockdown = deps.responder.checkLockdown({ botId: c.bot.id, account: c.bot.account, kind: c.entry.kind, body: c.json });
    // Awaited by later stages only if the call gets that far.
    state.catch(() => undefined);
    lockdown.catch(() => undefined);
    ctx.prefetched = { tradingState: { botId: c.bot.id, account: c.bot.account, state }, lockdown };
  };
}
