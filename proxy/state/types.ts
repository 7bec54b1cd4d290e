// One Store interface for everything replicas must share. The in-memory
// store is the embedded default; the Redis store (ioredis) backs replicas.

// Keys and Redis Cluster: a key may carry a Redis hash tag in braces, e.g.
// '{bot:b1}:rl:orders:1s'. Every limit of one multi-limit consume()/peek()
// must carry the SAME hash tag (enforced by every backend, KG7002), so the
// whole call is one slot and one atomic script on a Cluster. A limit shared
// by many bots (account, global) must therefore use a tag every call that
// includes it shares, e.g. '{acct:123}'. Single-key operations need no tag.
// Costs and limits are non-negative safe integers (counts, or KRW).

export interface LimitRequest {
  /** Fully-qualified key, e.g. '{bot:b1}:rl:orders:1s'. */
  readonly key: string;
  readonly limit: number;
  /** Sliding window length; for a fixed window (e.g. a Seoul day) put the period in the key and use `fixed`. */
  readonly windowMs: number;
  readonly mode?: 'sliding' | 'fixed';
  /** Units consumed by this call (1 for counts, KRW for notional caps). Default 1. */
  readonly cost?: number;
}

export interface LimitResult {
  /** True when every limit had room; then all were charged. Otherwise none was charged. */
  readonly allowed: boolean;
  /** Index of the first limit that had no room. */
  readonly failedIndex?: number;
  /** Usage of each limit after the call; when denied, what it would have been (current usage + cost). */
  readonly usage: readonly number[];
  /** When the failing limit will next have room. */
  readonly retryAfterMs?: number;
}

export type Unsubscribe = () => Promise<void>;

export interface Store {
  readonly kind: 'memory' | 'redis';
  get(key: string): Promise<string | null>;
  /**
   * Added: several strings in one round trip, in the order asked (null when
   * missing). As Redis MGET, a key holding another kind of value reads as
   * null. Keys need not share a hash tag. At most MAX_KEYS_PER_READ keys.
   */
  mget(keys: readonly string[]): Promise<(string | null)[]>;
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  /** SET NX semantics: true when the key was created. */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  del(key: string): Promise<void>;
  /** ttlMs is applied only when the key has no TTL yet (a counter that expires ttlMs after its first charge). */
  incr(key: string, by?: number, ttlMs?: number): Promise<number>;
  /** Added: sets a TTL on an existing key of any type; false when the key does not exist. */
  expire(key: string, ttlMs: number): Promise<boolean>;
  hget(key: string, field: string): Promise<string | null>;
  /** Added: several fields of one hash in one round trip, in the order asked (null when missing). */
  hmget(key: string, fields: readonly string[]): Promise<(string | null)[]>;
  /** ttlMs (optional, added): (re)sets the hash's TTL in the same step. */
  hset(key: string, field: string, value: string, ttlMs?: number): Promise<void>;
  hdel(key: string, field: string): Promise<void>;
  hgetall(key: string): Promise<Record<string, string>>;
  /** Checks and charges several limits atomically (all or nothing). */
  consume(limits: readonly LimitRequest[]): Promise<LimitResult>;
  /** Reads usage without charging. */
  peek(limits: readonly LimitRequest[]): Promise<readonly number[]>;
  publish(channel: string, message: string): Promise<void>;
  subscribe(channel: string, handler: (message: string) => void): Promise<Unsubscribe>;
  /**
   * Added: true when the backing state was lost since this store first saw it
   * (Redis restarted empty or flushed) and no operator has confirmed yet.
   * Daily counters must not be read as "no usage" while this is true.
   * Always false for the memory store.
   */
  flushDetected(): boolean;
  /** Added: operator confirmation that the loss is accepted; clears flushDetected() on every replica. */
  confirmFlush(): Promise<void>;
  /** Throws when the store cannot serve (used by /readyz and fail-closed stages). */
  health(): Promise<void>;
  close(): Promise<void>;
}
