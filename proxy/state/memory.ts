// In-process Store: the embedded default for one sidecar. Same semantics as
// the Redis store (see types.ts and validate.ts) so the contract test runs
// against both. Expiry is lazy on access plus a periodic sweep on an
// unref'd timer; maxKeys bounds memory (new keys beyond it fail closed).
import type { Logger } from 'pino';
import { GuardError } from '../common/errors.js';
import type { LeasedValue, LimitRequest, LimitResult, Store, Unsubscribe } from './types.js';
import {
  checkId, checkInteger, checkKey, checkLeaseLock, checkLeaseValue, checkList, checkOptionalTtl, checkString, checkTtl,
  leaseKeys, normaliseLimits, normaliseSlot, type NormalisedLimit,
} from './validate.js';

export interface MemoryStoreOptions {
  /** Clock in epoch ms; injectable for tests. */
  now?: () => number;
  /** How often expired keys are swept. Default 1000 ms. */
  sweepIntervalMs?: number;
  /** Most keys held at once. Default 1,000,000. */
  maxKeys?: number;
  logger?: Logger;
}

export const MEMORY_DEFAULTS = { sweepIntervalMs: 1_000, maxKeys: 1_000_000 } as const;

interface WindowEvent { readonly at: number; readonly cost: number }

type Entry =
  | { kind: 'string'; value: string; expiresAt: number }
  | { kind: 'hash'; fields: Map<string, string>; expiresAt: number }
  | { kind: 'window'; events: WindowEvent[]; sum: number; expiresAt: number }
  // A Redis sorted set (member -> score): governor slot windows and lease sets.
  | { kind: 'zset'; members: Map<string, number>; expiresAt: number };

const NO_EXPIRY = Number.POSITIVE_INFINITY;

function wrongType(): GuardError {
  return new GuardError('KG7002', 'WRONGTYPE: key holds another kind of value');
}

