// One Store interface for everything replicas must share. The in-memory
// store is the embedded default; the Redis store (ioredis) backs replicas.

export interface LimitRequest {
  /** Fully-qualified key, e.g. 'rl:bot:b1:orders:1s'. */
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
  /** Usage of each limit after the call (or what it would have been charged to). */
  readonly usage: readonly number[];
  /** When the failing limit will next have room. */
  readonly retryAfterMs?: number;
}

export type Unsubscribe = () => Promise<void>;

export interface Store {
  readonly kind: 'memory' | 'redis';
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlMs?: number): Promise<void>;
  /** SET NX semantics: true when the key was created. */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  del(key: string): Promise<void>;
  incr(key: string, by?: number, ttlMs?: number): Promise<number>;
  hget(key: string, field: string): Promise<string | null>;
  hset(key: string, field: string, value: string): Promise<void>;
  hdel(key: string, field: string): Promise<void>;
  hgetall(key: string): Promise<Record<string, string>>;
  /** Checks and charges several limits atomically (all or nothing). */
  consume(limits: readonly LimitRequest[]): Promise<LimitResult>;
  /** Reads usage without charging. */
  peek(limits: readonly LimitRequest[]): Promise<readonly number[]>;
  publish(channel: string, message: string): Promise<void>;
  subscribe(channel: string, handler: (message: string) => void): Promise<Unsubscribe>;
  /** Throws when the store cannot serve (used by /readyz and fail-closed stages). */
  health(): Promise<void>;
  close(): Promise<void>;
}
