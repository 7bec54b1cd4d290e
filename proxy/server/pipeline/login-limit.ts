// Bot logins per (source address, bot id): the token exchange and revoke both
// take a bot's secret. After tokens.authFailures.maxFailures wrong ones for a
// bot id from an address within windowMs, that bot id is refused there (429,
// KG3005, retry-after) for blockMs, right secret or not (a guess cannot be
// confirmed meanwhile). Other bots on the same address (one host, a NAT, a
// Kubernetes SNAT) are not affected: one bot with a stale secret retrying in a
// loop locks out only itself. An unknown bot id is counted the same way, so
// the answers tell nothing of which ids exist; guessing across bots is the
// stuffing detector's (risk.noteAuthFailure). The check runs after the body's
// masked parse (the bot id is in it) and before the secret is checked.
// Guesses sent at once cannot outrun the count: a (source, bot) has at most
// maxFailures minus its failures so far in flight, the rest wait for one to
// finish (and are refused once it cools down). With the in-memory Store (one
// process) it is kept here, at most maxSources pairs tracked, as the admin
// listener's limiter; with Redis it is kept there, shared by every replica
// (login-limit-store.ts). blockMs 0 turns it off.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { AuthFailureLimiter, sourceKey, type AdminAuthFailureLimits } from '../../admin/auth-limiter.js';
import { BOT_ID_PATTERN } from '../../auth/bots.js';
import { GuardError } from '../../common/errors.js';
import { counter } from '../../common/metrics.js';
import type { Store } from '../../state/types.js';
import type { RequestContext } from '../context.js';
import { createStoreLoginLimiter } from './login-limit-store.js';
import { PairWaiters } from './login-waiters.js';

export interface LoginLimiter {
  /**
   * Throws KG3005 while this bot id cools down at the request's source; else waits for a slot and
   * returns its release, to be called once the secret has been checked (and a failure recorded).
   */
  admit(ctx: RequestContext, botId: string): Promise<() => void>;
  /** Records one wrong secret (or unknown id) for this bot id from the request's source (KG7001 when the Store cannot). */
  fail(ctx: RequestContext, botId: string): Promise<void>;
}

function refusal(retryAfterSeconds: number): GuardError {
  return new GuardError('KG3005', 'too many wrong secrets for this bot from this address', { headers: { 'retry-after': String(retryAfterSeconds) } });
}

/** The key a login is counted under: source address (IPv6 by /64) and bot id; no source key holds a space. */
const pairKey = (ctx: RequestContext, botId: string): string => `${sourceKey(ctx.sourceIp)} ${botId}`;

/** `store`: a Redis Store keeps the counts there, shared by the replicas; else (memory, or none) this process keeps them. */
export function createLoginLimiter(
  limits: AdminAuthFailureLimits,
  registry: Registry,
  logger: Logger,
  opts: { clock?: () => number; store?: Store } = {},
): LoginLimiter {
  const lockouts = counter(
    registry,
    'kguard_bot_auth_lockouts_total',
    'Bot ids put into the bot-login cool-down at a source address after repeated wrong bot secrets',
  );
  const refused = counter(
    registry,
    'kguard_bot_auth_rate_limited_total',
    'Bot token/revoke requests refused 429 because their bot id cools down at their source',
  );
  function lockedOut(ctx: RequestContext, botId: string, failures: number): void {
    lockouts.inc();
    logger.warn(
      {
        source: sourceKey(ctx.sourceIp),
        // Only what could name a bot: anything else a client sent as its id stays out of the log.
        botId: BOT_ID_PATTERN.test(botId) ? botId : '(not a bot id)',
        failures,
        windowMs: limits.windowMs,
        blockMs: limits.blockMs,
      },
      'bot-login cool-down after repeated wrong bot secrets: this bot id gets 429 on token and revoke from this address; other bots there are unaffected',
    );
  }
  if (limits.blockMs === 0) return { admit: async () => () => undefined, fail: async () => undefined }; // no cool-down configured
  if (opts.store?.kind === 'redis') {
    return createStoreLoginLimiter(limits, opts.store, pairKey, { refusal, onRefused: () => refused.inc(), onLockout: lockedOut });
  }

  const limiter = new AuthFailureLimiter(limits, opts.clock);
  /** Logins in flight per (source, bot) (bounded by open connections), and who waits for one to finish. */
  const inFlight = new Map<string, number>();
  const waiters = new PairWaiters(() => refusal(1));

  function release(key: string): void {
    const n = (inFlight.get(key) ?? 1) - 1;
    if (n > 0) inFlight.set(key, n);
    else inFlight.delete(key);
    waiters.wakeAll(key);
  }

  return {
    async admit(ctx, botId) {
      const key = pairKey(ctx, botId);
      for (;;) {
        const verdict = limiter.check(key);
        if (verdict.blocked) {
          refused.inc();
          throw refusal(verdict.retryAfterSeconds);
        }
        const busy = inFlight.get(key) ?? 0;
        if (limiter.failures(key) + busy < limits.maxFailures) {
          inFlight.set(key, busy + 1);
          let held = true;
          return () => {
            if (held) release(key);
            held = false;
          };
        }
        await waiters.wait(key, ctx.signal);
      }
    },
    async fail(ctx, botId) {
      const outcome = limiter.fail(pairKey(ctx, botId));
      if (outcome.blockedNow) lockedOut(ctx, botId, outcome.failures);
    },
  };
}
