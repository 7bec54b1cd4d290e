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

/** One call slot of a governed window (Kiwoom's per-key call limits). */
export interface SlotRequest {
  /** The window's key, e.g. '{gov:<fp>}:query'. */
  readonly key: string;
  /** Pause flag key with the SAME hash tag; while it exists no slot is granted. */
  readonly pauseKey: string;
  readonly limit: number;
  readonly windowMs: number;
  /**
   * Until settled, the slot counts as taken at now + holdMs (an upper bound on
   * when the upstream sees the call), so a slot frees only windowMs after the
   * call was really answered, never earlier: safe against network delay.
   */
  readonly holdMs: number;
  /** Unique id of this slot (1..200 characters); an id still in the window is refused (KG7002). */
  readonly id: string;
}

export interface SlotResult {
  readonly granted: boolean;
  /** When not granted: how long until a slot may be free (>= 1). 0 when granted. */
  readonly retryAfterMs: number;
}

/** A value shared by many holders (a broker token per app key): it may only be retired when no holder's lease is live. */
export interface LeasedValue {
  readonly version: string;
  readonly value: string;
  readonly state: 'live' | 'retiring';
  /** Live (unexpired) leases, this holder's included. */
  readonly leases: number;
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
  /**
   * Added: sets the string only while the key still holds exactly `expected` (null: absent), atomically; true when
   * written, false (nothing changed) when another writer changed it since it was read. The read-modify-write of
   * one document shared by replicas (a bot's risk baseline): read, change, write back unless changed, else again.
   */
  setIfUnchanged(key: string, expected: string | null, value: string, ttlMs?: number): Promise<boolean>;
  /**
   * Added: sets the string (expiring ttlMs from now) and returns the one it replaced (null: absent), atomically, in
   * one round trip. A bot's previous call (the risk engine's lead-in of an order): read and replaced by each call.
   */
  swap(key: string, value: string, ttlMs: number): Promise<string | null>;
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
  /**
   * Added: gives back what consume() charged to fixed-window limits (a daily cap charged to an order that
   * never reached the broker): each counter goes down by its cost, never below zero, and keeps its expiry; a
   * counter that is gone (its window ended, the state was lost) stays gone. Atomic, checked first (KG7002,
   * nothing changed): the same rules as consume, and only fixed limits (a sliding window's events are calls
   * that were made). Returns each counter's usage after.
   */
  refund(limits: readonly LimitRequest[]): Promise<readonly number[]>;
  /**
   * Added (governor): takes a slot of a sliding window when fewer than
   * `limit` slots are stamped within the last windowMs and the pause key is
   * absent. Atomic; time from the backend's clock (Redis TIME). key and
   * pauseKey must be different keys with one {hash tag} (KG7002 otherwise);
   * limit 0..10,000, windowMs > 0, holdMs >= 0 (integers).
   */
  takeSlot(req: SlotRequest): Promise<SlotResult>;
  /** Added: the call of slot `id` was answered: its stamp becomes now (only ever lowered). Unknown ids are ignored. */
  settleSlot(key: string, id: string, windowMs: number): Promise<void>;
  /** Added: no slot of the windows guarded by this pause key is granted for ms (never shortens a longer pause). */
  pauseSlots(pauseKey: string, ms: number): Promise<void>;
  /**
   * Added (broker sessions). A leased value lives in `key` (a hash) with its
   * leases in `${key}:leases` (same hash tag). All operations are atomic.
   * `key` must carry a {hash tag} (KG7002 otherwise). holder, version and the
   * lock value are 1..200 characters; a value is at most 64 KiB (UTF-8).
   * Expired leases are dropped first by every operation; the leases never
   * outlive the value.
   * leaseTake: when the value is live, adds or refreshes this holder's lease
   * (expiring leaseTtlMs from now) and returns it; when retiring, returns it
   * without a lease; null when absent.
   */
  leaseTake(key: string, holder: string, leaseTtlMs: number): Promise<LeasedValue | null>;
  /** Added: drops this holder's lease (whatever the version); returns the live leases that remain, -1 when no value is stored (expired, dropped, or lost with the data). */
  leaseRelease(key: string, holder: string): Promise<number>;
  /**
   * Added: stores a new live value (version, value), expiring ttlMs from now,
   * only while `lock.key` holds exactly `lock.value` (a fencing token from
   * setIfAbsent; same hash tag, another key) and no value is stored. The
   * writer gets a lease as `holder`; leases left by an earlier (expired)
   * value do not carry over. False (nothing changed) otherwise.
   */
  leasePut(
    key: string,
    version: string,
    value: string,
    ttlMs: number,
    lock: { key: string; value: string },
    holder: string,
    leaseTtlMs: number,
  ): Promise<boolean>;
  /**
   * Added: marks the value of this version 'retiring' (no new leases) only
   * when no live lease holds it. 'retiring': the caller now owns the
   * retirement for claimTtlMs under `claimant` (1..200 characters, unique to
   * this claim; a retirement whose claim lapsed may be claimed again, and is
   * then the new claimant's); 'held': leases remain or another claim is live;
   * 'gone': absent or another version.
   */
  leaseRetire(key: string, version: string, claimTtlMs: number, claimant: string): Promise<'retiring' | 'held' | 'gone'>;
  /**
   * Added: a retirement given up (the revoke failed, so the value is still
   * good upstream): the retiring value of this version is live again (new
   * leases allowed, its claim cleared). Only `claimant`, the last to claim it,
   * may: a claim taken over since (the new claimant may be revoking it right
   * now) is refused. True when it was this version, retiring, and its claim.
   */
  leaseRevive(key: string, version: string, claimant: string): Promise<boolean>;
  /** Added: deletes the value and its leases if it is still this version; true when deleted. */
  leaseDrop(key: string, version: string): Promise<boolean>;
  /** Added: reads without leasing (admin listing, sweeps). */
  leasePeek(key: string): Promise<LeasedValue | null>;
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
  /**
   * Added (optional): the shared backend's clock in ms since the epoch (Redis TIME), which replicas' clocks are
   * compared with (clock.ts). A store only this process uses (memory) has none: no other replica to disagree with.
   */
  time?(): Promise<number>;
  close(): Promise<void>;
}

/** The key/value, hash and limit operations each backend implements in its ops module (memory-ops.ts, redis-ops.ts). */
export type KeyValueOps = Pick<
  Store,
  | 'get'
  | 'mget'
  | 'set'
  | 'setIfAbsent'
  | 'setIfUnchanged'
  | 'swap'
  | 'del'
  | 'incr'
  | 'expire'
  | 'hget'
  | 'hmget'
  | 'hset'
  | 'hdel'
  | 'hgetall'
  | 'consume'
  | 'peek'
  | 'refund'
>;
