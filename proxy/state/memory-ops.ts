// The in-memory store's key/value, hash and limit operations (the same
// semantics as redis-ops.ts). Slots and leased values live in
// memory-coordination.ts; the key space itself in memory-data.ts.
import { GuardError } from '../common/errors.js';
import { integerValue, NO_EXPIRY, wrongType, type MemoryData, type WindowEntry } from './memory-data.js';
import type { KeyValueOps, LimitRequest, LimitResult } from './types.js';
import {
  checkInteger,
  checkKey,
  checkList,
  checkOptionalTtl,
  checkString,
  checkTtl,
  normaliseLimits,
  normaliseRefunds,
  type NormalisedLimit,
} from './validate.js';

export type MemoryOps = KeyValueOps;

// Drops events that left the window, keeping the running sum exact.
function trimWindow(entry: WindowEntry, t: number, windowMs: number): void {
  const cutoff = t - windowMs;
  let drop = 0;
  while (drop < entry.events.length && entry.events[drop]!.at <= cutoff) entry.sum -= entry.events[drop++]!.cost;
  if (drop > 0) entry.events.splice(0, drop);
}

interface Reading {
  used: number;
  retryAfterMs: (cost: number) => number;
  charge: (cost: number) => void;
}

export function memoryOps(d: MemoryData): MemoryOps {
  const { data, now, assertOpen, live, put, stringEntry, ensureRoom } = d;

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

  return {
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

    async swap(key, value, ttlMs) {
      assertOpen();
      checkKey(key);
      checkString(value, 'value');
      const ttl = checkTtl(ttlMs);
      const t = now();
      const old = stringEntry(key, t)?.value ?? null;
      put(key, { kind: 'string', value, expiresAt: t + ttl });
      return old;
    },

    async setIfUnchanged(key, expected, value, ttlMs) {
      assertOpen();
      checkKey(key);
      if (expected !== null) checkString(expected, 'expected');
      checkString(value, 'value');
      const ttl = checkOptionalTtl(ttlMs);
      const t = now();
      if ((stringEntry(key, t)?.value ?? null) !== expected) return false;
      put(key, { kind: 'string', value, expiresAt: ttl === undefined ? NO_EXPIRY : t + ttl });
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
      ensureRoom(ls.filter((l) => l.cost > 0 && !data.has(l.key)).length);
      ls.forEach((l, i) => {
        readings[i]!.charge(l.cost);
      });
      return { allowed: true, usage };
    },

    async peek(limits) {
      assertOpen();
      const ls = normaliseLimits(limits);
      const t = now();
      return ls.map((l) => read(l, t).used);
    },

    async refund(limits) {
      assertOpen();
      const ls = normaliseRefunds(limits);
      const t = now();
      // Read everything first (may throw on a value that is not a count) so a failure changes nothing.
      const entries = ls.map((l) => {
        const entry = stringEntry(l.key, t);
        return { entry, used: integerValue(entry) };
      });
      return ls.map((l, i) => {
        const { entry, used } = entries[i]!;
        if (!entry) return 0;
        const left = Math.max(0, used - l.cost);
        entry.value = String(left);
        return left;
      });
    },
  };
}
