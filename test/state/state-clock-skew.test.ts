// Replicas compare times other replicas wrote (token expiries, approval deadlines, the risk engine's call
// gaps), so a node whose clock drifted misjudges them with nothing failing. Each replica on Redis now compares its
// clock with Redis' TIME: the gauge kguard_clock_skew_seconds, and a /readyz warning (the replica stays ready) past
// state.redis.maxClockSkewMs beyond the round trip's uncertainty. A real redis-server; this replica's clock is moved
// by the test (the check reads it through `now`), since Redis' cannot be.
import { pino } from 'pino';
import { Registry } from 'prom-client';
import t, { type Test } from 'tap';
import { runReadiness } from '../../proxy/admin/health.js';
import { parseStateConfig } from '../../proxy/state/config.js';
import { clockSkewCheck, createMemoryStore, createRedisStore, type Store } from '../../proxy/state/index.js';
import { PATIENT_REDIS, startRedis } from '../helpers/redis.js';

const silentLogger = () => pino({ level: 'silent' });
const redis = await startRedis();
t.teardown(() => redis.cleanup());
const newStore = async (registry = new Registry()) => {
  const store = await createRedisStore({ ...PATIENT_REDIS, url: redis.url, logger: silentLogger(), registry });
  t.teardown(() => store.close());
  await store.health();
  return store;
};
const gaugeOf = async (registry: Registry): Promise<number | undefined> =>
  (await registry.getSingleMetric('kguard_clock_skew_seconds')?.get())?.values[0]?.value;
const timeCalls = async (registry: Registry): Promise<number> => {
  const m = await registry.getSingleMetric('kguard_state_op_seconds')!.get();
  return m.values.find((v) => (v as { metricName?: string }).metricName === 'kguard_state_op_seconds_count' && v.labels.op === 'time')?.value ?? 0;
};
const checkOf = (store: Store, registry: Registry, offsetMs: number, more: { maxSkewMs?: number; checkEveryMs?: number; language?: 'ko' | 'en' } = {}) =>
  clockSkewCheck(store, {
    registry,
    maxSkewMs: more.maxSkewMs ?? 1_000,
    checkEveryMs: more.checkEveryMs ?? 60_000,
    language: more.language ?? 'en',
    now: () => {
      const at = Date.now() + offsetMs;
      stamps.push(at);
      return at;
    },
  })!;
/** Every reading of this replica's (moved) clock the checks took: a reading takes two, around Redis' TIME. */
const stamps: number[] = [];

t.test('defaults: a warning past 1 s, a reading reused for 10 s; 0 turns the warning off; out of range refused', async (t) => {
  const { redis: r } = parseStateConfig({ redis: { url: 'redis://127.0.0.1:1' } });
  t.equal(r.maxClockSkewMs, 1_000);
  t.equal(r.clockCheckMs, 10_000);
  t.equal(parseStateConfig({ redis: { url: 'redis://127.0.0.1:1', maxClockSkewMs: 0 } }).redis.maxClockSkewMs, 0);
  t.throws(() => parseStateConfig({ redis: { url: 'redis://127.0.0.1:1', maxClockSkewMs: -1 } }), { code: 'KG7004' });
  t.throws(() => parseStateConfig({ redis: { url: 'redis://127.0.0.1:1', clockCheckMs: 10 } }), { code: 'KG7004' });
});

/**
 * Asserts the gauge reads `offsetS` within the last reading's uncertainty. Both clocks are this machine's: Redis
 * answered between this replica's two readings around it, so the error is at most half their distance (plus
 * Date.now's millisecond truncation). A bound of the method, whatever the machine's load.
 */
async function gaugeNear(t: Test, registry: Registry, offsetS: number): Promise<void> {
  const skew = (await gaugeOf(registry))!;
  const [before, after] = stamps.slice(-2) as [number, number];
  const halfMs = (after - before) / 2;
  t.ok(Math.abs(skew * 1000 - offsetS * 1000) <= halfMs + 1, `gauge ${skew} s is ${offsetS} s within ± ${halfMs} ms`);
}

/** A fresh store and registry, and /readyz's verdict on a replica whose clock is offsetMs from Redis'. */
async function judged(offsetMs: number, more: Parameters<typeof checkOf>[3] = {}) {
  const registry = new Registry();
  const store = await newStore(registry);
  return { registry, report: await runReadiness([checkOf(store, registry, offsetMs, more)]) };
}

