// Who is calling: the sidecar JWT's signature, issuer, audience and expiry
// here; the store's verdict (revoked KG2004, bot disabled KG2006, sessions
// killed KG2007) starts here and is awaited by the `session` stage together
// with the other reads, so it costs no wait of its own.
import { GuardError } from '../../common/errors.js';
import { bearerToken, issuedTo, unusableToken } from '../../auth/index.js';
import type { NamedStage, RequestContext } from '../context.js';
import type { PipelineDeps } from './deps.js';

export function authenticate(deps: Pick<PipelineDeps, 'sessions' | 'bots'>) {
  return async (ctx: RequestContext): Promise<void> => {
    const claims = await deps.sessions.verifySignature(bearerToken(ctx.req.headers.authorization));
    const live = deps.sessions.checkLive(claims);
    // Awaited later (the session stage, or sessionFirst on an error): never an unhandled rejection meanwhile.
    live.catch(() => undefined);
    ctx.liveCheck = live;
    ctx.claims = claims;
    const bot = deps.bots.get(claims.botId);
    if (!bot) throw unusableToken('KG2002', 'unknown bot');
    if (!issuedTo(claims, bot)) throw unusableToken('KG2007', 'issued to an earlier bot of this id');
    if (!bot.enabled) throw new GuardError('KG2006');
    ctx.bot = bot;
  };
}

/**
 * Between authenticate and the session verdict, an error is answered only
 * after the session check: a revoked, killed or disabled session is refused
 * with its own code, as when the check ran first.
 */
export function sessionFirst(stage: NamedStage): NamedStage {
  return {
    name: stage.name,
    async run(ctx) {
      try {
        await stage.run(ctx);
      } catch (err) {
        await ctx.liveCheck;
        throw err;
      }
    },
  };
}
