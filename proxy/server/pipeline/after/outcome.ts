// After the bot has its answer: the outcome record (every route; a failed
// token exchange too) and what later after-stages need to know (did the TR
// call complete OK, which order number).
import { returnCodeOf, returnedOk } from '../../../kiwoom/protocol/index.js';
import type { RequestContext } from '../../context.js';
import type { PipelineDeps } from '../deps.js';
import { durabilityFor } from '../audit-intent.js';

/** Answers up to this size are parsed whole (order numbers are in small answers). */
export const SMALL_ANSWER_BYTES = 64 * 1024;
/** How far from the end of a larger answer its return_code may start. */
const RETURN_TAIL_BYTES = 4096;
const RETURN_CODE_KEY = Buffer.from('"return_code":');

/** The longest order number, and return_code given as text, the outcome record copies from an answer. */
const MAX_RECORDED_TEXT = 32;

/**
 * Kiwoom's return_code is a number or a numeric string (returnCodeOf). The record holds what the upstream sent only when it is one (or short text):
 * a value of another shape is named by its shape, so an answer cannot make the record too large to be written.
 */
function recordedCode(v: unknown): unknown {
  if (v === undefined || typeof v === 'number' || (typeof v === 'string' && v.length <= MAX_RECORDED_TEXT)) return v;
  return `malformed (${v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v})`;
}

/** Reads Kiwoom's return_code and ord_no: a small answer whole, a large one (charts, lists) from its tail. */
function readOutcome(ctx: RequestContext): { returnCode: unknown; orderNo?: string } {
  if (!ctx.upstream) return { returnCode: undefined };
  const body = ctx.upstream.body;
  if (body.length >= SMALL_ANSWER_BYTES) return { returnCode: recordedCode(trailingReturnCode(body)) };
  try {
    const j = answerOf(ctx);
    const orderNo = typeof j.ord_no === 'string' && j.ord_no.length <= MAX_RECORDED_TEXT ? j.ord_no : undefined;
    return { returnCode: recordedCode(j.return_code), ...(orderNo ? { orderNo } : {}) };
  } catch {
    return { returnCode: 'unparsed' };
  }
}

/**
 * The answer's JSON for an after-stage that reads it (holdings, daily volume): parsed once per call, by the
 * outcome stage for a small answer, by the first stage that needs a large one. Throws when it is not JSON.
 */
export function answerOf(ctx: RequestContext): Record<string, unknown> {
  ctx.answer ??= JSON.parse(ctx.upstream?.body.toString('utf8') ?? '') as Record<string, unknown>;
  return ctx.answer;
}

/**
 * Kiwoom ends every answer with its return_code and return_msg. A chart page (600 days, ~110 KB) or a
 * listing runs to megabytes, and parsing 1 MB whole holds the event loop ~25 ms, so the code is read from
 * the tail: the last `"return_code":` within RETURN_TAIL_BYTES of the end, and what follows it must parse
 * as the closing members of an object. Inside a row it would be followed by the row's closing brackets and
 * fail; inside a string its quotes are escaped, so it cannot match. Anything else: undefined (not OK).
 */
export function trailingReturnCode(body: Buffer): unknown {
  const at = body.lastIndexOf(RETURN_CODE_KEY);
  if (at < 0 || at < body.length - RETURN_TAIL_BYTES) return undefined;
  try {
    const members = JSON.parse(`{${body.subarray(at).toString('utf8')}`) as Record<string, unknown>;
    return members.return_code;
  } catch {
    return undefined;
  }
}

/**
 * The call certainly did not take effect at the broker: it never left (refused or timed out while held for
 * approval, stopped by a lockdown, the governor, the broker session or the re-check before it was written), or
 * Kiwoom answered it with a refusal (a non-zero return_code below HTTP 500, or a refusal the upstream path
 * handled: rate, a token refused before the call was read). A server error, an answer that cannot be read, or
 * no answer to a call that was written (a time-out, a dropped connection) may hide a placed order: not this
 * (the daily caps keep their charge).
 */
function notPlaced(ctx: RequestContext, returnCode: unknown): boolean {
  if (ctx.upstream) {
    const code = returnCodeOf(returnCode);
    return ctx.upstream.status < 500 && code !== undefined && code !== 0;
  }
  return ctx.wire !== 'writing';
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
    const ok = !ctx.error && ctx.upstream !== undefined && ctx.upstream.status === 200 && returnedOk(returnCode);
    ctx.outcome = { ok, ...(orderNo ? { orderNo } : {}), ...(!ok && notPlaced(ctx, returnCode) ? { notPlaced: true } : {}) };
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
          approval: ctx.approval,
          ms: Math.round((performance.now() - ctx.startedAt) * 100) / 100,
        },
        { durability: ctx.entry ? durabilityFor(ctx.entry.kind) : 'write' },
      )
      .catch((err) => deps.logger.error({ err: String(err), requestId: ctx.id }, 'outcome audit record failed'));
  };
}
