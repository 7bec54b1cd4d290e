// A bot's baseline document in the Store that this sidecar cannot read (not JSON, cut short, another shape: a
// field of the wrong kind) was either taken for no baseline at all without a word — the bot back in warm-up, its
// history gone, and nothing in the logs or /metrics to say so — or, when it parsed but a field was missing or of
// the wrong kind, made every assessment of the bot throw a TypeError (each call refused as an internal error) and
// every learn fail, for as long as the document lived (45 days). Now an unreadable document is named in an error
// log and counted, judged as no baseline (as a missing one), and replaced by the next learned call.
import t from 'tap';
import pino from 'pino';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { createMemoryStore } from '../../proxy/state/index.js';
import { createRiskEngine, parseRiskConfig, seoulToEpoch, type RiskInput } from '../../proxy/risk/index.js';
import { emptyBaseline } from '../../proxy/risk/baseline.js';

const clock = seoulToEpoch('2026-01-05', 10, 0);
const zeros = new Array(168).fill(0);

function setup(riskRaw: Record<string, unknown> = {}) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  const store = createMemoryStore({ now: () => clock });
  const registry = new Registry();
  const engine = createRiskEngine({ config: parseRiskConfig(riskRaw), store, registry, logger: pino({ level: 'info' }, sink), now: () => clock });
  return { lines, store, registry, engine };
}

const quote: RiskInput = { botId: 'b1', account: '5555-01', apiId: 'ka10001', kind: 'query', stkCd: '005930', sourceIp: '10.0.0.5', now: clock };

const docs: [string, string][] = [
  ['not JSON', '{"v":1,"hourOfWeek":['],
  ['JSON of another shape', '[1,2,3]'],
  ['sources missing', JSON.stringify({ v: 1, firstSeen: 0, lastSeen: 0, calls: 500, orders: 10, hourOfWeek: zeros })],
  ['apis not an object', JSON.stringify({ ...emptyBaseline(0), calls: 500, orders: 10, apis: 'ka10001' })],
  ['whose log windows are of another scale', JSON.stringify({ ...emptyBaseline(0), calls: 500, orders: 10, logQty: [46_052], logScale: 1000 })],
  ['whose log windows are not integers of their scale', JSON.stringify({ ...emptyBaseline(0), calls: 500, orders: 10, logQty: [4.6052], logScale: 10_000 })],
  ['whose log window holds text', JSON.stringify({ ...emptyBaseline(0), calls: 500, orders: 10, buyLogNotional: ['17.7'] })],
];

for (const [what, doc] of docs) {
  t.test(`a stored baseline ${what}: logged, counted, judged as none, replaced by the next learn`, async (t) => {
    const s = setup();
    t.teardown(() => s.store.close());
    await s.store.set('risk:baseline:b1', doc);
    const a = await s.engine.assess(quote);
    t.equal(a.warmingUp, true, 'judged as a bot with no baseline');
    t.equal(a.baselineCalls, 0);
    await s.engine.assess({ ...quote, now: clock + 1 });
    const logged = s.lines.filter((l) => l.msg === 'risk baseline unreadable: judged as none, replaced by the next learned call');
    t.equal(logged.length, 1, 'one error log for the document, not one per call');
    t.match(logged[0], { level: 50, botId: 'b1' });
    const metric = await s.registry.getSingleMetric('kguard_risk_baseline_unreadable_total')?.get();
    t.equal(metric?.values[0]?.value, 1, 'counted');
    await s.engine.learn(quote, { allowed: true, completed: true });
    const next = JSON.parse((await s.store.get('risk:baseline:b1'))!);
    t.equal(next.calls, 1, 'the next learned call starts a new baseline');
  });
}

t.test('a readable baseline is not reported', async (t) => {
  const s = setup();
  t.teardown(() => s.store.close());
  await s.engine.learn(quote, { allowed: true, completed: true });
  await s.engine.assess({ ...quote, now: clock + 1 });
  t.equal(s.lines.filter((l) => String(l.msg).includes('unreadable')).length, 0);
});

t.test('risk.baselineCacheBots bounds the parsed baselines kept: past it, a document is parsed again at its next call', async (t) => {
  // Seen through an unreadable document's error log, said once per parse: two bots' documents, three calls each, alternating.
  for (const [cacheBots, parses] of [
    [undefined, 2],
    [2, 2],
    [1, 6],
    [0, 6],
  ] as const) {
    const s = setup(cacheBots === undefined ? {} : { baselineCacheBots: cacheBots });
    t.teardown(() => s.store.close());
    await s.store.set('risk:baseline:b1', '{"v":1');
    await s.store.set('risk:baseline:b2', '{"v":1');
    for (let i = 0; i < 6; i++) await s.engine.assess({ ...quote, botId: i % 2 === 0 ? 'b1' : 'b2', now: clock + i });
    t.equal(s.lines.filter((l) => String(l.msg).includes('unreadable')).length, parses, `baselineCacheBots ${cacheBots ?? 'default'}: ${parses} parses`);
  }
  t.equal(parseRiskConfig({}).baselineCacheBots, 10_000, 'default');
  for (const bad of [-1, 2_000_000, 1.5, 'many']) t.throws(() => parseRiskConfig({ baselineCacheBots: bad }), /risk\.baselineCacheBots/, String(bad));
});
