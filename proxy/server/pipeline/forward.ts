// Forward to Kiwoom through the key's governor slot and broker session
// (../../kiwoom/upstream.ts), and answer the bot. A re-serialisation of
// exactly the judged value goes out: no duplicate keys or odd encodings the
// broker could read differently. The broker token never comes back. An order
// the broker accepted is recorded for the policy before the bot is answered.
import { GuardError } from '../../common/errors.js';
import { neverWritten, type TrResponse } from '../../kiwoom/client.js';
import { safeHeaderValue } from '../http.js';
import type { RequestContext } from '../context.js';
import type { PipelineDeps } from './deps.js';
import { judged, type Judged } from './need.js';
import { acceptedOrderNo, recordOrder } from './order-book.js';
import { answerOf, SMALL_ANSWER_BYTES } from './after/outcome.js';
import { BUILTIN, isStricterState, type EffectiveTradingState } from '../../policy/index.js';

const JSON_CONTENT_TYPE_PATTERN = /^application\/json(\s*;\s*charset=[A-Za-z0-9_-]{1,32})?$/i;

const isSpace = (b: number | undefined): boolean => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

/**
 * Kiwoom answers with one JSON object, its refusals and server errors included. Anything else (a load balancer's
 * HTML error page, an empty body) is not passed on under a JSON content type: the bot gets KG5005 instead. A small
 * answer is parsed (once: the after-stages reuse it); a large one (charts, listings) is not parsed on the bot's path
 * and must at least be framed as one object.
 */
function isObjectAnswer(j: Judged, body: Buffer): boolean {
  if (body.length < SMALL_ANSWER_BYTES) {
    try {
      const a: unknown = answerOf(j as RequestContext);
      return typeof a === 'object' && a !== null && !Array.isArray(a);
    } catch {
      return false;
    }
  }
  let start = 0;
  let end = body.length - 1;
  while (isSpace(body[start])) start++;
  while (end > start && isSpace(body[end])) end--;
  return body[start] === 0x7b /* { */ && body[end] === 0x7d /* } */;
}

/**
 * Orders are never aborted once sent: the bot leaving does not un-send an order, and we want its outcome audited.
 * Until it is sent (a governor slot, the key's broker token) an order whose bot left stops: a bot that timed out
 * retries, and the waiting one would be placed too.
 */
function keepSent(ctx: Judged): boolean {
  const k = ctx.entry.kind;
  return k !== 'query' && k !== 'account';
}

/**
 * The session, the bot, the lock flags and the operators' trading state, read again right before an order is
 * written (one wait). A trading state stricter than the one the policy judged the call under refuses it (a cancel
 * stays open in every state): the bot sends it again and it is judged under the new state.
 */
async function stillAllowed(deps: Pick<PipelineDeps, 'responder' | 'sessions' | 'bots' | 'policy'>, j: Judged): Promise<void> {
  const [live, lock, read] = await Promise.allSettled([
    deps.sessions.checkLive(j.claims),
    deps.responder.checkLockdown({ botId: j.bot.id, account: j.bot.account, kind: j.entry.kind, body: j.json }),
    j.entry.kind === 'cancel' ? undefined : deps.policy.tradingState(j.bot.id, j.bot.account),
  ]);
  // A lockdown also ends the bot's sessions: its own answer (KG3008, naming the incident) is the one the bot gets.
  for (const r of [lock, live, read]) if (r.status === 'rejected') throw r.reason;
  const state = (read as PromiseFulfilledResult<EffectiveTradingState | undefined>).value;
  if (!deps.bots.get(j.bot.id)?.enabled) throw new GuardError('KG2006');
  const judgedUnder = await j.prefetched?.tradingState.state;
  if (state !== undefined && judgedUnder !== undefined && isStricterState(state.state, judgedUnder.state)) {
    const why = state.reason ? ` (${state.reason})` : '';
    throw new GuardError(
      'KG3001',
      `rule=${BUILTIN.tradingState} trading became ${state.state} at ${state.source} scope${why} after this call was judged under ${judgedUnder.state}; send it again to be judged under ${state.state}`,
    );
  }
}

