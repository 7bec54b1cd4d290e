// Bot logins per source address: the token exchange and revoke both take a
// bot's secret. After tokens.authFailures.maxFailures wrong ones within
// windowMs an address is refused (429, KG3005, retry-after) for blockMs,
// right secret or not (a guess cannot be confirmed meanwhile), before its
// body, the secret, is read. The stuffing detector counts distinct bots per
// source and only scores later calls; this is what stops one bot's secret
// being guessed. Per replica and in memory, as the admin listener's limiter.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { AuthFailureLimiter, sourceKey, type AdminAuthFailureLimits } from '../../admin/auth-limiter.js';
import { GuardError } from '../../common/errors.js';
import { counter } from '../../common/metrics.js';
import type { RequestContext } from '../context.js';

export interface LoginLimiter {
  /** Throws KG3005 while the request's source cools down. */
  check(ctx: RequestContext): void;
  /** Records one wrong bot secret from the request's source. */
  fail(ctx: RequestContext): void;
}

export function createLoginLimiter(limits: AdminAuthFailureLimits, registry: Registry, logger: Logger, clock?: () => number): LoginLimiter {
  const limiter = new AuthFailureLimiter(limits, clock);
  const lockouts = counter(registry, 'kguard_bot_auth_lockouts_total', 'Source addresses put into the bot-login cool-down after repeated wrong bot secrets');
  const refused = counter(registry, 'kguard_bot_auth_rate_limited_total', 'Bot token/revoke requests refused 429 because their source is cooling down');
  return {
    check(ctx) {
      const verdict = limiter.check(sourceKey(ctx.sourceIp));
      if (!verdict.blocked) return;
      refused.inc();
      throw new GuardError('KG3005', 'too many wrong bot secrets from this address', { headers: { 'retry-after': String(verdict.retryAfterSeconds) } });
    },
    fail(ctx) {
      const source = sourceKey(ctx.sourceIp);
      const outcome = limiter.fail(source);
      if (!outcome.blockedNow) return;
      lockouts.inc();
      logger.warn(
        { source, failures: outcome.failures, windowMs: limits.windowMs, blockMs: limits.blockMs },
        'bot-login source cooling down after repeated wrong bot secrets; its token and revoke requests get 429',
      );
    },
  };
}