export function createMemoryStore(opts: MemoryStoreOptions = {}): Store {
  const now = opts.now ?? Date.now;
  const maxKeys = opts.maxKeys ?? MEMORY_DEFAULTS.maxKeys;
  const sweepIntervalMs = opts.sweepIntervalMs ?? MEMORY_DEFAULTS.sweepIntervalMs;
  if (!Number.isSafeInteger(maxKeys) || maxKeys < 1) throw new GuardError('KG7004', 'memory.maxKeys must be a positive integer');
  if (!Number.isSafeInteger(sweepIntervalMs) || sweepIntervalMs < 1) throw new GuardError('KG7004', 'memory.sweepIntervalMs must be a positive integer');

  const data = new Map<string, Entry>();
  const channels = new Map<string, Set<(message: string) => void>>();
  let closed = false;

  function sweep(): void {
    const t = now();
    for (const [key, entry] of data) {
      if (entry.expiresAt <= t) data.delete(key);
    }
  }
  const sweeper = setInterval(sweep, sweepIntervalMs);
  sweeper.unref();

  function assertOpen(): void {
    if (closed) throw new GuardError('KG7001', 'store closed');
  }

  function live(key: string, t = now()): Entry | undefined {
    const entry = data.get(key);
    if (entry && entry.expiresAt <= t) {
      data.delete(key);
      return undefined;
    }
    return entry;
  }

  function put(key: string, entry: Entry): void {
    if (!data.has(key) && data.size >= maxKeys) {
      sweep();
      if (data.size >= maxKeys) throw new GuardError('KG7001', 'memory store full (state.memory.maxKeys)');
    }
    data.set(key, entry);
  }

  function stringEntry(key: string, t: number): Extract<Entry, { kind: 'string' }> | undefined {
    const entry = live(key, t);
    if (entry && entry.kind !== 'string') throw wrongType();
    return entry;
  }

  function integerValue(entry: Extract<Entry, { kind: 'string' }> | undefined): number {
    if (!entry) return 0;
    const n = Number(entry.value);
    if (!/^-?\d+$/.test(entry.value) || !Number.isSafeInteger(n)) {
      throw new GuardError('KG7002', 'value is not an integer');
    }
    return n;
  }

  // Drops events that left the window, keeping the running sum exact.
  function trimWindow(entry: Extract<Entry, { kind: 'window' }>, t: number, windowMs: number): void {
    const cutoff = t - windowMs;
    let drop = 0;
    while (drop < entry.events.length && entry.events[drop]!.at <= cutoff) entry.sum -= entry.events[drop++]!.cost;
    if (drop > 0) entry.events.splice(0, drop);
  }

  function zsetEntry(key: string, t: number): Extract<Entry, { kind: 'zset' }> | undefined {
    const entry = live(key, t);
    if (entry && entry.kind !== 'zset') throw wrongType();
    return entry;
  }

  function hashEntry(key: string, t: number): Extract<Entry, { kind: 'hash' }> | undefined {
    const entry = live(key, t);
    if (entry && entry.kind !== 'hash') throw wrongType();
    return entry;
  }

  // As ZREMRANGEBYSCORE -inf cutoff: drops members scored <= cutoff; an emptied set no longer exists.
  function trimZset(key: string, entry: Extract<Entry, { kind: 'zset' }> | undefined, cutoff: number): Extract<Entry, { kind: 'zset' }> | undefined {
    if (!entry) return undefined;
    for (const [member, score] of entry.members) if (score <= cutoff) entry.members.delete(member);
    if (entry.members.size > 0) return entry;
    data.delete(key);
    return undefined;
  }

  /** Fails closed (before any change) when `n` new keys would not fit. */
  function ensureRoom(n: number): void {
    if (n > 0 && data.size + n > maxKeys) {
      sweep();
      if (data.size + n > maxKeys) throw new GuardError('KG7001', 'memory store full (state.memory.maxKeys)');
    }
  }

  /** The leased value and its live leases (expired leases dropped first); undefined when absent. */
  function readLease(keys: { key: string; leases: string }, t: number): {
    hash: Extract<Entry, { kind: 'hash' }> | undefined;
    leases: Extract<Entry, { kind: 'zset' }> | undefined;
    value: Omit<LeasedValue, 'leases'> | undefined;
  } {
    const leases = trimZset(keys.leases, zsetEntry(keys.leases, t), t);
    const hash = hashEntry(keys.key, t);
    const version = hash?.fields.get('version');
    const value = version === undefined ? undefined : {
      version,
      value: hash!.fields.get('value') ?? '',
      state: hash!.fields.get('state') === 'retiring' ? 'retiring' as const : 'live' as const,
    };
    return { hash, leases, value };
  }

  interface Reading { used: number; retryAfterMs: (cost: number) => number; charge: (cost: number) => void }

  function read(l: NormalisedLimit, t: number): Reading {
    const entry = live(l.key, t);
    if (l.mode === 'sliding') {
      if (entry && entry.kind !== 'window') throw wrongType();
      if (entry) trimWindow(entry, t, l.windowMs);
      const events = entry?.events ?? [];
      const used = entry?.sum ?? 0;
      return {
        used,
        retryAfterMs(cost) {
          if (cost > l.limit) return l.windowMs; // can never fit; report one window
          let toFree = used + cost - l.limit;
          for (const e of events) {
            toFree -= e.cost;
            if (toFree <= 0) return e.at + l.windowMs - t;
          }
          return l.windowMs;
        },
        charge(cost) {
          if (cost === 0) return;
          const expiresAt = t + l.windowMs;
          if (entry) {
            entry.events.push({ at: t, cost });
            entry.sum += cost;
            entry.expiresAt = expiresAt;
          } else {
            put(l.key, { kind: 'window', events: [{ at: t, cost }], sum: cost, expiresAt });
          }
        },
      };
    }
    if (entry && entry.kind !== 'string') throw wrongType();
    const used = integerValue(entry);
    return {
      used,
      retryAfterMs() {
        return entry && entry.expiresAt !== NO_EXPIRY ? entry.expiresAt - t : l.windowMs;
      },
      charge(cost) {
        if (cost === 0) return;
        if (entry) {
          entry.value = String(used + cost);
          if (entry.expiresAt === NO_EXPIRY) entry.expiresAt = t + l.windowMs;
        } else {
          put(l.key, { kind: 'string', value: String(cost), expiresAt: t + l.windowMs });
        }
      },
    };
  }

  const store: Store = {
    kind: 'memory',

    async get(key) {
      assertOpen();
      return stringEntry(checkKey(key), now())?.value ?? null;
    },

    async mget(keys) {
      assertOpen();
      const ks = checkList(keys, 'keys', checkKey);
      const t = now();
      // As Redis MGET: another kind of value reads as null rather than failing the batch.
      return ks.map((key) => {
        const entry = live(key, t);
        return entry?.kind === 'string' ? entry.value : null;
      });
    },

    async set(key, value, ttlMs) {
      assertOpen();
      checkKey(key);
      checkString(value, 'value');
      const ttl = checkOptionalTtl(ttlMs);
      const t = now();
      live(key, t);
      put(key, { kind: 'string', value, expiresAt: ttl === undefined ? NO_EXPIRY : t + ttl });
    },

    async setIfAbsent(key, value, ttlMs) {
      assertOpen();
      checkKey(key);
      checkString(value, 'value');
      const ttl = checkTtl(ttlMs);
      const t = now();
      if (live(key, t)) return false;
      put(key, { kind: 'string', value, expiresAt: t + ttl });
      return true;
    },

    async del(key) {
      assertOpen();
      data.delete(checkKey(key));
    },

    async incr(key, by = 1, ttlMs) {
      assertOpen();
      checkKey(key);
      checkInteger(by, 'by');
      const ttl = checkOptionalTtl(ttlMs);
      const t = now();
      const entry = stringEntry(key, t);
      const next = integerValue(entry) + by;
      if (!Number.isSafeInteger(next)) throw new GuardError('KG7002', 'increment would overflow');
      if (entry) {
        entry.value = String(next);
        if (ttl !== undefined && entry.expiresAt === NO_EXPIRY) entry.expiresAt = t + ttl;
      } else {
        put(key, { kind: 'string', value: String(next), expiresAt: ttl === undefined ? NO_EXPIRY : t + ttl });
      }
      return next;
    },

    async expire(key, ttlMs) {
      assertOpen();
      checkKey(key);
      const ttl = checkTtl(ttlMs);
      const t = now();
      const entry = live(key, t);
      if (!entry) return false;
      entry.expiresAt = t + ttl;
      return true;
    },

    async hget(key, field) {
      assertOpen();
      checkKey(key);
      checkString(field, 'field');
      const entry = live(key);
      if (!entry) return null;
      if (entry.kind !== 'hash') throw wrongType();
      return entry.fields.get(field) ?? null;
    },

    async hmget(key, fields) {
      assertOpen();
      checkKey(key);
      const fs = checkList(fields, 'fields', (f) => checkString(f, 'field'));
      const entry = live(key);
      if (!entry) return fs.map(() => null);
      if (entry.kind !== 'hash') throw wrongType();
      return fs.map((f) => entry.fields.get(f) ?? null);
    },

    async hset(key, field, value, ttlMs) {
      assertOpen();
      checkKey(key);
      checkString(field, 'field');
      checkString(value, 'value');
      const ttl = checkOptionalTtl(ttlMs);
      const t = now();
      const entry = live(key, t);
      if (entry && entry.kind !== 'hash') throw wrongType();
      if (entry) {
        entry.fields.set(field, value);
        if (ttl !== undefined) entry.expiresAt = t + ttl;
      } else {
        put(key, { kind: 'hash', fields: new Map([[field, value]]), expiresAt: ttl === undefined ? NO_EXPIRY : t + ttl });
      }
    },

    async hdel(key, field) {
      assertOpen();
      checkKey(key);
      checkString(field, 'field');
      const entry = live(key);
      if (!entry) return;
      if (entry.kind !== 'hash') throw wrongType();
      entry.fields.delete(field);
      if (entry.fields.size === 0) data.delete(key); // as Redis: an empty hash does not exist
    },

    async hgetall(key) {
      assertOpen();
      checkKey(key);
      const entry = live(key);
      if (!entry) return {};
      if (entry.kind !== 'hash') throw wrongType();
      return Object.fromEntries(entry.fields);
    },

    async consume(limits: readonly LimitRequest[]): Promise<LimitResult> {
      assertOpen();
      const ls = normaliseLimits(limits);
      const t = now();
      // Read everything first (may throw on a wrong type) so a failure changes nothing.
      const readings = ls.map((l) => read(l, t));
      let failedIndex: number | undefined;
      const usage = ls.map((l, i) => {
        const u = readings[i]!.used + l.cost;
        if (failedIndex === undefined && u > l.limit) failedIndex = i;
        return u;
      });
      if (failedIndex !== undefined) {
        return { allowed: false, failedIndex, usage, retryAfterMs: readings[failedIndex]!.retryAfterMs(ls[failedIndex]!.cost) };
      }
      // Key-count check up front: all-or-nothing even when the store is full.
      const newKeys = ls.filter((l) => l.cost > 0 && !data.has(l.key)).length;
      if (newKeys > 0 && data.size + newKeys > maxKeys) {
        sweep();
        if (data.size + newKeys > maxKeys) throw new GuardError('KG7001', 'memory store full (state.memory.maxKeys)');
      }
      ls.forEach((l, i) => readings[i]!.charge(l.cost));
      return { allowed: true, usage };
    },

    async peek(limits) {
      assertOpen();
      const ls = normaliseLimits(limits);
      const t = now();
      return ls.map((l) => read(l, t).used);
    },

    async takeSlot(req) {
      assertOpen();
      const r = normaliseSlot(req);
      const t = now();
      const window = trimZset(r.key, zsetEntry(r.key, t), t - r.windowMs);
      if (window?.members.has(r.id)) throw new GuardError('KG7002', 'slot id is already in the window');
      const pause = live(r.pauseKey, t);
      if (pause) return { granted: false, retryAfterMs: pause.expiresAt === NO_EXPIRY ? r.windowMs : Math.max(1, pause.expiresAt - t) };
      const count = window?.members.size ?? 0;
      if (count < r.limit) {
        const ttl = r.windowMs + r.holdMs;
        if (window) {
          window.members.set(r.id, t + r.holdMs);
          if (window.expiresAt === NO_EXPIRY || window.expiresAt - t < ttl) window.expiresAt = t + ttl;
        } else {
          put(r.key, { kind: 'zset', members: new Map([[r.id, t + r.holdMs]]), expiresAt: t + ttl });
        }
        return { granted: true, retryAfterMs: 0 };
      }
      let lowest = Number.POSITIVE_INFINITY;
      for (const score of window?.members.values() ?? []) lowest = Math.min(lowest, score);
      return { granted: false, retryAfterMs: lowest === Number.POSITIVE_INFINITY ? r.windowMs : Math.max(1, lowest + r.windowMs - t) };
    },

    async settleSlot(key, id, windowMs) {
      assertOpen();
      checkKey(key);
      checkId(id, 'id');
      const win = checkTtl(windowMs, 'windowMs');
      const t = now();
      const window = zsetEntry(key, t);
      const stamp = window?.members.get(id);
      if (!window || stamp === undefined) return;
      if (stamp > t) window.members.set(id, t);
      if (window.expiresAt === NO_EXPIRY || window.expiresAt - t < win) window.expiresAt = t + win;
    },

    async pauseSlots(pauseKey, ms) {
      assertOpen();
      checkKey(pauseKey);
      const ttl = checkTtl(ms, 'ms');
      const t = now();
      const entry = live(pauseKey, t);
      if (entry && (entry.expiresAt === NO_EXPIRY || entry.expiresAt - t >= ttl)) return;
      put(pauseKey, { kind: 'string', value: '1', expiresAt: t + ttl });
    },

    async leaseTake(key, holder, leaseTtlMs) {
      assertOpen();
      const keys = leaseKeys(key);
      checkId(holder, 'holder');
      const ttl = checkTtl(leaseTtlMs, 'leaseTtlMs');
      const t = now();
      const { hash, leases, value } = readLease(keys, t);
      if (!value) return null;
      let set = leases;
      if (value.state === 'live') {
        if (!set) {
          set = { kind: 'zset', members: new Map(), expiresAt: hash!.expiresAt };
          put(keys.leases, set);
        }
        set.members.set(holder, t + ttl);
        set.expiresAt = hash!.expiresAt; // the leases never outlive the value
      }
      return { ...value, leases: set?.members.size ?? 0 };
    },

    async leaseRelease(key, holder) {
      assertOpen();
      const keys = leaseKeys(key);
      checkId(holder, 'holder');
      const t = now();
      const { leases, value } = readLease(keys, t);
      if (leases) {
        leases.members.delete(holder);
        if (leases.members.size === 0) data.delete(keys.leases);
      }
      return value ? (leases?.members.size ?? 0) : 0;
    },

    async leasePut(key, version, value, ttlMs, lock, holder, leaseTtlMs) {
      assertOpen();
      const keys = leaseKeys(key);
      checkId(version, 'version');
      checkLeaseValue(value);
      const ttl = checkTtl(ttlMs);
      const l = checkLeaseLock(lock, keys);
      checkId(holder, 'holder');
      const leaseTtl = checkTtl(leaseTtlMs, 'leaseTtlMs');
      const t = now();
      const leases = trimZset(keys.leases, zsetEntry(keys.leases, t), t);
      if (stringEntry(l.key, t)?.value !== l.value) return false;
      if (live(keys.key, t)) return false;
      // Leases left by an earlier value (which expired) do not hold this one.
      ensureRoom(leases ? 1 : 2);
      if (leases) data.delete(keys.leases);
      put(keys.key, {
        kind: 'hash', fields: new Map([['version', version], ['value', value], ['state', 'live']]), expiresAt: t + ttl,
      });
      put(keys.leases, { kind: 'zset', members: new Map([[holder, t + leaseTtl]]), expiresAt: t + ttl });
      return true;
    },

    async leaseRetire(key, version, claimTtlMs) {
      assertOpen();
      const keys = leaseKeys(key);
      checkId(version, 'version');
      const claimTtl = checkTtl(claimTtlMs, 'claimTtlMs');
      const t = now();
      const { hash, leases, value } = readLease(keys, t);
      if (!value || value.version !== version) return 'gone';
      if ((leases?.members.size ?? 0) > 0) return 'held';
      if (value.state === 'retiring' && Number(hash!.fields.get('claimUntil') ?? 0) > t) return 'held';
      hash!.fields.set('state', 'retiring');
      hash!.fields.set('claimUntil', String(t + claimTtl));
      return 'retiring';
    },

    async leaseDrop(key, version) {
      assertOpen();
      const keys = leaseKeys(key);
      checkId(version, 'version');
      const t = now();
      const { value } = readLease(keys, t);
      if (!value || value.version !== version) return false;
      data.delete(keys.key);
      data.delete(keys.leases);
      return true;
    },

    async leasePeek(key) {
      assertOpen();
      const keys = leaseKeys(key);
      const { leases, value } = readLease(keys, now());
      return value ? { ...value, leases: leases?.members.size ?? 0 } : null;
    },

    async publish(channel, message) {
      assertOpen();
      checkKey(channel);
      checkString(message, 'message');
      const handlers = channels.get(channel);
      if (!handlers) return;
      // Asynchronous delivery, like Redis: the publisher never runs subscriber code inline.
      for (const handler of [...handlers]) {
        setImmediate(() => {
          if (closed) return;
          try {
            handler(message);
          } catch (err) {
            opts.logger?.error({ err, channel }, 'state subscriber threw');
          }
        });
      }
    },

    async subscribe(channel, handler): Promise<Unsubscribe> {
      assertOpen();
      checkKey(channel);
      if (typeof handler !== 'function') throw new GuardError('KG7002', 'handler must be a function');
      let set = channels.get(channel);
      if (!set) channels.set(channel, (set = new Set()));
      // Wrap so the same function subscribed twice gets two independent subscriptions.
      const subscription = (m: string): void => handler(m);
      set.add(subscription);
      return async () => {
        const current = channels.get(channel);
        current?.delete(subscription);
        if (current?.size === 0) channels.delete(channel);
      };
    },

    flushDetected: () => false,

    async confirmFlush() {
      assertOpen();
    },

    async health() {
      assertOpen();
    },

    async close() {
      closed = true;
      clearInterval(sweeper);
      data.clear();
      channels.clear();
    },
  };
  return store;
}