/** What a failed upstream call may hide: a written order whose answer was lost, cut off, too large or unreadable. */
const ANSWER_LOST: ReadonlySet<string> = new Set(['KG5001', 'KG5002', 'KG5003', 'KG5005']);

/**
 * An order, modify or cancel that was written to Kiwoom and got no answer the sidecar could pass on may have been
 * placed: the bot is told so (KG5011), never "cannot connect" or "timed out", which a bot reads as "not sent" and
 * sends again. A connection that was never made (refused, no route, TLS refused) keeps its own code.
 */
function fateUnknown(j: Judged, err: unknown): unknown {
  if (!keepSent(j) || j.wire === undefined || !(err instanceof GuardError) || !ANSWER_LOST.has(err.code) || neverWritten(err)) return err;
  return new GuardError('KG5011', `${err.code}${err.detail ? ` ${err.detail}` : ''}`, { cause: err });
}

export function forward(deps: Pick<PipelineDeps, 'upstream' | 'responder' | 'sessions' | 'bots' | 'policy' | 'logger'>) {
  return async (ctx: RequestContext): Promise<void> => {
    const j = judged(ctx);
    if (j.signal.aborted) throw new GuardError('KG5002', 'bot disconnected');
    const t0 = performance.now();
    let up: TrResponse;
    try {
      up = await deps.upstream.call({
        botId: j.bot.id,
        entry: j.entry,
        body: Buffer.from(JSON.stringify(j.json)),
        contYn: j.contYn,
        nextKey: j.nextKey,
        signal: j.signal,
        keepSent: keepSent(j),
        // A lockdown pressed, a session ended or the bot disabled after the pipeline's checks (while the order was
        // scored, judged, audited, or waited for a slot or the key's token, here or on another replica) still stops it.
        ...(keepSent(j) ? { beforeSend: () => stillAllowed(deps, j) } : {}),
        onWire: (phase) => {
          j.wire = phase;
        },
        requestId: j.id,
      });
      j.upstream = up;
      if (!isObjectAnswer(j, up.body)) throw new GuardError('KG5005', `HTTP ${up.status} answer is not a JSON object`);
    } catch (err) {
      const fate = fateUnknown(j, err);
      // Its answer lost, the order may have been placed after a lockdown's cancel-all listed the account: if the bot
      // is locked by now, that cancel-all runs again, as for an order whose acceptance was read (below).
      if (fate instanceof GuardError && fate.code === 'KG5011' && (j.entry.kind === 'order' || j.entry.kind === 'modify'))
        void deps.responder.orderAccepted({ botId: j.bot.id, account: j.bot.account, apiId: j.entry.apiId, requestId: j.id });
      throw fate;
    } finally {
      j.upstreamMs = performance.now() - t0;
    }
    const ordNo = acceptedOrderNo(j);
    await recordOrder(deps, j, ordNo);
    // Written before a lockdown's flags were set, it may have been placed after its cancel-all listed the account:
    // if the bot is locked by now, that cancel-all runs again (in the background; the bot has its answer).
    if (ordNo !== undefined && (j.entry.kind === 'order' || j.entry.kind === 'modify'))
      void deps.responder.orderAccepted({ botId: j.bot.id, account: j.bot.account, apiId: j.entry.apiId, ordNo });
    // Only a plain JSON content type is copied; anything else is replaced, never echoed.
    const headers: Record<string, string> = { 'content-type': safeHeaderValue(up.contentType, JSON_CONTENT_TYPE_PATTERN) ?? 'application/json;charset=UTF-8' };
    const apiId = safeHeaderValue(up.apiId, /^[a-z]{2}\d{5}$/);
    const contYn = safeHeaderValue(up.contYn, /^[YN]$/);
    // Kiwoom sends next-key on every answer, empty on the last page: passed on as sent, for clients that read it by index.
    const nextKey = up.nextKey === '' ? '' : safeHeaderValue(up.nextKey);
    if (apiId) headers['api-id'] = apiId;
    if (contYn) headers['cont-yn'] = contYn;
    if (nextKey !== undefined) headers['next-key'] = nextKey;
    j.reply = { status: up.status, headers, body: up.body };
  };
}
