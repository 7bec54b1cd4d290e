// The bot-login limiter of login-limit.ts kept in the shared Store (Redis),
// so replicas behind one Service count one (source, bot id) together: N
// replicas no longer give a guesser N x maxFailures guesses per window, and a
// cool-down started on one replica holds on every other.
//
// Per pair, two keys under one hash tag (one Cluster slot), both with a TTL:
// - `{login:<h>}:tries`, a fixed window (windowMs from its first charge) of
//   logins admitted: each admit charges 1 before the secret is checked; a
//   login that was not a wrong secret gives its charge back when released. So
//   it holds failures plus logins in flight, and admission (one atomic
//   consume) never lets it pass maxFailures, whichever replica asks.
// - `{login:<h>}:block`, the cool-down: a counter that lives blockMs. It is a
//   limit of 0 in the same consume, so a pair cooling down is refused in that
//   round trip, with retry-after from Redis' own clock.
// A wrong secret that leaves the window at maxFailures starts the cool-down
// and drops the window (after the cool-down the pair starts afresh, as in
// memory). When failures and logins still in flight together reach the limit
// that is a cool-down too: only a pair sending wrong and right secrets at
// once can see that.
// <h> hashes the pair (the bot id is what the client sent and may hold any
// character). Keys are bounded by their TTLs: at most one pair per login
// attempt per windowMs (each costs a secret check), so maxSources does not
// apply. A Store that cannot serve refuses the login (KG7001) rather than
// letting it through uncounted, as the rest of the token exchange does: a
// wrong secret answered 401 while a right one gets 503 would be an
// unlimited oracle during an outage.
import { createHash } from 'node:crypto';
import type { LimitRequest, Store } from '../../state/types.js';
import type { AdminAuthFailureLimits } from '../../admin/auth-limiter.js';
import type { GuardError } from '../../common/errors.js';
import type { RequestContext } from '../context.js';
import { PairWaiters } from './login-waiters.js';

/** Polling for a slot freed on another replica (this replica's own releases wake waiters at once). */
const PEER_POLL_MS = 100;

export interface StoreLoginLimiterHooks {
  refusal(retryAfterSeconds: number): GuardError;
  onRefused(): void;
  onLockout(ctx: RequestContext, botId: string, failures: number): void;
}

export function createStoreLoginLimiter(
  limits: AdminAuthFailureLimits,
  store: Store,
  pairKey: (ctx: RequestContext, botId: string) => string,
  hooks: StoreLoginLimiterHooks,
) {
  const keys = (ctx: RequestContext, botId: string) => {
    const h = createHash('sha256').update(pairKey(ctx, botId)).digest('hex').slice(0, 32);
    return { h, tries: `{login:${h}}:tries`, block: `{login:${h}}:block` };
  };
  const triesLimit = (key: string, cost: number): LimitRequest => ({ key, limit: limits.maxFailures, windowMs: limits.windowMs, mode: 'fixed', cost });
  /** Logins admitted here whose secret turned out wrong: their charge stays when released. */
  const failed = new WeakSet<RequestContext>();
  /** Who waits here for a slot of a pair, woken by this replica's releases (a peer's: PEER_POLL_MS). */
  const waiters = new PairWaiters(() => hooks.refusal(1));

  return {
    async admit(ctx: RequestContext, botId: string): Promise<() => void> {
      const k = keys(ctx, botId);
      for (;;) {
        const r = await store.consume([{ key: k.block, limit: 0, windowMs: limits.blockMs, mode: 'fixed', cost: 0 }, triesLimit(k.tries, 1)]);
        if (r.allowed) {
          let held = true;
          return () => {
            if (!held) return;
            held = false;
            const settle = failed.has(ctx) ? Promise.resolve() : store.refund([triesLimit(k.tries, 1)]).then(() => undefined);
            // A refund lost to an outage leaves the charge until the window ends: stricter, never looser.
            void settle.catch(() => undefined).finally(() => waiters.wakeAll(k.h));
          };
        }
        if (r.failedIndex === 0) {
          hooks.onRefused();
          throw hooks.refusal(Math.max(1, Math.ceil((r.retryAfterMs ?? 1000) / 1000)));
        }
        await waiters.wait(k.h, ctx.signal, PEER_POLL_MS);
      }
    },

    async fail(ctx: RequestContext, botId: string): Promise<void> {
      failed.add(ctx);
      const k = keys(ctx, botId);
      const [used] = await store.peek([triesLimit(k.tries, 0)]);
      if ((used ?? 0) < limits.maxFailures) return;
      // Two replicas may both see the limit reached: only the one that starts the cool-down reports it.
      const first = (await store.incr(k.block, 1, limits.blockMs)) === 1;
      await store.del(k.tries);
      if (first) hooks.onLockout(ctx, botId, used ?? limits.maxFailures);
    },
  };
}
