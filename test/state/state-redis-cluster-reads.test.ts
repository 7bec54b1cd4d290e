// mget/hmget on a real 3-master Redis Cluster: keys spanning several slots
// (the session check's jti/epoch/disabled keys carry no shared tag) still
// read in one call with MGET semantics; keys sharing a hash tag use MGET.
import t from 'tap';
import { Registry } from 'prom-client';
import pino from 'pino';
import { createRedisStore } from '../../proxy/state/index.js';
import { redisCli, startCluster, untilHealthy } from '../helpers/redis.js';

const cluster = await startCluster();
t.teardown(() => cluster.cleanup());
const nodes = cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));

t.test('cluster: mget across slots, mget on one tag, hmget', async (t) => {
  const store = await createRedisStore({
    nodes,
    logger: pino({ level: 'silent' }),
    registry: new Registry(),
    commandTimeoutMs: 5000 /* a busy machine's first cluster call */,
  });
  t.teardown(() => store.close());
  await untilHealthy(store);
  const keys = Array.from({ length: 8 }, (_, i) => `spread:${i}`);
  const slots = new Set<string>();
  for (const k of keys) slots.add(await redisCli(cluster.nodes[0]!.port, 'CLUSTER', 'KEYSLOT', `kguard:${k}`));
  t.ok(slots.size > 1, `the keys span ${slots.size} slots`);
  for (const [i, k] of keys.entries()) if (i % 2 === 0) await store.set(k, `v${i}`, 10_000);
  await store.hset(keys[1]!, 'f', 'x', 10_000);
  t.same(
    await store.mget(keys),
    keys.map((_, i) => (i % 2 === 0 ? `v${i}` : null)),
    'in order; missing and hash keys read as null',
  );
  await store.set('{tag}:a', 'A', 10_000);
  t.same(await store.mget(['{tag}:a', '{tag}:b']), ['A', null], 'one hash tag: one MGET');
  await store.hset('{tag}:h', 'f', '1', 10_000);
  t.same(await store.hmget('{tag}:h', ['f', 'g']), ['1', null]);
});
