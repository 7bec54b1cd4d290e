// Bot logins per source address: the token exchange and revoke both take a
// bot's secret. After tokens.authFailures.maxFailures wrong ones within
// windowMs an address is refused (429, KG3005, retry-after) for blockMs,
// right secret or not (a guess cannot be confirmed meanwhile), before its
// body, the secret, is read. The stuffing detector counts distinct bots per
// source and only scores later calls; this is what stops one bot's secret
// being guessed. Guesses sent at once cannot outrun the count: an address has
// at most maxFailures minus its failures so far in flight, the rest wait for
// one to finish (and are refused once it cools down). Per replica and in
// memory, as the admin listener's limiter; blockMs 0 turns it off.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { AuthFailureLimiter, sourceKey, type AdminAuthFailureLimits } from '../../admin/auth-limiter.js';
import { GuardError } from '../../common/errors.js';
import { counter } from '../../common/metrics.js';
import type { RequestContext } from '../context.js';

export interface LoginLimiter {
  /** Throws KG3005 while the request's source cools down; else waits for a slot, held until the response closes. */
  check(ctx: RequestContext): Promise<void>;
  /** Records one wrong bot secret from the request's source. */
  fail(ctx: RequestContext): void;
}

function refusal(retryAfterSeconds: number): GuardError {
  return new GuardError('KG3005', 'too many wrong bot secrets from this address', { headers: { 'retry-after': String(retryAfterSeconds) } });
}

export function createLoginLimiter(limits: AdminAuthFailureLimits, registry: Registry, logger: Logger, clock?: () => number): LoginLimiter {
  const limiter = new AuthFailureLimiter(limits, clock);
  const lockouts = counter(registry, 'kguard_bot_auth_lockouts_total', 'Source addresses put into the bot-login cool-down after repeated wrong bot secrets');
  const refused = counter(registry, 'kguard_bot_auth_rate_limited_total', 'Bot token/revoke requests refused 429 because their source is cooling down');
  /** Logins in flight per source (bounded by open connections), and who waits for one to finish. */
  const inFlight = new Map<string, number>();
  const waiting = new Map<string, Set<() => void>>();

  function release(source: string): void {
    const n = (inFlight.get(source) ?? 1) - 1;
    if (n > 0) inFlight.set(source, n);
    else inFlight.delete(source);
    const wake = waiting.get(source);
    waiting.delete(source);
    for (const w of wake ?? []) w();
  }

  function slotFreed(source: string, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const set = waiting.get(source) ?? new Set<() => void>();
      waiting.set(source, set);
      const onAbort = () => {
        set.delete(wake);
        reject(refusal(1));
      };
      const wake = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      set.add(wake);
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  return {
    async check(ctx) {
      if (limits.blockMs === 0) return; // no cool-down configured: nothing to wait for
      const source = sourceKey(ctx.sourceIp);
      for (;;) {
        const verdict = limiter.check(source);
        if (verdict.blocked) {
          refused.inc();
          throw refusal(verdict.retryAfterSeconds);
        }
        const busy = inFlight.get(source) ?? 0;
        if (limiter.failures(source) + busy < limits.maxFailures) {
          inFlight.set(source, busy + 1);
          ctx.res.once('close', () => release(source));
          return;
        }
        await slotFreed(source, ctx.signal);
      }
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