t.test('a clock in step with Redis: the check passes and the gauge reads within the round trip', async (t) => {
  const { registry, report } = await judged(0);
  t.same(report.checks.clock, { ok: true });
  await gaugeNear(t, registry, 0);
});

t.test('a replica 5 s ahead: /readyz warns (still ready), naming how far and the knob; the gauge says +5 s', async (t) => {
  const { registry, report } = await judged(5_000);
  t.equal(report.ready, true, 'a warning: the replica stays in the Service');
  t.equal(report.serving, true, 'calls are still forwarded');
  t.match(report.checks.clock, {
    ok: false,
    severity: 'warn',
    reason: /clock is \d+\.\d\d s ahead of Redis' \(± \d+ ms\).*state\.redis\.maxClockSkewMs \(1000\)/,
  });
  await gaugeNear(t, registry, 5);
});

t.test('a replica 3 s behind, in Korean by default: the warning says so', async (t) => {
  const { registry, report } = await judged(-3_000, { language: 'ko' });
  t.match(report.checks.clock, { ok: false, severity: 'warn', reason: /Redis보다 \d+\.\d\d초 느립니다/ });
  await gaugeNear(t, registry, -3);
});

t.test('maxClockSkewMs 0: no warning however far, the gauge still reads', async (t) => {
  const { registry, report } = await judged(60_000, { maxSkewMs: 0 });
  t.same(report.checks.clock, { ok: true });
  await gaugeNear(t, registry, 60);
});

t.test('within the limit and its uncertainty: no warning', async (t) => {
  const { registry, report } = await judged(500);
  t.same(report.checks.clock, { ok: true }, '0.5 s ahead with a 1 s limit');
  await gaugeNear(t, registry, 0.5);
});

t.test('readyz and scrapes share one reading per period; a new one after it', async (t) => {
  const registry = new Registry();
  const store = await newStore(registry);
  const check = checkOf(store, registry, 0, { checkEveryMs: 60_000 });
  await check.check();
  await check.check();
  await registry.metrics();
  t.equal(await timeCalls(registry), 1, 'one TIME for two probes and a scrape');

  const registry2 = new Registry();
  const store2 = await newStore(registry2);
  const quick = checkOf(store2, registry2, 0, { checkEveryMs: 100 });
  await quick.check();
  await new Promise((r) => setTimeout(r, 150)); // at least the period: a lower bound, true on any machine
  await quick.check();
  t.equal(await timeCalls(registry2), 2, 'past the period, read again');
});

t.test('a scrape never waits on Redis: with Redis hung, /metrics answers with the latest reading', async (t) => {
  const registry = new Registry();
  const store = await newStore(registry);
  const check = checkOf(store, registry, 2_000, { checkEveryMs: 100 });
  await Promise.resolve(check.check()).catch(() => undefined);
  await new Promise((r) => setTimeout(r, 150)); // past the period, so the next read asks Redis again
  redis.pause();
  t.teardown(() => redis.resume()); // never leave it hung for the tests after, whatever fails here
  let settled = false;
  const probe = Promise.resolve(check.check())
    .catch(() => undefined)
    .finally(() => {
      settled = true;
    });
  const text = await registry.metrics();
  t.notOk(settled, 'the reading is still waiting for Redis');
  const value = Number(/^kguard_clock_skew_seconds (\S+)$/m.exec(text)?.[1]);
  t.ok(value > 1, `the scrape answered meanwhile, with the latest reading (${value} s; this replica is 2 s ahead)`);
  redis.resume();
  await probe;
});

t.test('Redis unreachable: no reading, so no clock warning (the state check says Redis is down)', async (t) => {
  const registry = new Registry();
  const down = await createRedisStore({ url: 'redis://127.0.0.1:1', commandTimeoutMs: 500, logger: silentLogger(), registry });
  t.teardown(() => down.close());
  const report = await runReadiness([checkOf(down, registry, 5_000)]);
  t.same(report.checks.clock, { ok: true });
  t.ok(Number.isNaN(await gaugeOf(registry)), 'the gauge reads NaN: unknown, not a reassuring 0');
});

t.test('memory state: no clock check (this process is the only clock)', async (t) => {
  t.equal(clockSkewCheck(createMemoryStore(), { registry: new Registry(), maxSkewMs: 1_000, checkEveryMs: 1_000, language: 'en' }), undefined);
});
