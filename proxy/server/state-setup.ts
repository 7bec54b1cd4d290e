// The sidecar's Store: the configured backend; on Redis, every write of a
// security key is announced to the other replicas; and with
// `readOnlyQueriesWhenDown: allow`, the read-only fallback, which judges those
// keys on their last value read from Redis, never on local state.
import { outageLog } from '../common/outage-log.js';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { Config } from '../common/config.js';
import { lookupApi } from '../kiwoom/catalogue.js';
import { TRADING_STATE_KEY } from '../policy/trading-state.js';
import { K } from '../response/keys.js';
import { createMemoryStore, createStore, parseStateConfig, publishSecurityWrites, withReadOnlyFallback, type RedisStore } from '../state/index.js';
import type { Store } from '../state/types.js';
import type { RequestContext } from './context.js';
import { requestScope } from './market.js';

// What a read-only call is judged by in the store (auth/sessions.ts: revoked jti, session epoch, the
// disabled flag; response/keys.ts: lockdown flags; policy/trading-state.ts: the operator's trading state).
const SECURITY_PREFIXES = ['jti:', 'epoch:', 'bot-disabled:', K.lockBot(''), K.lockAccount('')];

export function isSecurityKey(key: string): boolean {
  return key === K.lockAll || key === TRADING_STATE_KEY || SECURITY_PREFIXES.some((p) => key.startsWith(p));
}

/** Quotes and account inquiries; before classification the api-id header tells (nothing is trusted from it but the kind). */
export function isReadOnlyCall(ctx: RequestContext): boolean {
  const apiId = ctx.req.headers['api-id'];
  const kind = ctx.entry?.kind ?? (typeof apiId === 'string' ? lookupApi(apiId)?.kind : undefined);
  return kind === 'query' || kind === 'account';
}

export interface StateParts {
  /** The configured backend itself. */
  sharedStore: Store;
  /** What every part uses. */
  store: Store;
  /** True when read-only calls must run in a request scope (the fallback reads it). */
  readOnlyFallback: boolean;
  /** With the fallback: whether a Redis outage leaves this replica degraded but ready (it has read from Redis). */
  degradedWhenDown?: () => boolean;
}

export async function setupState(config: Config, deps: { logger: Logger; registry: Registry }): Promise<StateParts> {
  const { logger, registry } = deps;
  const stateConfig = parseStateConfig(config.state);
  const sharedStore = await createStore(stateConfig, { logger, registry, outageReminderMs: config.log.outageReminderMs });
  if (stateConfig.backend !== 'redis') return { sharedStore, store: sharedStore, readOnlyFallback: false };
  // Whatever this replica's own setting, its lockdowns and kills reach the peers that have the fallback.
  const announced = publishSecurityWrites(sharedStore, isSecurityKey);
  if (stateConfig.redis.readOnlyQueriesWhenDown !== 'allow') return { sharedStore, store: announced, readOnlyFallback: false };

  const fallbacks = new Counter({
    name: 'kguard_state_read_only_fallbacks_total',
    labelNames: ['op'],
    registers: [registry],
    help: 'Store operations of read-only calls served from local state while Redis was down (readOnlyQueriesWhenDown: allow)',
  });
  const refusals = new Counter({
    name: 'kguard_state_read_only_refusals_total',
    labelNames: ['op'],
    registers: [registry],
    help: 'Read-only calls refused while Redis was down: a session or lock flag they need was never read on this replica, or changed since',
  });
  // Once per outage (then a reminder with the count), not once per store operation of every call: the counters above
  // count each one.
  const reminderMs = config.log.outageReminderMs;
  const fallbackLog = outageLog({
    logger,
    reminderMs,
    lost: "shared state unavailable: read-only call judged on this replica's local state",
    still: "shared state still unavailable: read-only calls judged on this replica's local state",
    back: "shared state back: read-only calls judged on Redis' state again",
  });
  const refusedLog = outageLog({
    logger,
    reminderMs,
    lost: 'shared state unavailable: read-only call refused, its session or lock flags were never read on this replica (or changed since)',
    still: 'shared state still unavailable: read-only calls refused whose session or lock flags were never read on this replica',
    back: 'shared state back: read-only calls no longer refused for flags never read on this replica',
  });
  (sharedStore as RedisStore).client.on('ready', () => {
    fallbackLog.ok();
    refusedLog.ok();
  });
  const store = withReadOnlyFallback(announced, createMemoryStore(), {
    isReadOnlyCall: () => requestScope.getStore()?.readOnly === true,
    onFallback: (op) => {
      fallbacks.inc({ op });
      fallbackLog.failed({ op, requestId: requestScope.getStore()?.requestId });
    },
    security: {
      isSecurityKey,
      maxKeys: stateConfig.redis.readOnlyMirrorMaxKeys,
      subscriberEpoch: () => (sharedStore as RedisStore).subscriberEpoch(),
      onRefused: (op) => {
        refusals.inc({ op });
        refusedLog.failed({ op, requestId: requestScope.getStore()?.requestId });
      },
    },
  });
  // Ready while Redis is down only once this replica has reached it: one that never did has no last-read session or
  // lock flag to judge a call on, refuses every one, and must stay out of the Service.
  const degradedWhenDown = () => (sharedStore as RedisStore).subscriberEpoch() > 0;
  return { sharedStore, store, readOnlyFallback: true, degradedWhenDown };
}
