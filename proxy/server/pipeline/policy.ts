// The policy, in the four stages that keep its I/O visible: `policy` plans
// the decision from the parsed call, the risk score and the trading state read
// early (pure; most denials end here, at no cost); `market-data` fetches only
// what the plan asked for, through the broker session and the governor;
// `decide` judges the rules over that snapshot (pure); `limits` charges the
// rate-limit and cap counters in the Store. A denial names its rule.
import { GuardError } from '../../common/errors.js';
import type { RequestContext } from '../context.js';
import type { PipelineDeps } from './deps.js';
import { parsed, type Parsed } from './need.js';
import type { PolicyStep } from '../../policy/engine.js';

export function policyCall(ctx: Parsed) {
  return {
    botId: ctx.bot.id,
    account: ctx.bot.account,
    apiId: ctx.apiId,
    entry: ctx.entry,
    body: ctx.json,
    intentional: ctx.intentional,
    approvalRetry: ctx.approvalRetry === true,
    riskScore: ctx.risk?.score,
  };
}

function settle(ctx: RequestContext, step: PolicyStep): void {
  ctx.decision = step.decision;
  ctx.pendingDecision = step.pending;
}

export function policy(deps: Pick<PipelineDeps, 'policy'>) {
  return async (ctx: RequestContext): Promise<void> => {
    const p = parsed(ctx);
    if (!p.prefetched) throw new GuardError('KG9001', 'pipeline order: prefetch missing');
    const state = await p.prefetched.tradingState.state;
    // A modify or cancel is judged by the side of the order it names (a Store failure fails the call closed).
    const original = await p.prefetched.original;
    settle(p, deps.policy.plan(original === undefined ? policyCall(p) : { ...policyCall(p), original }, state));
  };
}

export function marketData(deps: Pick<PipelineDeps, 'policy'>) {
  return async (ctx: RequestContext): Promise<void> => {
    const pending = ctx.pendingDecision;
    if (pending === undefined || pending.wanted === 0) return;
    ctx.market = await deps.policy.marketData(pending);
  };
}

export function decide(deps: Pick<PipelineDeps, 'policy'>) {
  return (ctx: RequestContext): void => {
    const pending = ctx.pendingDecision;
    if (pending === undefined) return;
    settle(ctx, deps.policy.decide(pending, ctx.market ?? {}));
  };
}

export function limits(deps: Pick<PipelineDeps, 'policy'>) {
  return async (ctx: RequestContext): Promise<void> => {
    const pending = ctx.pendingDecision;
    if (pending === undefined) return;
    ctx.decision = await deps.policy.chargeLimits(pending);
    ctx.pendingDecision = undefined;
  };
}
