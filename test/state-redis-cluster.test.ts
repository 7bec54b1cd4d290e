// A real 3-master Redis Cluster: layered limits sharing a hash tag run as one
// script on one slot (no CROSSSLOT), pub/sub and the contract basics work.
import t from 'tap';
import { Registry } from 'prom-client';
import pino from 'pino';
import { createRedisStore } from '../proxy/state/index.js';
import { isGuardError } from '../proxy/common/errors.js';
import { redisCli, startCluster } from './helpers/redis.js';

const cluster = await startCluster();
t.teardown(() => cluster.cleanup());
const logger = pino({ level: 'silent' });
const nodes = cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));

t.test('cluster: layered consume on many bots spreads over slots, each call atomic', async (t) => {
  const store = await createRedisStore({ nodes, logger, registry: new Registry() });
  t.teardown(() => store.close());
  await store.health();
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
      if (await redisCli(n.port, 'EXISTS', `kguard:{bot:${bot}}:day`) === '1') masters.add(n.port);
    }
  }
  t.ok(masters.size > 1, `data spread over ${masters.size} masters`);
});

t.test('cluster: keys without a shared tag are refused before reaching Redis', async (t) => {
  const store = await createRedisStore({ nodes, logger, registry: new Registry() });
  t.teardown(() => store.close());
  try {
    await store.consume([{ key: 'a:1s', limit: 1, windowMs: 1000 }, { key: 'b:1s', limit: 1, windowMs: 1000 }]);
    t.fail('should refuse');
  } catch (err) {
    t.ok(isGuardError(err) && err.code === 'KG7002', 'KG7002, not a CROSSSLOT from Redis');
  }
});

t.test('cluster: kv, hashes, incr, pub/sub, generation', async (t) => {
  const store = await createRedisStore({ nodes, logger, registry: new Registry() });
  t.teardown(() => store.close());
  await store.set('s1', 'v', 10_000);
  t.equal(await store.get('s1'), 'v');
  t.equal(await store.setIfAbsent('s1', 'w', 10_000), false);
  await store.hset('h1', 'f', 'v', 10_000);
  t.same(await store.hgetall('h1'), { f: 'v' });
  t.equal(await store.incr('c1', 2, 10_000), 2);
  t.type(store.generation(), 'string');
  const got = new Promise<string>((resolve) => { void store.subscribe('lockdown', resolve); });
  await new Promise((r) => setTimeout(r, 100));
  await store.publish('lockdown', 'global');
  t.equal(await got, 'global');
});
