// The Redis store's key/value, hash and limit operations: validated, prefixed
// and run through the call wrapper (deadline, metrics, typed errors). Slots
// and leased values live in redis-coordination.ts.
import { Cluster } from 'ioredis';
import type { RunOp } from './redis-call.js';
import type { RedisClient } from './redis-connect.js';
import type { Generation } from './redis-generation.js';
import { createHash, randomBytes } from 'node:crypto';
import { CONSUME_LUA, HSET_LUA, INCR_LUA, REFUND_LUA, SET_IF_UNCHANGED_LUA, SWAP_LUA } from './redis-scripts.js';
import type { KeyValueOps, LimitRequest, LimitResult } from './types.js';
import {
  checkInteger,
  checkKey,
  checkList,
  checkOptionalTtl,
  checkString,
  checkTtl,
  hashTagOf,
  normaliseLimits,
  normaliseRefunds,
  type NormalisedLimit,
} from './validate.js';

// Scripts defined without numberOfKeys take the key count as their first argument.
export type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;

/** Registers a Lua script on the client (EVALSHA, loaded on first use) and returns it as a function. */
export function defineScript(client: RedisClient, name: string, lua: string, numberOfKeys?: number): ScriptFn {
  client.defineCommand(name, numberOfKeys === undefined ? { lua } : { numberOfKeys, lua });
  const fn = (client as unknown as Record<string, ScriptFn>)[name] as ScriptFn;
  return fn.bind(client);
}

export interface OpsDeps {
  client: RedisClient;
  prefix: string;
  op: RunOp;
  generation: Pick<Generation, 'isStale' | 'ensure'>;
}

export type RedisOps = KeyValueOps;

