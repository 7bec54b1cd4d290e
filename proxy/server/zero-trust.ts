// The zero-trust stages' glue: risk scoring before the policy decides,
// automatic lockdown on a high-risk call, holds for step-up / admin approval,
// and learning baselines only from calls that were allowed and completed.
import { GuardError } from '../common/errors.js';
import { hashCall, outcomeError, pendingApprovalError, type ApprovalService, type ApprovalConfig } from '../approval/index.js';
import type { RiskEngine, RiskInput } from '../risk/index.js';
import type { Responder } from '../response/index.js';
import type { Decision } from '../policy/types.js';
import type { Logger } from 'pino';
import type { RequestContext, RiskView } from './context.js';

function num(v: unknown): number | undefined {
  if (typeof v !== 'string' && typeof v !== 'number') return undefined;
  const n = Number(String(v).replace(/^\+/, ''));
  return Number.isFinite(n) && String(v).trim() !== '' ? Math.abs(n) : undefined;
}

export function riskInput(ctx: RequestContext, now: number): RiskInput {
  const b = ctx.json ?? {};
  const qty = num(b.ord_qty ?? b.mdfy_qty ?? b.cncl_qty);
  const price = num(b.ord_uv ?? b.mdfy_uv);
  return {
    botId: ctx.bot!.id, account: ctx.bot!.account, apiId: ctx.apiId!, kind: ctx.entry!.kind, side: ctx.entry!.side,
    stkCd: typeof b.stk_cd === 'string' ? b.stk_cd : undefined, qty, price: price || undefined,
    sourceIp: ctx.sourceIp, now,
  };
}

export interface ZeroTrustDeps {
  risk: RiskEngine;
  approvals: ApprovalService;
  approvalConfig: ApprovalConfig;
  responder: Responder;
  logger: Logger;
  clock: () => number;
}

export function zeroTrustStages(d: ZeroTrustDeps) {
  const inputs = new WeakMap<RequestContext, RiskInput>();
  return {
    checkLockdown: (ctx: RequestContext) =>
      d.responder.checkLockdown({ botId: ctx.bot!.id, account: ctx.bot!.account, kind: ctx.entry!.kind, body: ctx.json }),

    async assessRisk(ctx: RequestContext): Promise<RiskView> {
      let input = riskInput(ctx, d.clock());
      // A sell is judged against the position the bot last saw (its own balance
      // inquiry): "sells 95% of what it holds" is what draining looks like.
      if (input.side === 'sell' && input.stkCd) {
        const held = await d.responder.baselineHolding(input.account, input.stkCd);
        if (held !== undefined) input = { ...input, holdingQty: held };
      }
      inputs.set(ctx, input);
      const a = await d.risk.assess(input);
      const call = { botId: input.botId, account: input.account, apiId: input.apiId, requestId: ctx.id };
      if (d.risk.isHighRisk(a)) {
        // The seed's _handle_high_risk_anomaly: lock the bot down, alert, record the incident, refuse the call.
        await d.responder.onHighRisk(a, call);
        throw new GuardError('KG3008', `automatic lockdown: risk ${a.score.toFixed(2)} (${a.contributions.map((c) => c.detector).join(', ')})`);
      }
      if (a.level === 'alert') void d.responder.onRiskAlert(a, call).catch((err) => d.logger.warn({ err: String(err) }, 'risk alert failed'));
      return { score: a.score, contributions: a.contributions.map((c) => ({ detector: c.detector, score: c.score, weight: c.weight, reason: c.reason })) };
    },

    async awaitApproval(ctx: RequestContext, decision: Decision): Promise<void> {
      const callHash = hashCall(ctx.bot!.id, ctx.apiId!, ctx.json);
      if (ctx.approvalId) {
        // A retry after a pending-approval error: the approval must match this exact call, once.
        await d.approvals.consume(ctx.approvalId, callHash);
        return;
      }
      const ticket = await d.approvals.request({
        botId: ctx.bot!.id, account: ctx.bot!.account, apiId: ctx.apiId!, body: ctx.json, owner: ctx.bot!.owner,
        score: ctx.risk?.score ?? 0, level: decision.outcome === 'hold' ? 'admin' : 'step_up',
        reasons: [decision.reason ?? decision.ruleId ?? 'risk', ...(ctx.risk?.contributions.map((c) => c.reason) ?? [])],
        requestId: ctx.id,
      });
      if (d.approvalConfig.mode === 'pending') throw pendingApprovalError(ticket.id, d.approvalConfig.header);
      const outcome = await ticket.wait(ctx.signal);
      if (outcome !== 'approved') throw outcomeError(outcome, ticket.id);
      await d.approvals.consume(ticket.id, callHash);
    },

    /** Baselines learn only from calls that were allowed and completed. */
    async learn(ctx: RequestContext, ok: boolean): Promise<void> {
      const input = inputs.get(ctx);
      if (!input) return;
      await d.risk.learn(input, { allowed: ctx.decision?.outcome !== 'deny' && !ctx.error, completed: ok });
    },
  };
}
