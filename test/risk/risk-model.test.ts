// The learned per-bot model: streaming half-space trees (proxy/risk/model.ts).
// Reference behaviour from the paper's definitions: node masses count the
// window, the mass score r x 2^depth, a window swap, and a dense point
// scoring below a far one; bounded memory; persistence with the baseline
// through the memory Store and a real redis-server.
import t from 'tap';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createForest, FEATURES, modelJson, modelState } from '../../proxy/risk/model.js';
import { createRiskEngine, parseRiskConfig, seoulToEpoch, type RiskInput } from '../../proxy/risk/index.js';
import { createMemoryStore, createRedisStore } from '../../proxy/state/index.js';
import type { Store } from '../../proxy/state/types.js';
import { PATIENT_REDIS, startRedis } from '../helpers/redis.js';
import { GuardError } from '../../proxy/common/errors.js';

const dims = FEATURES.length;
/** A quote of 005930 by `botId` at `now`. */
const quoteAt = (botId: string, now: number): RiskInput => ({
  botId,
  account: 'a1',
  apiId: 'ka10001',
  kind: 'query',
  stkCd: '005930',
  sourceIp: '10.0.0.5',
  now,
});
const point = (v: number): number[] => Array.from({ length: dims }, () => v);

t.test('a window of one repeated point: root and path masses count it, and that point scores 0', async (t) => {
  const shape = { trees: 3, depth: 4, windowSize: 20 };
  const f = createForest(shape);
  let s = undefined as ReturnType<typeof f.learn> | undefined;
  for (let i = 0; i < 19; i++) s = f.learn(s, point(0.3));
  t.equal(s!.windows, 0, 'no reference before the first window completes');
  t.equal(f.score(s, point(0.3)), undefined, 'no reference, no score (warm-up)');
  s = f.learn(s, point(0.3));
  t.equal(s.windows, 1);
  t.equal(s.n, 0, 'latest window reset at the swap');
  const r = Buffer.from(s.r, 'base64');
  const nodes = 2 ** (shape.depth + 1) - 1;
  for (let tree = 0; tree < shape.trees; tree++) t.equal(r.readUInt16LE(2 * tree * nodes), 20, `tree ${tree}: root reference mass = window`);
  // Every node on the path holds the whole window: total = window x 2^depth, the maximum, so anomaly 0.
  t.equal(f.score(s, point(0.3))!.score, 0);
});

t.test('a dense cluster scores low, a far point high, and the odd feature is named', async (t) => {
  const f = createForest({ trees: 16, depth: 6, windowSize: 128 });
  let seed = 7;
  const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  let s = undefined as ReturnType<typeof f.learn> | undefined;
  for (let i = 0; i < 256; i++)
    s = f.learn(
      s,
      point(0.3).map((v) => v + 0.05 * rnd()),
    );
  const dense = f.score(s, point(0.32))!;
  const odd = point(0.32);
  odd[FEATURES.indexOf('log_qty')] = 0.95;
  const far = f.score(s, odd)!;
  t.ok(far.score > 5 * dense.score && far.score > 0.05, `far ${far.score} vs dense ${dense.score}`);
  t.equal(far.top[0]?.feature, 'log_qty', 'the feature that moved is credited first');
  t.ok(far.top.every((x) => x.share > 0 && x.share <= 1));
  // Deterministic: the same forest on another "replica".
  t.same(createForest({ trees: 16, depth: 6, windowSize: 128 }).score(s, odd), far);
});

t.test('memory is bounded by the shape, whatever the history', async (t) => {
  const shape = { trees: 16, depth: 6, windowSize: 64 };
  const f = createForest(shape);
  let s = undefined as ReturnType<typeof f.learn> | undefined;
  const sizes = new Set<number>();
  for (let i = 0; i < 1000; i++) {
    s = f.learn(s, point((i % 17) / 17));
    if (i > 64) sizes.add(JSON.stringify(s).length);
  }
  const bytes = 2 * shape.trees * (2 ** (shape.depth + 1) - 1);
  t.ok(Math.max(...sizes) < 2 * (4 * Math.ceil(bytes / 3)) + 100, `state stays at two base64 arrays (${Math.max(...sizes)} chars)`);
  t.equal(s!.windows, Math.floor(1000 / 64));
  t.ok(modelState(JSON.parse(JSON.stringify(s)), shape), 'round-trips through JSON');
  t.equal(modelState({ ...s, r: 'short' }, shape), undefined, 'a malformed state reads as none');
  t.equal(modelState(s, { ...shape, depth: 5 }), undefined, 'a state of another shape reads as none');
});

t.test('the state written by hand is the text JSON.stringify writes; a stored state whose strings are not base64 reads as none', async (t) => {
  const shape = { trees: 4, depth: 3, windowSize: 8 };
  const f = createForest(shape);
  let s = f.learn(undefined, point(0.2));
  for (let i = 0; i < 20; i++) s = f.learn(s, point((i % 5) / 5));
  t.equal(modelJson(s), JSON.stringify(s), 'a learned state');
  const read = modelState(JSON.parse(JSON.stringify(s)), shape)!;
  t.equal(modelJson(read), JSON.stringify(read), 'a state read from the Store');
  t.equal(modelJson(f.learn(read, point(0.9))), JSON.stringify(f.learn(read, point(0.9))), 'a state learned from one read');
  // Same length, so only the alphabet check can refuse it: a quote in it would break the document written by hand.
  const hostile = { ...JSON.parse(JSON.stringify(s)), r: `"${s.r.slice(2)}"` };
  t.equal(modelState(hostile, shape), undefined, 'a string with a character outside base64');
  t.equal(modelJson(hostile), JSON.stringify(hostile), 'an unchecked state goes through JSON.stringify');
  t.doesNotThrow(() => JSON.parse(`{"model":${modelJson(hostile)}}`));
});