export function redisOps({ client, prefix, op, generation }: OpsDeps): RedisOps {
  const consumeScript = defineScript(client, 'kguardConsume', CONSUME_LUA);
  const incrScript = defineScript(client, 'kguardIncr', INCR_LUA, 1);
  const hsetScript = defineScript(client, 'kguardHset', HSET_LUA, 1);
  const refundScript = defineScript(client, 'kguardRefund', REFUND_LUA);
  const setIfUnchangedScript = defineScript(client, 'kguardSetIfUnchanged', SET_IF_UNCHANGED_LUA, 1);
  const swapScript = defineScript(client, 'kguardSwap', SWAP_LUA, 1);
  const k = (key: string): string => prefix + checkKey(key);

  async function runLimits(ls: NormalisedLimit[], charge: boolean): Promise<{ failed: number; retry: number; used: number[] }> {
    // A Redis that came back empty must be flagged (flushDetected) before its counters are used.
    if (generation.isStale()) await generation.ensure();
    const args: (string | number)[] = [];
    for (const l of ls) {
      const full = prefix + l.key;
      // Companion sum key in the same cluster slot: keep the key's tag, or make the whole key the tag.
      args.push(full, hashTagOf(full) === undefined ? `{${full}}:~sum` : `${full}:~sum`);
    }
    args.push(charge ? '1' : '0', randomBytes(8).toString('hex'));
    for (const l of ls) args.push(l.limit, l.windowMs, l.mode === 'sliding' ? 's' : 'f', l.cost);
    const reply = (await consumeScript(ls.length * 2, ...args)) as number[];
    return { failed: Number(reply[0]), retry: Number(reply[1]), used: reply.slice(2).map(Number) };
  }

  return {
    async get(key) {
      return op('get', () => client.get(k(key)));
    },

    async mget(keys) {
      const full = checkList(keys, 'keys', (key) => k(key as string));
      return op('mget', async () => {
        // One MGET where Redis can serve it: anywhere but a Cluster, or when
        // every key carries the same hash tag (one slot). Otherwise the GETs
        // go out together (auto-pipelined per node): still one wait.
        const tag = hashTagOf(full[0]!);
        if (!(client instanceof Cluster) || full.length === 1 || (tag !== undefined && full.every((f) => hashTagOf(f) === tag))) {
          return client.mget(...full);
        }
        return Promise.all(
          full.map((f) =>
            client.get(f).catch((err: unknown) => {
              // As MGET: a key holding another kind of value reads as null.
              if (err instanceof Error && err.message.startsWith('WRONGTYPE')) return null;
              throw err;
            }),
          ),
        );
      });
    },

    async set(key, value, ttlMs) {
      const full = k(key);
      checkString(value, 'value');
      const ttl = checkOptionalTtl(ttlMs);
      return op('set', async () => {
        if (ttl === undefined) await client.set(full, value);
        else await client.set(full, value, 'PX', ttl);
      });
    },

    async setIfAbsent(key, value, ttlMs) {
      const full = k(key);
      checkString(value, 'value');
      const ttl = checkTtl(ttlMs);
      return op('setIfAbsent', async () => (await client.set(full, value, 'PX', ttl, 'NX')) === 'OK');
    },

    async setIfUnchanged(key, expected, value, ttlMs) {
      const full = k(key);
      if (expected !== null) checkString(expected, 'expected');
      checkString(value, 'value');
      const ttl = checkOptionalTtl(ttlMs);
      // The value expected goes as its SHA-1 (a document need not cross the wire twice); '' stands for absent.
      const digest = expected === null ? '' : createHash('sha1').update(expected, 'utf8').digest('hex');
      return op('setIfUnchanged', async () => Number(await setIfUnchangedScript(full, digest, value, ttl ?? '')) === 1);
    },

    async swap(key, value, ttlMs) {
      const full = k(key);
      checkString(value, 'value');
      const ttl = checkTtl(ttlMs);
      return op('swap', async () => {
        const old: unknown = await swapScript(full, value, ttl);
        return typeof old === 'string' ? old : null;
      });
    },

    async del(key) {
      const full = k(key);
      return op('del', async () => {
        await client.del(full);
      });
    },

    async incr(key, by = 1, ttlMs) {
      const full = k(key);
      checkInteger(by, 'by');
      const ttl = checkOptionalTtl(ttlMs);
      return op('incr', async () => Number(await incrScript(full, by, ttl ?? '')));
    },

    async expire(key, ttlMs) {
      const full = k(key);
      const ttl = checkTtl(ttlMs);
      return op('expire', async () => (await client.pexpire(full, ttl)) === 1);
    },

    async hget(key, field) {
      const full = k(key);
      checkString(field, 'field');
      return op('hget', () => client.hget(full, field));
    },

    async hmget(key, fields) {
      const full = k(key);
      const fs = checkList(fields, 'fields', (f) => checkString(f, 'field'));
      return op('hmget', () => client.hmget(full, ...fs));
    },

    async hset(key, field, value, ttlMs) {
      const full = k(key);
      checkString(field, 'field');
      checkString(value, 'value');
      const ttl = checkOptionalTtl(ttlMs);
      return op('hset', async () => {
        await hsetScript(full, field, value, ttl ?? '');
      });
    },

    async hdel(key, field) {
      const full = k(key);
      checkString(field, 'field');
      return op('hdel', async () => {
        await client.hdel(full, field);
      });
    },

    async hgetall(key) {
      const full = k(key);
      return op('hgetall', () => client.hgetall(full));
    },

    async consume(limits: readonly LimitRequest[]): Promise<LimitResult> {
      const ls = normaliseLimits(limits);
      if (ls.length === 0) return { allowed: true, usage: [] };
      return op('consume', async () => {
        const { failed, retry, used } = await runLimits(ls, true);
        const usage = ls.map((l, i) => used[i]! + l.cost);
        return failed === 0 ? { allowed: true, usage } : { allowed: false, failedIndex: failed - 1, usage, retryAfterMs: Math.max(1, retry) };
      });
    },

    async peek(limits) {
      const ls = normaliseLimits(limits);
      if (ls.length === 0) return [];
      return op('peek', async () => (await runLimits(ls, false)).used);
    },

    async refund(limits) {
      const ls = normaliseRefunds(limits);
      if (ls.length === 0) return [];
      return op('refund', async () => {
        if (generation.isStale()) await generation.ensure();
        const reply = (await refundScript(ls.length, ...ls.map((l) => prefix + l.key), ...ls.map((l) => l.cost))) as number[];
        return reply.map(Number);
      });
    },
  };
}
