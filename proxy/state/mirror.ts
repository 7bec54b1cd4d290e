// The last known value of the security keys a read-only call is judged by
// (session revocation and epoch, the disabled flag, lockdown flags, trading
// state), kept by each replica for `readOnlyQueriesWhenDown: allow`: while
// Redis is down such a call is judged on what this replica last read from
// Redis, never on its empty local store, and is refused (KG7001) when a key
// it needs was never read here, or changed since.
//
// Writes of a security key, on any replica, publish the key on
// SECURITY_CHANNEL; every replica forgets its copy when it hears it (it reads
// the key again on the next call). A write that does not reach Redis makes the
// key unknown on the writing replica. Messages missed while the pub/sub
// connection was down cannot be known: when it comes back every copy is
// forgotten, and nothing is recorded until this replica is subscribed.
import { REDIS_DEFAULTS } from './config.js';
import type { Store, Unsubscribe } from './types.js';

/** Prefixed with keyPrefix by the store, like every channel. */
export const SECURITY_CHANNEL = 'state:security-keys';

export interface SecurityMirrorOptions {
  /** True for the keys (string or hash) whose values judge a call. */
  isSecurityKey: (key: string) => boolean;
  /** Most values kept; the least recently read are dropped (then unknown: refused during an outage). */
  maxKeys?: number;
  /** Counts the pub/sub connection's (re)connections (RedisStore.subscriberEpoch): a change means messages may have been missed. */
  subscriberEpoch?: () => number;
}

export interface SecurityMirror {
  covers(key: string): boolean;
  /** Before a read from Redis: a token for record(), or -1 when nothing may be recorded now. */
  begin(): number;
  /** The value Redis gave; kept only when nothing was forgotten since begin(). */
  record(token: number, key: string, field: string | undefined, value: string | null): void;
  /** The last known value; undefined when unknown. */
  lookup(key: string, field?: string): string | null | undefined;
  /** Forgets one hash field, or (no field) the key and all its fields. */
  forget(key: string, field?: string): void;
  size(): number;
  close(): Promise<void>;
}

// Keys never contain control characters (validate.ts): the separator is unambiguous.
const slotOf = (key: string, field?: string): string => (field === undefined ? key : `${key}\u0000${field}`);

export function invalidation(key: string, field?: string): string {
  return JSON.stringify(field === undefined ? [key] : [key, field]);
}

export function createSecurityMirror(primary: Store, o: SecurityMirrorOptions): SecurityMirror {
  const maxKeys = o.maxKeys ?? REDIS_DEFAULTS.readOnlyMirrorMaxKeys;
  const epoch = o.subscriberEpoch ?? (() => 0);
  const known = new Map<string, string | null>();
  /** Keys with field slots, so forgetting a whole key only scans for hashes. */
  const hashes = new Set<string>();
  let gen = 0;
  let subscribedAt: number | undefined;
  let subscribing = false;
  let unsubscribe: Unsubscribe | undefined;
  let closed = false;

  function forgetAll(): void {
    gen++;
    known.clear();
    hashes.clear();
  }

  function forget(key: string, field?: string): void {
    gen++;
    if (field !== undefined) {
      known.delete(slotOf(key, field));
      return;
    }
    known.delete(key);
    if (!hashes.delete(key)) return;
    const prefix = `${key}\u0000`;
    for (const s of known.keys()) if (s.startsWith(prefix)) known.delete(s);
  }

  function onMessage(message: string): void {
    try {
      const [key, field, ...rest] = JSON.parse(message) as unknown[];
      if (typeof key === 'string' && (field === undefined || typeof field === 'string') && rest.length === 0) {
        forget(key, field);
        return;
      }
    } catch {
      // not ours: fall through
    }
    forgetAll();
  }

  function subscribe(): void {
    if (subscribing || closed) return;
    subscribing = true;
    primary.subscribe(SECURITY_CHANNEL, onMessage).then(
      (u) => {
        subscribing = false;
        if (closed) {
          void u().catch(() => undefined);
          return;
        }
        unsubscribe = u;
        subscribedAt = epoch();
        forgetAll();
      },
      () => {
        subscribing = false;
      },
    );
  }
  subscribe();

  /** True when values may be trusted: subscribed, and no reconnection (missed messages) since. */
  function sync(): boolean {
    if (subscribedAt === undefined) {
      subscribe();
      return false;
    }
    const e = epoch();
    if (e !== subscribedAt) {
      subscribedAt = e;
      forgetAll();
    }
    return true;
  }

  return {
    covers: (key) => o.isSecurityKey(key),
    begin: () => (sync() ? gen : -1),
    record(token, key, field, value) {
      if (token < 0 || !sync() || token !== gen) return;
      const slot = slotOf(key, field);
      known.delete(slot);
      known.set(slot, value);
      if (field !== undefined) hashes.add(key);
      while (known.size > maxKeys) known.delete(known.keys().next().value!);
    },
    lookup(key, field) {
      sync();
      const slot = slotOf(key, field);
      return known.has(slot) ? known.get(slot)! : undefined;
    },
    forget,
    size: () => known.size,
    async close() {
      closed = true;
      forgetAll();
      await unsubscribe?.().catch(() => undefined);
    },
  };
}

/**
 * Tells every replica (SECURITY_CHANNEL) that a security key was written.
 * Every Redis-backed sidecar uses it, whatever its own readOnlyQueriesWhenDown,
 * so peers that have the option learn of its lockdowns and kills. A lost
 * message (Redis gone right after the write) is counted as a failed publish.
 */
export function publishSecurityWrites(primary: Store, isSecurityKey: (key: string) => boolean): Store {
  async function after<T>(key: string, field: string | undefined, write: Promise<T>): Promise<T> {
    const result = await write;
    if (isSecurityKey(key)) await primary.publish(SECURITY_CHANNEL, invalidation(key, field)).catch(() => undefined);
    return result;
  }
  return {
    ...primary,
    set: (k, v, ttl) => after(k, undefined, primary.set(k, v, ttl)),
    setIfAbsent: (k, v, ttl) => after(k, undefined, primary.setIfAbsent(k, v, ttl)),
    setIfUnchanged: (k, expected, v, ttl) => after(k, undefined, primary.setIfUnchanged(k, expected, v, ttl)),
    swap: (k, v, ttl) => after(k, undefined, primary.swap(k, v, ttl)),
    del: (k) => after(k, undefined, primary.del(k)),
    incr: (k, by, ttl) => after(k, undefined, primary.incr(k, by, ttl)),
    expire: (k, ttl) => after(k, undefined, primary.expire(k, ttl)),
    hset: (k, f, v, ttl) => after(k, f, primary.hset(k, f, v, ttl)),
    hdel: (k, f) => after(k, f, primary.hdel(k, f)),
  };
}