interface Asserts {
  ok(v: unknown, msg: string): unknown;
  notOk(v: unknown, msg: string): unknown;
  equal(a: unknown, b: unknown, msg: string): unknown;
  teardown(fn: () => unknown): unknown;
}

async function persistence(t: Asserts, mkStore: () => Promise<Store>): Promise<void> {
  const start = seoulToEpoch('2026-01-05', 9, 0);
  const config = parseRiskConfig({ model: { windowSize: 16 } });
  const store = await mkStore();
  t.teardown(() => store.close());
  const a = createRiskEngine({ config, store, registry: new Registry(), logger: pino({ level: 'silent' }), now: () => start });
  for (let i = 0; i < 70; i++) {
    const input = quoteAt('m1', start + i * 60_000);
    await a.assess(input);
    await a.learn(input, { allowed: true, completed: true });
  }
  // Another replica on the same store sees the model the first one learned.
  const b = createRiskEngine({ config, store, registry: new Registry(), logger: pino({ level: 'silent' }), now: () => start });
  const probe = quoteAt('m1', start + 71 * 60_000);
  const seen = await b.assess(probe);
  t.ok(seen.model, 'the model verdict is recorded');
  t.equal(seen.model!.weight, 0, 'shadow by default: weight 0');
  t.notOk(
    seen.contributions.some((c) => c.detector === 'model' && c.contribution > 0),
    'in shadow it adds nothing',
  );
  const stored = JSON.parse((await store.get('risk:baseline:m1'))!);
  t.equal(stored.model.windows, Math.floor(70 / 16), 'persisted with the baseline');
}

t.test('persisted with the baseline in the memory Store, shared across engines', async (t) => {
  await persistence(t, async () => createMemoryStore({ now: () => seoulToEpoch('2026-01-05', 9, 0) }));
});

t.test('persisted with the baseline in Redis', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.cleanup());
  await persistence(t, () => createRedisStore({ ...PATIENT_REDIS, url: redis.url, logger: pino({ level: 'silent' }), registry: new Registry() }));
});

t.test('learning: replicas taking turns each learn into the stored document; a failed write forgets the local copy', async (t) => {
  const start = seoulToEpoch('2026-01-05', 9, 0);
  const config = parseRiskConfig({});
  const store = createMemoryStore({ now: () => start });
  t.teardown(() => store.close());
  let failNextSet = false;
  // The same store, whose next write of the baseline fails (a Redis outage between the read and the write).
  const flaky = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'setIfUnchanged' && failNextSet) {
        failNextSet = false;
        return () => Promise.reject(new GuardError('KG7001', 'injected'));
      }
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
  const engine = (s: Store) => createRiskEngine({ config, store: s, registry: new Registry(), logger: pino({ level: 'silent' }), now: () => start });
  const a = engine(flaky);
  const b = engine(store);
  const call = (i: number): RiskInput => quoteAt('r1', start + i * 60_000);
  const storedCalls = async () => (JSON.parse((await store.get('risk:baseline:r1'))!) as { calls: number }).calls;
  for (let i = 0; i < 10; i++) {
    const e = i % 2 === 0 ? a : b;
    await e.assess(call(i));
    await e.learn(call(i), { allowed: true, completed: true });
  }
  t.equal(await storedCalls(), 10, 'no call lost or counted twice between the replicas');
  failNextSet = true;
  await a.assess(call(10));
  await t.rejects(a.learn(call(10), { allowed: true, completed: true }), { code: 'KG7001' });
  t.equal(await storedCalls(), 10, 'the failed write changed nothing stored');
  await a.assess(call(11));
  await a.learn(call(11), { allowed: true, completed: true });
  t.equal(await storedCalls(), 11, 'the next learn starts from the store, not from the copy that counted the lost call');
});

t.test('model.enabled false: not scored, learned or stored, a stored model dropped at the next learned call; a weight with it is refused', async (t) => {
  const start = seoulToEpoch('2026-01-05', 9, 0);
  const store = createMemoryStore({ now: () => start });
  t.teardown(() => store.close());
  const engine = (model: Record<string, unknown>) =>
    createRiskEngine({ config: parseRiskConfig({ model }), store, registry: new Registry(), logger: pino({ level: 'silent' }), now: () => start });
  const call = (i: number): RiskInput => quoteAt('m1', start + i * 60_000);
  const on = engine({ windowSize: 16 });
  for (let i = 0; i < 40; i++) {
    const input = call(i); // learn() learns the model's features of its own assess(), by the input object
    await on.assess(input);
    await on.learn(input, { allowed: true, completed: true });
  }
  const withModel = (await store.get('risk:baseline:m1'))!;
  t.ok(JSON.parse(withModel).model, 'learned with the model on');

  const off = engine({ enabled: false });
  const last = call(40);
  const seen = await off.assess(last);
  t.notOk(seen.model, 'no verdict recorded');
  await off.learn(last, { allowed: true, completed: true });
  const without = (await store.get('risk:baseline:m1'))!;
  t.notOk('model' in JSON.parse(without), 'the stored model is dropped');
  t.equal(JSON.parse(without).calls, 41, 'the rest of the baseline is kept and learned');
  t.ok(without.length * 2 < withModel.length, `the document is ${without.length} bytes, was ${withModel.length}`);

  t.throws(() => parseRiskConfig({ model: { enabled: false }, weights: { model: 0.5 } }), {
    code: 'KG3013',
    message: /risk\.weights\.model: must be 0 while model\.enabled is false/,
  });
});
