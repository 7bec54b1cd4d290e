// After the bot has its answer: the outcome record (every route; a failed
// token exchange too) and what later after-stages need to know (did the TR
// call complete OK, which order number).
import type { RequestContext } from '../../context.js';
import type { PipelineDeps } from '../deps.js';
import { durabilityFor } from '../audit-intent.js';

/** Reads Kiwoom's return_code and ord_no from a small answer; large answers are data, not orders. */
function readOutcome(ctx: RequestContext): { returnCode: unknown; orderNo?: string } {
  if (!ctx.upstream || ctx.upstream.body.length >= 64 * 1024) return { returnCode: undefined };
  try {
    const j = JSON.parse(ctx.upstream.body.toString('utf8')) as Record<string, unknown>;
    return { returnCode: j.return_code, ...(typeof j.ord_no === 'string' ? { orderNo: j.ord_no } : {}) };
  } catch {
    return { returnCode: 'unparsed' };
  }
}

export function outcomeAudit(deps: Pick<PipelineDeps, 'auditor' | 'logger'>) {
  return async (ctx: RequestContext): Promise<void> => {
    if (ctx.route !== 'tr' || !ctx.bot) {
      if (ctx.error) {
        await deps.auditor
          .append(
            {
              type: 'call.outcome',
              requestId: ctx.id,
              route: ctx.route,
              botId: ctx.bot?.id,
              sourceIp: ctx.sourceIp,
              ok: false,
              code: ctx.error.code,
              stage: ctx.trail.at(-1),
            },
            { durability: 'write' },
          )
          .catch(() => undefined);
      }
      return;
    }
    const { returnCode, orderNo } = readOutcome(ctx);
    const ok = !ctx.error && ctx.upstream !== undefined && ctx.upstream.status === 200 && returnCode === 0;
    ctx.outcome = { ok, ...(orderNo ? { orderNo } : {}) };
    await deps.auditor
      .append(
        {
          type: 'call.outcome',
          requestId: ctx.id,
          botId: ctx.bot.id,
          apiId: ctx.apiId,
          kind: ctx.entry?.kind,
          account: ctx.bot.account,
          ok,
          code: ctx.error?.code,
          stage: ctx.trail.at(-1),
          upstreamStatus: ctx.upstream?.status,
          returnCode,
          orderNo,
          decision: ctx.decision ? { outcome: ctx.decision.outcome, ruleId: ctx.decision.ruleId, policyVersion: ctx.decision.policyVersion } : undefined,
          ms: Math.round((performance.now() - ctx.startedAt) * 100) / 100,
        },
        { durability: ctx.entry ? durabilityFor(ctx.entry.kind) : 'write' },
      )
      .catch((err) => deps.logger.error({ err: String(err), requestId: ctx.id }, 'outcome audit record failed'));
  };
}
