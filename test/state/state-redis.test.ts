import t from 'tap';
import { Registry } from 'prom-client';
import pino from 'pino';
import { createRedisStore } from '../../proxy/state/index.js';
import { PATIENT_REDIS, startRedis } from '../helpers/redis.js';
import { runStoreContract } from './state-contract.js';

const redis = await startRedis();
t.teardown(() => redis.cleanup());
const logger = pino({ level: 'silent' });

runStoreContract(t, {
  name: 'redis',
  windowMs: 400,
  async create() {
    const store = await createRedisStore({ ...PATIENT_REDIS, url: redis.url, logger, registry: new Registry(), keyPrefix: 'ct:' });
    return { store, clock: { advance: (ms) => new Promise((r) => setTimeout(r, ms)), now: () => Date.now() } };
  },
});

runStoreContract(t, {
  name: 'redis (auto-pipelining)',
  windowMs: 400,
  async create() {
    const store = await createRedisStore({ ...PATIENT_REDIS, url: redis.url, logger, registry: new Registry(), keyPrefix: 'ctp:', autoPipelining: true });
    return { store, clock: { advance: (ms) => new Promise((r) => setTimeout(r, ms)), now: () => Date.now() } };
  },
});

t.test('redis: slot and lease ops are timed per op; two clients racing never overshoot', async (t) => {
  const registry = new Registry();
  const a = await createRedisStore({ ...PATIENT_REDIS, url: redis.url, logger, registry, keyPrefix: 'race:' });
  const b = await createRedisStore({ ...PATIENT_REDIS, url: redis.url, logger, registry: new Registry(), keyPrefix: 'race:', autoPipelining: true });
  t.teardown(() => Promise.all([a.close(), b.close()]));
  const req = (i: number) => ({ key: '{gov:r}:q', pauseKey: '{gov:r}:p', limit: 7, windowMs: 60_000, holdMs: 1_000, id: `id${i}` });
  const rs = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).takeSlot(req(i))));
  t.equal(rs.filter((r) => r.granted).length, 7, 'exactly the limit granted across both clients');
  t.ok(
    rs.filter((r) => !r.granted).every((r) => r.retryAfterMs >= 1),
    'every refusal names a retry',
  );

  await a.setIfAbsent('{tok:r}:lock', 'f', 60_000);
  const puts = await Promise.all(
    Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).leasePut('{tok:r}:s', `v${i}`, 'tok', 60_000, { key: '{tok:r}:lock', value: 'f' }, `h${i}`, 60_000)),
  );
  t.equal(puts.filter(Boolean).length, 1, 'one writer wins');
  const v = await a.leasePeek('{tok:r}:s');
  t.equal(v?.leases, 1);
  // Retire racing with takes: either the retire wins (takes see 'retiring') or a take's lease makes it 'held'.
  await a.leaseRelease('{tok:r}:s', `h${puts.indexOf(true)}`);
  const [retired, ...takes] = await Promise.all([
    a.leaseRetire('{tok:r}:s', v!.version, 60_000, 'c1'),
    ...Array.from({ length: 5 }, (_, i) => b.leaseTake('{tok:r}:s', `t${i}`, 60_000)),
  ]);
  // Atomic: a take that came first leases it (then the retire is 'held' and every take leases);
  // a retire that came first leaves every take without a lease.
  if (retired === 'retiring') {
    t.ok(
      takes.every((x) => x?.state === 'retiring' && x.leases === 0),
      'retire first: no take got a lease',
    );
  } else {
    t.equal(retired, 'held');
    t.ok(
      takes.every((x) => x?.state === 'live' && x.leases >= 1),
      'a take first: every take leased it',
    );
  }
  const metrics = await registry.getSingleMetricAsString('kguard_state_op_seconds');
  for (const op of ['takeSlot', 'leasePut', 'leasePeek', 'leaseRelease', 'leaseRetire']) {
    t.match(metrics, new RegExp(`kguard_state_op_seconds_count\\{op="${op}"\\} [1-9]`), `${op} timed`);
  }
});

t.test('redis: after an empty restart, the flush is flagged before a lease or slot op answers', async (t) => {
  const own = await startRedis();
  t.teardown(() => own.cleanup());
  const store = await createRedisStore({ url: own.url, logger, registry: new Registry(), maxReconnectDelayMs: 100, generationCheckMs: 600_000 });
  t.teardown(() => store.close());
  await store.setIfAbsent('{tok:f}:lock', 'f', 60_000);
  t.equal(await store.leasePut('{tok:f}:s', 'v1', 'tok', 60_000, { key: '{tok:f}:lock', value: 'f' }, 'A', 60_000), true);
  t.equal(store.flushDetected(), false);
  await own.restart();
  const deadline = Date.now() + 15_000;
  let peeked: Awaited<ReturnType<typeof store.leasePeek>> | undefined;
  while (peeked === undefined) {
    try {
      peeked = await store.leasePeek('{tok:f}:s');
    } catch {
      if (Date.now() > deadline) throw new Error('redis did not come back');
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  t.equal(peeked, null, 'the value is gone');
  t.equal(store.flushDetected(), true, 'and the loss was flagged by the time the op answered');
  t.equal((await store.takeSlot({ key: '{gov:f}:q', pauseKey: '{gov:f}:p', limit: 1, windowMs: 1000, holdMs: 0, id: 'x' })).granted, true);
  t.equal(store.flushDetected(), true, 'until an operator confirms');
});
