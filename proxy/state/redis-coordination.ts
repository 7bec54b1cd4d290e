// The Redis store's coordination operations: governor slots and leased
// values (broker sessions). Each is one Lua script with Redis' clock, and
// each re-checks the generation marker first when it may be stale.
import { GuardError } from '../common/errors.js';
import { defineScript, type OpsDeps } from './redis-ops.js';
import {
  LEASE_DROP_LUA,
  LEASE_PEEK_LUA,
  LEASE_PUT_LUA,
  LEASE_RELEASE_LUA,
  LEASE_RETIRE_LUA,
  LEASE_REVIVE_LUA,
  LEASE_TAKE_LUA,
  PAUSE_SLOTS_LUA,
  SETTLE_SLOT_LUA,
  TAKE_SLOT_LUA,
} from './redis-scripts.js';
import type { LeasedValue, Store } from './types.js';
import { checkId, checkKey, checkTtl, leaseKeys, normaliseLeasePut, normaliseSlot } from './validate.js';

export type RedisCoordination = Pick<
  Store,
  'takeSlot' | 'settleSlot' | 'pauseSlots' | 'leaseTake' | 'leaseRelease' | 'leasePut' | 'leaseRetire' | 'leaseRevive' | 'leaseDrop' | 'leasePeek'
>;

function leasedValue(reply: unknown): LeasedValue | null {
  if (reply === null || reply === undefined) return null;
  const [version, value, state, leases] = reply as [string, string, string, number];
  return { version: String(version), value: String(value), state: state === 'retiring' ? 'retiring' : 'live', leases: Number(leases) };
}

export function redisCoordination({ client, prefix, op, generation }: OpsDeps): RedisCoordination {
  const takeSlotScript = defineScript(client, 'kguardTakeSlot', TAKE_SLOT_LUA, 2);
  const settleSlotScript = defineScript(client, 'kguardSettleSlot', SETTLE_SLOT_LUA, 1);
  const pauseSlotsScript = defineScript(client, 'kguardPauseSlots', PAUSE_SLOTS_LUA, 1);
  const leaseTakeScript = defineScript(client, 'kguardLeaseTake', LEASE_TAKE_LUA, 2);
  const leasePeekScript = defineScript(client, 'kguardLeasePeek', LEASE_PEEK_LUA, 2);
  const leaseReleaseScript = defineScript(client, 'kguardLeaseRelease', LEASE_RELEASE_LUA, 2);
  const leasePutScript = defineScript(client, 'kguardLeasePut', LEASE_PUT_LUA, 3);
  const leaseRetireScript = defineScript(client, 'kguardLeaseRetire', LEASE_RETIRE_LUA, 2);
  const leaseReviveScript = defineScript(client, 'kguardLeaseRevive', LEASE_REVIVE_LUA, 2);
  const leaseDropScript = defineScript(client, 'kguardLeaseDrop', LEASE_DROP_LUA, 2);

  const k = (key: string): string => prefix + checkKey(key);

  // Counters and coordination state: like consume/peek, re-check the
  // generation marker first when it may be stale (after a reconnect), so a
  // Redis that came back empty is flagged (flushDetected) before it is used.
  async function fresh(): Promise<void> {
    if (generation.isStale()) await generation.ensure();
  }

  /** Prefixed value key and leases key (validated: one {hash tag}). */
  const lk = (key: string): [string, string] => {
    const keys = leaseKeys(key);
    return [prefix + keys.key, prefix + keys.leases];
  };

  return {
    async takeSlot(req) {
      const r = normaliseSlot(req);
      return op('takeSlot', async () => {
        await fresh();
        const [granted, retry] = (await takeSlotScript(prefix + r.key, prefix + r.pauseKey, r.limit, r.windowMs, r.holdMs, r.id)) as [number, number];
        return Number(granted) === 1 ? { granted: true, retryAfterMs: 0 } : { granted: false, retryAfterMs: Math.max(1, Number(retry)) };
      });
    },

    async settleSlot(key, id, windowMs) {
      const full = k(key);
      checkId(id, 'id');
      const win = checkTtl(windowMs, 'windowMs');
      return op('settleSlot', async () => {
        await fresh();
        await settleSlotScript(full, id, win);
      });
    },

    async pauseSlots(pauseKey, ms) {
      const full = k(pauseKey);
      const ttl = checkTtl(ms, 'ms');
      return op('pauseSlots', async () => {
        await fresh();
        await pauseSlotsScript(full, ttl);
      });
    },

    async leaseTake(key, holder, leaseTtlMs) {
      const [full, leases] = lk(key);
      checkId(holder, 'holder');
      const ttl = checkTtl(leaseTtlMs, 'leaseTtlMs');
      return op('leaseTake', async () => {
        await fresh();
        return leasedValue(await leaseTakeScript(full, leases, holder, ttl));
      });
    },

    async leaseRelease(key, holder) {
      const [full, leases] = lk(key);
      checkId(holder, 'holder');
      return op('leaseRelease', async () => {
        await fresh();
        return Number(await leaseReleaseScript(full, leases, holder));
      });
    },

    async leasePut(key, version, value, ttlMs, lock, holder, leaseTtlMs) {
      const { keys, ttl, lock: l, leaseTtl } = normaliseLeasePut(key, version, value, ttlMs, lock, holder, leaseTtlMs);
      return op('leasePut', async () => {
        await fresh();
        const reply = await leasePutScript(prefix + keys.key, prefix + keys.leases, prefix + l.key, version, value, ttl, l.value, holder, leaseTtl);
        return Number(reply) === 1;
      });
    },

    async leaseRetire(key, version, claimTtlMs, claimant) {
      const [full, leases] = lk(key);
      checkId(version, 'version');
      const claimTtl = checkTtl(claimTtlMs, 'claimTtlMs');
      checkId(claimant, 'claimant');
      return op('leaseRetire', async () => {
        await fresh();
        const reply = String(await leaseRetireScript(full, leases, version, claimTtl, claimant));
        if (reply !== 'retiring' && reply !== 'held' && reply !== 'gone') throw new GuardError('KG7001', 'unexpected reply');
        return reply;
      });
    },

    async leaseRevive(key, version, claimant) {
      const [full, leases] = lk(key);
      checkId(version, 'version');
      checkId(claimant, 'claimant');
      return op('leaseRevive', async () => {
        await fresh();
        return Number(await leaseReviveScript(full, leases, version, claimant)) === 1;
      });
    },

    async leaseDrop(key, version) {
      const [full, leases] = lk(key);
      checkId(version, 'version');
      return op('leaseDrop', async () => {
        await fresh();
        return Number(await leaseDropScript(full, leases, version)) === 1;
      });
    },

    async leasePeek(key) {
      const [full, leases] = lk(key);
      return op('leasePeek', async () => {
        await fresh();
        return leasedValue(await leasePeekScript(full, leases));
      });
    },
  };
}
