// Two replicas learning one bot at once: the baseline is one JSON document per bot in the Store, read, learned
// into and written back. Each replica serialises its own learning, but two replicas did not see each other's
// writes, so the later write dropped what the other had learned (half of a bot's calls lost behind two replicas,
// a balance read's reset or a buy's shares undone). Every learned call must be in the document.
import t, { type Test } from 'tap';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createMemoryStore, createRedisStore } from '../../proxy/state/index.js';
import type { Store } from '../../proxy/state/types.js';
import { createRiskEngine, parseRiskConfig, seoulToEpoch, type RiskInput } from '../../proxy/risk/index.js';
import { startRedis } from '../helpers/redis.js';
import { riskInput } from '../helpers/risk-setups.js';

const logger = pino({ level: 'silent' });
const clock = seoulToEpoch('2026-01-05', 10, 0);
const config = parseRiskConfig({});

function replica(store: Store) {
  return createRiskEngine({ config, store, registry: new Registry(), logger, now: () => clock });
}

const quote = (i: number): RiskInput => riskInput({ now: clock + i });
const buy = (i: number, qty: number): RiskInput => ({ ...quote(i), apiId: 'kt10000', kind: 'order', side: 'buy', qty, price: 74_000 });

async function race(t: Test, a: Store, b: Store, read: Store): Promise<void> {
  const [ra, rb] = [replica(a), replica(b)];
  const done = { allowed: true, completed: true };
  const jobs: Promise<void>[] = [];
  for (let i = 0; i < 30; i++) jobs.push(ra.learn(quote(i), done), rb.learn(i % 3 === 0 ? buy(i, 1 + i) : quote(i), done));
  await Promise.all(jobs);
  const doc = JSON.parse((await read.get('risk:baseline:b1'))!);
  t.equal(doc.calls, 60, 'every call learned by either replica is in the baseline');
  t.equal(doc.orders, 10, 'every order too');
  const bought = Array.from({ length: 10 }, (_, k) => 1 + 3 * k).reduce((s, q) => s + q, 0);
  t.same(doc.sinceRead['005930'], [bought, 0], 'the shares of every buy since the holdings read');
  // The next learn of either replica starts from what both wrote.
  await ra.learn(quote(99), done);
  t.equal(JSON.parse((await read.get('risk:baseline:b1'))!).calls, 61, 'a later learn adds to it');
}

t.test('two replicas on one Redis', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.cleanup());
  const mk = () => createRedisStore({ url: redis.url, logger, registry: new Registry(), commandTimeoutMs: 5_000 });
  const [a, b] = await Promise.all([mk(), mk()]);
  t.teardown(() => Promise.all([a.close(), b.close()]));
  await race(t, a, b, a);
});

t.test('two engines on one memory store', async (t) => {
  const store = createMemoryStore({ now: () => clock });
  t.teardown(() => store.close());
  await race(t, store, store, store);
});

t.test('a learn after its own assess writes without reading the document again; a copy another replica changed is read then', async (t) => {
  const store = createMemoryStore({ now: () => clock });
  t.teardown(() => store.close());
  let reads = 0;
  const counting: Store = new Proxy(store, {
    get(target, prop) {
      if (prop === 'get')
        return (key: string) => {
          if (key === 'risk:baseline:b1') reads++;
          return target.get(key);
        };
      return Reflect.get(target, prop);
    },
  });
  const [ra, rb] = [replica(counting), replica(store)];
  const done = { allowed: true, completed: true };
  await ra.assess(quote(0));
  await ra.learn(quote(0), done);
  reads = 0;
  for (let i = 1; i <= 5; i++) {
    await ra.assess(quote(i));
    await ra.learn(quote(i), done);
  }
  t.equal(reads, 5, 'five calls: one read each, by assess');
  await ra.assess(quote(6));
  await rb.learn(quote(100), done); // the other replica learns between this one's assess and learn
  reads = 0;
  await ra.learn(quote(6), done);
  t.equal(reads, 1, 'the write of a changed copy is refused and the document read again');
  t.equal(JSON.parse((await store.get('risk:baseline:b1'))!).calls, 8, 'every call learned by either is in it');
});
