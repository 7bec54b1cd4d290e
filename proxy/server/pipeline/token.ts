// The drop-in token exchange and revoke: a bot sends its bot id and secret
// where it used to send Kiwoom's app key and secret key, and gets a sidecar
// JWT in Kiwoom's token shape.
import { GuardError } from '../../common/errors.js';
import { exchangeToken, revokeToken, type ExchangeHooks } from '../../auth/index.js';
import { jsonReply, type RequestContext } from '../context.js';
import type { PipelineDeps } from './deps.js';

type TokenDeps = Pick<PipelineDeps, 'bots' | 'sessions' | 'auditor' | 'okMessage' | 'realKey'> &
  Partial<Pick<PipelineDeps, 'risk' | 'clock' | 'loginLimiter' | 'responder'>>;

/**
 * Token and revoke alike: a real Kiwoom key is reported; a (source, bot id) cooling down is refused before its
 * secret is checked; a failed secret is counted for that pair and across bots (risk stuffing detector, which
 * never blocks the answer).
 */
function loginHooks(deps: TokenDeps, ctx: RequestContext): ExchangeHooks {
  const limiter = deps.loginLimiter;
  return {
    onRealKey: (k) => deps.realKey?.(ctx, k),
    // A refusal after the secret was found good (disabled, locked down) is the bot's: its outcome record names it.
    onAuthenticated: (bot) => {
      ctx.bot = bot;
    },
    ...(limiter ? { admit: (id: string) => limiter.admit(ctx, id) } : {}),
    onBadSecret: async (id) => {
      // Uncounted would be unlimited: a Store that cannot record it answers KG7001 instead of the wrong-secret refusal.
      await limiter?.fail(ctx, id);
      await deps.risk?.noteAuthFailure(id, ctx.sourceIp, deps.clock?.(), deps.bots.get(id) !== undefined).catch(() => undefined);
    },
  };
}

/**
 * A bot under lockdown gets no new session (the lockdown ended them): the lockdown's own error, naming the incident.
 * Only a lock found refuses: after a Redis flush every call is refused KG7003 until confirmed, a token changes nothing.
 */
async function notLocked(responder: NonNullable<TokenDeps['responder']>, bot: { readonly id: string; readonly account: string }): Promise<void> {
  const incident = await responder.lockedBy(bot.id, bot.account);
  if (incident) throw new GuardError('KG3008', `incident ${incident}`);
}

export function tokenExchange(deps: TokenDeps) {
  return async (ctx: RequestContext): Promise<void> => {
    // exchangeToken names the bot: ctx.body is wiped by then (the secret never lingers in the request bytes).
    const hooks: ExchangeHooks = {
      ...loginHooks(deps, ctx),
      ...(deps.responder ? { mayIssue: (b) => notLocked(deps.responder!, b) } : {}),
    };
    const { bot, response, jti } = await exchangeToken(ctx.body, deps.bots, deps.sessions, deps.okMessage, hooks, ctx.sourceIp);
    ctx.bot = bot;
    await deps.auditor.append({ type: 'session.issued', requestId: ctx.id, botId: bot.id, jti, sourceIp: ctx.sourceIp }, { durability: 'write' }).catch(() => {
      throw new GuardError('KG6001');
    });
    ctx.reply = jsonReply(200, response);
  };
}

export function tokenRevoke(deps: TokenDeps) {
  return async (ctx: RequestContext): Promise<void> => {
    // Revoke takes a bot's secret too: limited and counted as at the token exchange.
    const { bot, claims } = await revokeToken(ctx.body, deps.bots, deps.sessions, loginHooks(deps, ctx));
    ctx.bot = bot;
    await deps.auditor.append({ type: 'session.revoked', requestId: ctx.id, botId: bot.id, jti: claims.jti }).catch(() => undefined);
    ctx.reply = jsonReply(200, { return_code: 0, return_msg: deps.okMessage });
  };
}
