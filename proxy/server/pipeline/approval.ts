// Enforces the decision: allow goes on; deny answers with the rule; step-up
// and hold wait for human approval (or answer "pending" with an approval id
// the bot retries with). After a hold the session, the bot and lockdown are
// checked again: minutes may have passed.
import { GuardError, type ErrorCode } from '../../common/errors.js';
import { hashCall, outcomeError, pendingApprovalError, type ApprovalView } from '../../approval/index.js';
import type { Decision } from '../../policy/types.js';
import type { RequestContext } from '../context.js';
import type { PipelineDeps } from './deps.js';
import { judged, type Judged } from './need.js';
import { policyCall } from './policy.js';

const DECISION_ERRORS: Partial<Record<string, ErrorCode>> = { 'rate-limit': 'KG3005', 'daily-cap': 'KG3005' };
/** A rate limit's refusal carries Kiwoom's [1700] (clients back off and retry on it); a daily cap's does not (retrying cannot help today). */
const rateLimited = (ruleKind: string | undefined) => (ruleKind === 'rate-limit' ? { kiwoom: '1700' as const } : {});

async function awaitApproval(deps: Pick<PipelineDeps, 'approvals' | 'approvalConfig' | 'requestTimeoutMs'>, ctx: Judged, decision: Decision): Promise<void> {
  const callHash = hashCall(ctx.bot.id, ctx.apiId, ctx.json);
  const level = decision.outcome === 'hold' ? 'admin' : 'step_up';
  if (ctx.approvalId) {
    // A retry after a pending-approval error: the approval must match this exact call, once, at the level it needs now.
    usedApproval(ctx, await deps.approvals.consume(ctx.approvalId, callHash, { level, sessionEpoch: ctx.claims.epoch, requestId: ctx.id }));
    return;
  }
  // The listener answers the request at its deadline: a held call's approval must not outlive it.
  const left = deps.requestTimeoutMs === undefined ? undefined : deps.requestTimeoutMs - (performance.now() - ctx.startedAt);
  const ticket = await deps.approvals.request(
    {
      botId: ctx.bot.id,
      account: ctx.bot.account,
      apiId: ctx.apiId,
      body: ctx.json,
      owner: ctx.bot.owner,
      score: ctx.risk?.score ?? 0,
      level,
      reasons: [decision.reason ?? decision.ruleId ?? 'risk', ...(ctx.risk?.contributions.map((c) => c.reason) ?? [])],
      ...(decision.ruleId !== undefined ? { ruleId: decision.ruleId } : {}),
      requestId: ctx.id,
      sessionEpoch: ctx.claims.epoch,
    },
    left === undefined ? undefined : { holdMs: left },
  );
  if (deps.approvalConfig.mode === 'pending') throw pendingApprovalError(ticket.id, deps.approvalConfig.header);
  const outcome = await ticket.wait(ctx.signal);
  if (outcome !== 'approved') throw outcomeError(outcome, ticket.id);
  usedApproval(ctx, await deps.approvals.consume(ticket.id, callHash, { sessionEpoch: ctx.claims.epoch, requestId: ctx.id }));
}

function usedApproval(ctx: Judged, v: ApprovalView): void {
  ctx.approved = true;
  ctx.approval = { id: v.id, approvers: v.approvals.map((a) => a.approver) };
}

/**
 * A hold can outlast a policy edit (staff restricting a stock while its order waits for an approver) and the
 * hours it was admitted in (a trading window that closed while the approver took their time, a price that moved,
 * a trading state set): a call goes out only if the policy in force now, at this time, does not deny it. Its plain
 * and market-data rules are judged again; counters were charged once, at admission, and are not charged again.
 */
async function stillPolicyAllowed(deps: Pick<PipelineDeps, 'policy'>, j: Judged, d: Decision): Promise<void> {
  const [state, original] = await Promise.all([deps.policy.tradingState(j.bot.id, j.bot.account), deps.policy.originalOrder(policyCall(j))]);
  let step = deps.policy.plan(original === undefined ? policyCall(j) : { ...policyCall(j), original }, state);
  if (step.pending) step = deps.policy.decide(step.pending, step.pending.wanted === 0 ? {} : await deps.policy.marketData(step.pending));
  const now = step.decision;
  if (now?.outcome !== 'deny') return;
  const edited = now.policyVersion !== d.policyVersion;
  throw new GuardError(
    DECISION_ERRORS[now.ruleKind ?? ''] ?? 'KG3001',
    `rule=${now.ruleId ?? '?'} ${now.reason ?? ''} (${edited ? `policy ${now.policyVersion}, in force since this call was held under ${d.policyVersion}` : `judged again after the hold, policy ${now.policyVersion}`})`,
    rateLimited(now.ruleKind),
  );
}

export function approval(
  deps: Pick<PipelineDeps, 'approvals' | 'approvalConfig' | 'requestTimeoutMs' | 'sessions' | 'bots' | 'responder' | 'policy' | 'logger'>,
) {
  const stage = held(deps);
  return async (ctx: RequestContext): Promise<void> => {
    const j = judged(ctx);
    await stage(j).catch(async (err: unknown) => {
      // Stopped here, the call was never sent: its duplicate-guard claims are given back before the bot is answered,
      // so its honest retry of the same order (after a refusal, a lapsed or pending approval) is not its duplicate.
      if (j.decision.claimed?.length)
        await deps.policy
          .releaseClaims(j.decision)
          .catch((e: unknown) => deps.logger.warn({ err: String(e), requestId: j.id }, 'duplicate-guard claims not given back; they lapse with the window'));
      throw err;
    });
  };
}

function held(deps: Pick<PipelineDeps, 'approvals' | 'approvalConfig' | 'requestTimeoutMs' | 'sessions' | 'bots' | 'responder' | 'policy'>) {
  return async (j: Judged): Promise<void> => {
    const d = j.decision;
    if (d.outcome === 'allow') {
      // An approval id is single use even when this call would pass without
      // one: presenting it consumes it, a spent or foreign id is refused.
      if (j.approvalId) await awaitApproval(deps, j, d);
      return;
    }
    if (d.outcome === 'deny') {
      const code = DECISION_ERRORS[d.ruleKind ?? ''] ?? 'KG3001';
      const headers = d.retryAfterMs ? { 'retry-after': String(Math.ceil(d.retryAfterMs / 1000)) } : undefined;
      const retryAfterMs = d.retryAfterMs;
      throw new GuardError(code, `rule=${d.ruleId ?? '?'} ${d.reason ?? ''}`.trim(), {
        headers,
        ...(retryAfterMs ? { retryAfterMs } : {}),
        ...rateLimited(d.ruleKind),
      });
    }
    await awaitApproval(deps, j, d).catch(async (err: unknown) => {
      // A hold closed because the bot's sessions ended (an approver was refused: approval service) is told as that.
      if (err instanceof GuardError && err.code === 'KG3007') {
        await deps.sessions.checkLive(j.claims);
        if (!deps.bots.get(j.bot.id)?.enabled) throw new GuardError('KG2006');
      }
      throw err;
    });
    // The hold may have lasted minutes: a session ended, a bot disabled or a
    // lockdown pressed meanwhile must still stop the call (fail closed).
    await deps.sessions.checkLive(j.claims);
    if (!deps.bots.get(j.bot.id)?.enabled) throw new GuardError('KG2006');
    await deps.responder.checkLockdown({ botId: j.bot.id, account: j.bot.account, kind: j.entry.kind, body: j.json });
    await stillPolicyAllowed(deps, j, d);
  };
}
