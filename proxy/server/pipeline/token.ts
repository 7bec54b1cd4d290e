// The drop-in token exchange and revoke: a bot sends its bot id and secret
// where it used to send Kiwoom's app key and secret key, and gets a sidecar
// JWT in Kiwoom's token shape.
import { GuardError } from '../../common/errors.js';
import { exchangeToken, revokeToken } from '../../auth/index.js';
import { jsonReply, type RequestContext } from '../context.js';
import type { PipelineDeps } from './deps.js';

/** The bot id a failed exchange named (not a secret: Kiwoom's appkey field carries the bot id), for the stuffing counts. */
function claimedBotId(body: Buffer): string | undefined {
  try {
    const id = (JSON.parse(body.toString('utf8')) as { appkey?: unknown }).appkey;
    return typeof id === 'string' && id.length > 0 && id.length <= 64 ? id : undefined;
  } catch {
    return undefined;
  }
}

export function tokenExchange(
  deps: Pick<PipelineDeps, 'bots' | 'sessions' | 'auditor' | 'okMessage' | 'realKey'> & Partial<Pick<PipelineDeps, 'risk' | 'clock'>>,
) {
  return async (ctx: RequestContext): Promise<void> => {
    const { bot, response, jti } = await exchangeToken(ctx.body, deps.bots, deps.sessions, deps.okMessage, (k) => deps.realKey?.(ctx, k)).catch(
      async (err: unknown) => {
        // A bot secret that fails is counted across bots (risk stuffing detector); the count never blocks the answer.
        const id = err instanceof GuardError && err.code === 'KG2005' ? claimedBotId(ctx.body) : undefined;
        if (id && deps.risk) await deps.risk.noteAuthFailure(id, ctx.sourceIp, deps.clock?.()).catch(() => undefined);
        throw err;
      },
    );
    ctx.bot = bot;
    await deps.auditor.append({ type: 'session.issued', requestId: ctx.id, botId: bot.id, jti, sourceIp: ctx.sourceIp }, { durability: 'write' }).catch(() => {
      throw new GuardError('KG6001');
    });
    ctx.reply = jsonReply(200, response);
  };
}

export function tokenRevoke(deps: Pick<PipelineDeps, 'bots' | 'sessions' | 'auditor' | 'okMessage' | 'realKey'>) {
  return async (ctx: RequestContext): Promise<void> => {
    const { bot, claims } = await revokeToken(ctx.body, deps.bots, deps.sessions, (k) => deps.realKey?.(ctx, k));
    ctx.bot = bot;
    await deps.auditor.append({ type: 'session.revoked', requestId: ctx.id, botId: bot.id, jti: claims.jti }).catch(() => undefined);
    ctx.reply = jsonReply(200, { return_code: 0, return_msg: deps.okMessage });
  };
}
