// The in-memory store's coordination operations: governor slots and leased
// values (broker sessions), with the same semantics as the Lua scripts in
// redis-coordination.ts. Each runs to completion in one turn, so it is atomic
// the way a script is.
import { GuardError } from '../common/errors.js';
import { NO_EXPIRY, type HashEntry, type MemoryData, type ZsetEntry } from './memory-data.js';
import type { LeasedValue, Store } from './types.js';
import { checkId, checkKey, checkTtl, leaseKeys, normaliseLeasePut, normaliseSlot } from './validate.js';

export type MemoryCoordination = Pick<
  Store,
  'takeSlot' | 'settleSlot' | 'pauseSlots' | 'leaseTake' | 'leaseRelease' | 'leasePut' | 'leaseRetire' | 'leaseRevive' | 'leaseDrop' | 'leasePeek'
>;

export function memoryCoordination(d: MemoryData): MemoryCoordination {
  const { data, now, assertOpen, live, put, stringEntry, hashEntry, zsetEntry, trimZset, ensureRoom } = d;

  /** The leased value and its live leases (expired leases dropped first); undefined when absent. */
  function readLease(
    keys: { key: string; leases: string },
    t: number,
  ): {
    hash: HashEntry | undefined;
    leases: ZsetEntry | undefined;
    value: Omit<LeasedValue, 'leases'> | undefined;
  } {
    const leases = trimZset(keys.leases, zsetEntry(keys.leases, t), t);
    const hash = hashEntry(keys.key, t);
    const version = hash?.fields.get('version');
    const value =
      version === undefined
        ? undefined
        : {
            version,
            value: hash!.fields.get('value') ?? '',
            state: hash!.fields.get('state') === 'retiring' ? ('retiring' as const) : ('live' as const),
          };
    return { hash, leases, value };
  }

  return {
    async takeSlot(req) {
      assertOpen();
      const r = normaliseSlot(req);
      const t = now();
      // Trimming only lowers the count, so below the limit it cannot change the answer: the
      // window is swept when it is full, not on every take (a key at thousands of calls a second
      // would otherwise scan them all per call). It stays bounded by the limit either way.
      const cutoff = t - r.windowMs;
      const untrimmed = zsetEntry(r.key, t);
      const window = untrimmed && untrimmed.members.size >= r.limit ? trimZset(r.key, untrimmed, cutoff) : untrimmed;
      const held = window?.members.get(r.id);
      if (held !== undefined && held > cutoff) throw new GuardError('KG7002', 'slot id is already in the window');
      if (held !== undefined) window!.members.delete(r.id);
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
      return value ? (leases?.members.size ?? 0) : -1;
    },

    async leasePut(key, version, value, ttlMs, lock, holder, leaseTtlMs) {
      assertOpen();
      const { keys, ttl, lock: l, leaseTtl } = normaliseLeasePut(key, version, value, ttlMs, lock, holder, leaseTtlMs);
      const t = now();
      const leases = trimZset(keys.leases, zsetEntry(keys.leases, t), t);
      if (stringEntry(l.key, t)?.value !== l.value) return false;
      if (live(keys.key, t)) return false;
      // Leases left by an earlier value (which expired) do not hold this one.
      ensureRoom(leases ? 1 : 2);
      if (leases) data.delete(keys.leases);
      put(keys.key, {
        kind: 'hash',
        fields: new Map([
          ['version', version],
          ['value', value],
          ['state', 'live'],
        ]),
        expiresAt: t + ttl,
      });
      put(keys.leases, { kind: 'zset', members: new Map([[holder, t + leaseTtl]]), expiresAt: t + ttl });
      return true;
    },

    async leaseRetire(key, version, claimTtlMs, claimant) {
      assertOpen();
      const keys = leaseKeys(key);
      checkId(version, 'version');
      const claimTtl = checkTtl(claimTtlMs, 'claimTtlMs');
      checkId(claimant, 'claimant');
      const t = now();
      const { hash, leases, value } = readLease(keys, t);
      if (!value || value.version !== version) return 'gone';
      if ((leases?.members.size ?? 0) > 0) return 'held';
      if (value.state === 'retiring' && Number(hash!.fields.get('claimUntil') ?? 0) > t) return 'held';
      hash!.fields.set('state', 'retiring');
      hash!.fields.set('claimUntil', String(t + claimTtl));
      hash!.fields.set('claimBy', claimant);
      return 'retiring';
    },

    async leaseRevive(key, version, claimant) {
      assertOpen();
      const keys = leaseKeys(key);
      checkId(version, 'version');
      checkId(claimant, 'claimant');
      const { hash, value } = readLease(keys, now());
      if (!value || value.version !== version || value.state !== 'retiring') return false;
      if (hash!.fields.get('claimBy') !== claimant) return false;
      hash!.fields.set('state', 'live');
      hash!.fields.delete('claimUntil');
      hash!.fields.delete('claimBy');
      return true;
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
  };
}
