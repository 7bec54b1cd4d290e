// The drop-in token exchange and revoke: a bot sends its bot id and secret
// where it used to send Kiwoom's app key and secret key, and gets a sidecar
// JWT in Kiwoom's token shape.
import { GuardError } from '../../common/errors.js';
import { exchangeToken, revokeToken } from '../../auth/index.js';
import { jsonReply, type RequestContext } from '../context.js';
import type { PipelineDeps } from './deps.js';

export function tokenExchange(
  deps: Pick<PipelineDeps, 'bots' | 'sessions' | 'auditor' | 'okMessage' | 'realKey'> & Partial<Pick<PipelineDeps, 'risk' | 'clock' | 'loginLimiter'>>,
) {
  return async (ctx: RequestContext): Promise<void> => {
    // A bot secret that fails is counted across bots (risk stuffing detector); the count never blocks the answer.
    // exchangeToken names the bot: ctx.body is wiped by then (the secret never lingers in the request bytes).
    const { bot, response, jti } = await exchangeToken(
      ctx.body,
      deps.bots,
      deps.sessions,
      deps.okMessage,
      (k) => deps.realKey?.(ctx, k),
      async (id) => {
        deps.loginLimiter?.fail(ctx);
        await deps.risk?.noteAuthFailure(id, ctx.sourceIp, deps.clock?.()).catch(() => undefined);
      },
    );
    ctx.bot = bot;
    await deps.auditor.append({ type: 'session.issued', requestId: ctx.id, botId: bot.id, jti, sourceIp: ctx.sourceIp }, { durability: 'write' }).catch(() => {
      throw new GuardError('KG6001');
    });
    ctx.reply = jsonReply(200, response);
  };
}

export function tokenRevoke(
  deps: Pick<PipelineDeps, 'bots' | 'sessions' | 'auditor' | 'okMessage' | 'realKey'> & Partial<Pick<PipelineDeps, 'risk' | 'clock' | 'loginLimiter'>>,
) {
  return async (ctx: RequestContext): Promise<void> => {
    // Revoke takes a bot's secret too: a wrong one counts for the stuffing detector as at the token exchange.
    const { bot, claims } = await revokeToken(
      ctx.body,
      deps.bots,
      deps.sessions,
      (k) => deps.realKey?.(ctx, k),
      async (id) => {
        deps.loginLimiter?.fail(ctx);
        await deps.risk?.noteAuthFailure(id, ctx.sourceIp, deps.clock?.()).catch(() => undefined);
      },
    );
    ctx.bot = bot;
    await deps.auditor.append({ type: 'session.revoked', requestId: ctx.id, botId: bot.id, jti: claims.jti }).catch(() => undefined);
    ctx.reply = jsonReply(200, { return_code: 0, return_msg: deps.okMessage });
  };
}
