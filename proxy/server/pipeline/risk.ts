// Risk score in [0,1] with explainable contributions. Runs only for a live
// session: it has side effects (behaviour counters, automatic lockdown,
// alerts) a revoked token must not cause.
import { hashCall } from '../../approval/index.js';
import { GuardError } from '../../common/errors.js';
import { lookupApi } from '../../kiwoom/catalogue.js';
import { isMarketPriced, orderTerms } from '../../kiwoom/protocol/index.js';
import { detectorsOf, type RefusedOrder, type RiskAssessment, type RiskEngine, type RiskInput } from '../../risk/index.js';
import type { RequestContext, RiskView } from '../context.js';
import type { PipelineDeps } from './deps.js';
import { parsed, type Parsed } from './need.js';

/** The protocol's order quantity/price, or undefined when absent or malformed ("-5": the policy refuses it, the score ignores it). */
function valid(n: number | undefined): number | undefined {
  return n === undefined || Number.isNaN(n) ? undefined : n;
}

export function riskInput(ctx: Parsed, now: number): RiskInput {
  const b = ctx.json;
  // A market-priced order has no price of its own (risk() prices it from the holdings read when it can).
  const terms = orderTerms(ctx.entry.kind, b);
  const qty = valid(terms.quantity);
  const price = valid(terms.limitPrice);
  return {
    botId: ctx.bot.id,
    account: ctx.bot.account,
    apiId: ctx.apiId,
    kind: ctx.entry.kind,
    side: ctx.entry.side,
    stkCd: typeof b.stk_cd === 'string' ? b.stk_cd : undefined,
    qty,
    price: price || undefined,
    sourceIp: ctx.sourceIp,
    now,
  };
}

/** The new order a refused approval held, for the risk engine's cross-tenant herd (undefined for any other call). */
export function refusedOrderOf(rec: { account: string; apiId: string; summary: Readonly<Record<string, string>> }): RefusedOrder | undefined {
  const entry = lookupApi(rec.apiId);
  const stkCd = rec.summary.stk_cd;
  return entry?.kind === 'order' && entry.side && stkCd ? { account: rec.account, stkCd, side: entry.side } : undefined;
}

/**
 * True when the call names an approval this bot holds for exactly this call: the approval protocol's
 * retry of a held call, not counted again toward escalation or the policy's rate limits (it was counted
 * when it was held; its daily caps are charged when it goes out). A made-up id, or another call under a
 * real one, counts as a new call.
 */
async function retriesKnownApproval(deps: Pick<PipelineDeps, 'approvals'>, p: Parsed): Promise<boolean> {
  if (!p.approvalId) return false;
  const known = await deps.approvals.get(p.approvalId).catch(() => undefined);
  return known?.botId === p.bot.id && known.callHash === hashCall(p.bot.id, p.apiId, p.json);
}

export function risk(deps: Pick<PipelineDeps, 'risk' | 'responder' | 'logger' | 'clock' | 'approvals' | 'policy'>) {
  return async (ctx: RequestContext): Promise<void> => {
    const p = parsed(ctx);
    let input = riskInput(p, deps.clock());
    // A sell is judged against the position the bot last saw (its own balance
    // inquiry): "sells 95% of what it holds" is what draining looks like. An
    // order at the market has no price of its own: the read's current price of
    // a held name stands in, else the policy's reference price (the quote its
    // notional rules fetch for the same order, one cached broker call), so its
    // size in KRW is judged too.
    const atMarket = input.kind === 'order' && isMarketPriced(p.json.trde_tp);
    const stkCd = input.stkCd;
    if (stkCd && (input.side === 'sell' || atMarket)) {
      const held = await deps.responder.baselineHolding(input.account, stkCd);
      if (held !== undefined) {
        input = {
          ...input,
          ...(input.side === 'sell' ? { holdingQty: held.qty } : {}),
          ...(atMarket && held.price !== undefined ? { price: held.price, pricedBy: 'holdings' as const } : {}),
        };
      }
      if (atMarket && input.price === undefined && input.qty !== undefined && deps.risk.quotesMarketOrders) {
        // A quote that cannot be had leaves the order judged by quantity; the notional rules refuse it on their own.
        const quote = await deps.policy.referencePrice(input.botId, stkCd, typeof p.json.dmst_stex_tp === 'string' ? p.json.dmst_stex_tp : undefined);
        if (quote !== null) input = { ...input, price: quote, pricedBy: 'quote' };
      }
    }
    if (await retriesKnownApproval(deps, p)) {
      p.approvalRetry = true;
      input = { ...input, approvalRetry: true };
    }
    p.riskInput = input;
    const a = await deps.risk.assess(input);
    p.risk = await settleRisk(deps, a, { botId: input.botId, account: input.account, apiId: input.apiId, requestId: p.id });
  };
}

/**
 * What follows an assessment, for a REST call or a realtime message alike: at high risk the seed's
 * _handle_high_risk_anomaly (lock the bot down, alert, record the incident) and the call refused (KG3008);
 * at alert level an alert; otherwise the judgement as the call's audit record keeps it.
 */
export async function settleRisk(
  deps: { risk: Pick<RiskEngine, 'isHighRisk'>; responder: Pick<PipelineDeps['responder'], 'onHighRisk' | 'onRiskAlert'>; logger: PipelineDeps['logger'] },
  a: RiskAssessment,
  call: { botId: string; account: string; apiId: string; requestId: string },
): Promise<RiskView> {
  if (deps.risk.isHighRisk(a)) {
    await deps.responder.onHighRisk(a, call);
    throw new GuardError('KG3008', `automatic lockdown: risk ${a.score.toFixed(2)} (${detectorsOf(a.contributions).join(', ')})`);
  }
  if (a.level === 'alert') void deps.responder.onRiskAlert(a, call).catch((err) => deps.logger.warn({ err: String(err) }, 'risk alert failed'));
  return {
    score: a.score,
    level: a.level,
    contributions: a.contributions.map((c) => ({ detector: c.detector, score: c.score, weight: c.weight, contribution: c.contribution, reason: c.reason })),
    ...(a.model ? { model: a.model } : {}),
  };
}
