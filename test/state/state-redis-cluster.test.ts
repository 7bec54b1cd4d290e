// A real 3-master Redis Cluster: layered limits sharing a hash tag run as one
// script on one slot (no CROSSSLOT), pub/sub and the contract basics work.
import t from 'tap';
import { Registry } from 'prom-client';
import pino from 'pino';
import { createRedisStore } from '../../proxy/state/index.js';
import { isGuardError } from '../../proxy/common/errors.js';
import { redisCli, startCluster, untilHealthy } from '../helpers/redis.js';

const cluster = await startCluster();
t.teardown(() => cluster.cleanup());
const logger = pino({ level: 'silent' });
// Not what these tests are about: a cluster's first call (scripts loading, redirections) on a busy machine can take longer than the 250 ms default.
const LOADED_MACHINE_TIMEOUT_MS = 5000;
const nodes = cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));

t.test('cluster: layered consume on many bots spreads over slots, each call atomic', async (t) => {
  const store = await createRedisStore({ nodes, logger, registry: new Registry(), commandTimeoutMs: LOADED_MACHINE_TIMEOUT_MS });
  t.teardown(() => store.close());
  await untilHealthy(store);
  const bots = Array.from({ length: 12 }, (_, i) => `b${i}`);
  const slots = new Set<string>();
  for (const bot of bots) {
    slots.add(await redisCli(cluster.nodes[0]!.port, 'CLUSTER', 'KEYSLOT', `kguard:{bot:${bot}}:x`));
    const limits = [
      { key: `{bot:${bot}}:1s`, limit: 3, windowMs: 60_000 },
      { key: `{bot:${bot}}:day`, limit: 5, windowMs: 60_000, mode: 'fixed' as const },
    ];
    const rs = await Promise.all(Array.from({ length: 6 }, () => store.consume(limits)));
    t.equal(rs.filter((r) => r.allowed).length, 3, `bot ${bot}: exactly 3 allowed`);
    t.same(await store.peek(limits), [3, 3]);
  }
  t.ok(slots.size > 1, `keys landed on ${slots.size} different slots`);
  const masters = new Set<number>();
  for (const bot of bots) {
    for (const n of cluster.nodes) {
      if ((await redisCli(n.port, 'EXISTS', `kguard:{bot:${bot}}:day`)) === '1') masters.add(n.port);
    }
  }
  t.ok(masters.size > 1, `data spread over ${masters.size} masters`);
});

t.test('cluster: keys without a shared tag are refused before reaching Redis', async (t) => {
  const store = await createRedisStore({ nodes, logger, registry: new Registry(), commandTimeoutMs: LOADED_MACHINE_TIMEOUT_MS });
  t.teardown(() => store.close());
  try {
    await store.consume([
      { key: 'a:1s', limit: 1, windowMs: 1000 },
      { key: 'b:1s', limit: 1, windowMs: 1000 },
    ]);
    t.fail('should refuse');
  } catch (err) {
    t.ok(isGuardError(err) && err.code === 'KG7002', 'KG7002, not a CROSSSLOT from Redis');
  }
});

t.test('cluster: kv, hashes, incr, pub/sub, generation', async (t) => {
  const store = await createRedisStore({ nodes, logger, registry: new Registry(), commandTimeoutMs: LOADED_MACHINE_TIMEOUT_MS });
  t.teardown(() => store.close());
  await store.set('s1', 'v', 10_000);
  t.equal(await store.get('s1'), 'v');
  t.equal(await store.setIfAbsent('s1', 'w', 10_000), false);
  await store.hset('h1', 'f', 'v', 10_000);
  t.same(await store.hgetall('h1'), { f: 'v' });
  t.equal(await store.incr('c1', 2, 10_000), 2);
  t.type(store.generation(), 'string');
  const got = new Promise<string>((resolve) => {
    void store.subscribe('lockdown', resolve);
  });
  await new Promise((r) => setTimeout(r, 100));
  await store.publish('lockdown', 'global');
  t.equal(await got, 'global');
});

t.test('cluster: tagged leased values and governor slots run as one script on their slot', async (t) => {
  const store = await createRedisStore({ nodes, logger, registry: new Registry(), commandTimeoutMs: LOADED_MACHINE_TIMEOUT_MS });
  t.teardown(() => store.close());
  await untilHealthy(store);
  const apps = Array.from({ length: 8 }, (_, i) => `a${i}`);
  const masters = new Set<number>();
  for (const app of apps) {
    const key = `{tok:${app}}:session`;
    const lock = { key: `{tok:${app}}:lock`, value: `f-${app}` };
    t.equal(await store.setIfAbsent(lock.key, lock.value, 60_000), true);
    t.equal(await store.leasePut(key, 'v1', `tok-${app}`, 60_000, lock, 'A', 60_000), true, `${app}: stored`);
    t.same(await store.leaseTake(key, 'B', 60_000), { version: 'v1', value: `tok-${app}`, state: 'live', leases: 2 });
    t.equal(await store.leaseRetire(key, 'v1', 60_000, 'c1'), 'held');
    t.equal(await store.leaseRelease(key, 'A'), 1);
    t.equal(await store.leaseRelease(key, 'B'), 0);
    t.equal(await store.leaseRetire(key, 'v1', 60_000, 'c1'), 'retiring');
    for (const n of cluster.nodes) {
      if ((await redisCli(n.port, 'EXISTS', `kguard:${key}`)) === '1') masters.add(n.port);
    }
    t.equal(await store.leaseDrop(key, 'v1'), true);
    t.equal(await store.leasePeek(key), null);
    const slot = { key: `{gov:${app}}:q`, pauseKey: `{gov:${app}}:p`, limit: 1, windowMs: 60_000, holdMs: 0, id: 'x' };
    t.equal((await store.takeSlot(slot)).granted, true, `${app}: slot granted`);
    t.equal((await store.takeSlot({ ...slot, id: 'y' })).granted, false, `${app}: window full`);
    await store.pauseSlots(slot.pauseKey, 60_000);
    await store.settleSlot(slot.key, 'x', 60_000);
  }
  t.ok(masters.size > 1, `leased values landed on ${masters.size} masters`);
  try {
    await store.leasePut('{tok:a0}:session', 'v2', 'tok', 60_000, { key: '{other}:lock', value: 'f' }, 'A', 60_000);
    t.fail('should refuse');
  } catch (err) {
    t.ok(isGuardError(err) && err.code === 'KG7002', 'a lock on another tag: KG7002, not a CROSSSLOT from Redis');
  }
});
