// Public API of the state part.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { StateConfig } from './config.js';
import { createMemoryStore } from './memory.js';
import type { RedisStore, RedisStoreOptions } from './redis.js';
import type { Store } from './types.js';

export type { LeasedValue, LimitRequest, LimitResult, SlotRequest, SlotResult, Store, Unsubscribe } from './types.js';
export { createMemoryStore, MEMORY_DEFAULTS, type MemoryStoreOptions } from './memory.js';
export type { RedisStore, RedisStoreDeps, RedisStoreOptions } from './redis.js';
export {
  parseStateConfig,
  REDIS_DEFAULTS,
  type StateConfig,
  type RedisStateConfig,
  type MemoryStateConfig,
  type RedisEndpoint,
  type RedisTlsConfig,
} from './config.js';
export {
  hashTagOf,
  MAX_ID_LENGTH,
  MAX_KEY_LENGTH,
  MAX_KEYS_PER_READ,
  MAX_LEASE_VALUE_BYTES,
  MAX_LIMITS_PER_CALL,
  MAX_SLOT_LIMIT,
} from './validate.js';
// Daily caps reset at Seoul midnight: put seoulDay in a fixed-window key.
export { seoulDay, msUntilSeoulMidnight } from '../common/kst.js';
export { withReadOnlyFallback, type FallbackOptions } from './fallback.js';
export { amortisedPruner, pruneIndex } from './index-prune.js';
export { publishSecurityWrites, SECURITY_CHANNEL, type SecurityMirrorOptions } from './mirror.js';
export { clockSkewCheck, type ClockCheckOptions, type ClockReading } from './clock.js';
export { stateRoutes, stateStatus, stateFlushReadiness, parseConfirmReason, MAX_REASON_LENGTH, type StateStatus, type AuditFn } from './routes.js';

/**
 * The Redis store, its module (and ioredis) loaded on first use: a sidecar on memory state, the embedded default,
 * never pays for loading them.
 */
export async function createRedisStore(opts: RedisStoreOptions): Promise<RedisStore> {
  return (await import('./redis.js')).createRedisStore(opts);
}

/** Builds the configured backend. Redis: resolves even if Redis is not up yet (calls fail closed until it is). */
export async function createStore(cfg: StateConfig, deps: { logger: Logger; registry: Registry; outageReminderMs?: number }): Promise<Store> {
  if (cfg.backend === 'redis') return createRedisStore({ ...cfg.redis, ...deps });
  return createMemoryStore({ ...cfg.memory, logger: deps.logger });
}
