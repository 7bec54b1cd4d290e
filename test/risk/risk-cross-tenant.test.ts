// Cross-tenant detectors: one source presenting many bots (shared_source) and
// many accounts trading one symbol new to each the same way (herd), counted
// in the shared Store with bounded cardinality.
import t from 'tap';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createMemoryStore } from '../../proxy/state/index.js';
import { createRiskEngine, parseRiskConfig, seoulToEpoch, type RiskInput } from '../../proxy/risk/index.js';
import { GuardError } from '../../proxy/common/errors.js';
import { refusedOrderOf } from '../../proxy/server/pipeline/risk.js';

const logger = pino({ level: 'silent' });
const START = seoulToEpoch('2026-01-05', 10, 0);

function setup(raw: Record<string, unknown> = {}) {
  let clock = START;
  const store = createMemoryStore({ now: () => clock });
  // Two engines on one store: replicas share the counts.
  const config = parseRiskConfig(raw);
  const mk = () => createRiskEngine({ config, store, registry: new Registry(), logger, now: () => clock, language: 'en' });
  return { a: mk(), b: mk(), store, config, at: (ms: number) => (clock = ms), close: () => store.close() };
}

function call(over: Partial<RiskInput> & { botId: string; now: number }): RiskInput {
  return { account: `acct-${over.botId}`, apiId: 'ka10001', kind: 'query', stkCd: '005930', sourceIp: '10.0.0.5', ...over };
}

/** Learns enough ordinary calls for a bot to be warm (warmupCalls 50, warmupHours 24). */
async function warm(engine: ReturnType<typeof setup>['a'], botId: string, ip: string): Promise<void> {
  for (let i = 0; i < 60; i++) {
    const now = START - 3 * 86_400_000 + i * 60_000;
    await engine.learn(call({ botId, now, sourceIp: ip }), { allowed: true, completed: true });
  }
}

const detector = (a: { contributions: readonly { detector: string; reason: string }[] }, name: string) => a.contributions.find((c) => c.detector === name);

t.test('config: defaults, knobs and range errors', async (t) => {
  const d = parseRiskConfig({});
  t.same(d.crossTenant, {
    sourceWindowMs: 3_600_000,
    sharedSourceMinBots: 3,
    botHostCidrs: ['127.0.0.0/8', '::1/128'],
    herdWindowMs: 600_000,
    herdMinAccounts: 3,
    herdFullAccounts: 5,
    herdRefusedMinAccounts: 2,
    maxTracked: 64,
  });
  t.equal(d.weights.shared_source, 0.7);
  t.equal(d.weights.herd, 0.8);
  const c = parseRiskConfig({ crossTenant: { sourceWindowMinutes: 5, sharedSourceMinBots: 4, herdWindowMinutes: 2, herdMinAccounts: 5, maxTracked: 10 } });
  t.same(c.crossTenant, {
    sourceWindowMs: 300_000,
    sharedSourceMinBots: 4,
    botHostCidrs: ['127.0.0.0/8', '::1/128'],
    herdWindowMs: 120_000,
    herdMinAccounts: 5,
    herdFullAccounts: 6,
    herdRefusedMinAccounts: 2,
    maxTracked: 10,
  });
  t.equal(parseRiskConfig({ crossTenant: { herdFullAccounts: 8 } }).crossTenant.herdFullAccounts, 8);
  for (const bad of [
    { sharedSourceMinBots: 1 },
    { botHostCidrs: ['10.0.0.0/33'] },
    { botHostCidrs: 'lo' },
    { herdMinAccounts: 1.5 },
    { maxTracked: 1 },
    { nope: 1 },
    { herdMinAccounts: 4, herdFullAccounts: 4 },
  ]) {
    t.throws(() => parseRiskConfig({ crossTenant: bad }), GuardError, JSON.stringify(bad));
  }
});

t.test('shared_source: a third bot from one address scores, across replicas; other addresses and a new window do not', async (t) => {
  const s = setup();
  t.teardown(s.close);
  const first = await s.a.assess(call({ botId: 'b1', now: START, sourceIp: '198.51.100.7' }));
  const second = await s.b.assess(call({ botId: 'b2', now: START + 1_000, sourceIp: '198.51.100.7' }));
  const again = await s.a.assess(call({ botId: 'b1', now: START + 2_000, sourceIp: '198.51.100.7' }));
  t.notOk(detector(first, 'shared_source'));
  t.notOk(detector(second, 'shared_source'));
  t.notOk(detector(again, 'shared_source'), 'the same bot again is not a new one');
  const third = await s.b.assess(call({ botId: 'b3', now: START + 3_000, sourceIp: '198.51.100.7' }));
  const hit = detector(third, 'shared_source');
  t.ok(hit, 'three bots from one source within the window');
  t.match(hit!.reason, /198\.51\.100\.7 presented 3 bots' credentials within 60 min/);
  const elsewhere = await s.a.assess(call({ botId: 'b4', now: START + 4_000, sourceIp: '198.51.100.8' }));
  t.notOk(detector(elsewhere, 'shared_source'));
  const later = await s.a.assess(call({ botId: 'b5', now: START + 2 * 3_600_000, sourceIp: '198.51.100.7' }));
  t.notOk(detector(later, 'shared_source'), 'a new window starts afresh');
  // Absolute: a brand-new (warming-up) bot is not capped by warm-up.
  t.ok(third.warmingUp);
  t.notOk((third.contributions.find((c) => c.detector === 'shared_source') as { warmupCapped?: boolean }).warmupCapped);
});

t.test('shared_source: bot hosts are not counted (loopback by default, crossTenant.botHostCidrs); other addresses are', async (t) => {
  const bots = async (engine: ReturnType<typeof setup>['a'], sourceIp: string, at: number) => {
    let last: Awaited<ReturnType<typeof engine.assess>> | undefined;
    for (const b of ['b1', 'b2', 'b3', 'b4']) last = await engine.assess(call({ botId: b, now: at, sourceIp }));
    return detector(last!, 'shared_source');
  };
  const s = setup();
  t.teardown(s.close);
  t.notOk(await bots(s.a, '127.0.0.1', START), 'four bots through a sidecar on their own machine (loopback)');
  t.notOk(await bots(s.a, '::ffff:127.0.0.1', START), 'IPv4-mapped loopback');
  t.notOk(await bots(s.a, '::1', START), 'IPv6 loopback');
  t.ok(await bots(s.a, '10.9.0.4', START), 'any other address presenting four bots');

  const farm = setup({ crossTenant: { botHostCidrs: ['10.9.0.0/24'] } });
  t.teardown(farm.close);
  t.notOk(await bots(farm.a, '10.9.0.4', START), "the operator's bot hosts");
  t.ok(await bots(farm.a, '10.9.1.4', START), 'outside them');
  t.ok(await bots(farm.a, '127.0.0.1', START), 'a list without loopback counts loopback');
});

t.test('herd: three warm accounts buying one symbol new to each within minutes', async (t) => {
  const s = setup();
  t.teardown(s.close);
  for (const b of ['h1', 'h2', 'h3', 'h4']) await warm(s.a, b, `10.1.0.${b.slice(1)}`);
  const order = (botId: string, now: number, stkCd = '900107', side: 'buy' | 'sell' = 'buy') =>
    call({
      botId,
      now,
      apiId: side === 'buy' ? 'kt10000' : 'kt10001',
      kind: 'order',
      side,
      stkCd,
      qty: 100,
      price: 3000,
      sourceIp: `10.1.0.${botId.slice(1)}`,
    });
  t.notOk(detector(await s.a.assess(order('h1', START)), 'herd'));
  t.notOk(detector(await s.b.assess(order('h2', START + 60_000)), 'herd'));
  t.notOk(detector(await s.a.assess(order('h4', START + 70_000, '900107', 'sell')), 'herd'), 'the other direction counts apart');
  t.notOk(detector(await s.a.assess(order('h3', START + 80_000, '005930')), 'herd'), 'a symbol the bot knows does not count');
  const third = await s.b.assess(order('h3', START + 120_000));
  const hit = detector(third, 'herd');
  t.ok(hit, 'the third account in the window');
  t.match(hit!.reason, /3 accounts bought 900107, new to each of them, within 10-20 min \(scores from 3, fully at 5\)/);
  t.match(
    third.contributions.find((c) => c.detector === 'herd'),
    { score: 0.6 },
  );

  const cold = setup();
  t.teardown(cold.close);
  for (const b of ['c1', 'c2', 'c3']) {
    const a = await cold.a.assess(order(b, START));
    t.notOk(detector(a, 'herd'), 'warming-up bots are not counted');
  }
});

t.test('herd: orders of two accounts in one symbol refused by their owners; the next order there is held, warm or not', async (t) => {
  const s = setup();
  t.teardown(s.close);
  const order = (botId: string, now: number, side: 'buy' | 'sell' = 'buy') =>
    call({ botId, now, apiId: side === 'buy' ? 'kt10000' : 'kt10001', kind: 'order', side, stkCd: '900107', qty: 100, price: 3000 });
  const refused = (botId: string) => ({ account: `acct-${botId}`, stkCd: '900107', side: 'buy' as const });
  t.notOk(detector(await s.a.assess(order('n1', START)), 'herd'), 'nothing refused yet');
  await s.a.noteRefused('r1', START + 10_000, refused('r1'));
  t.notOk(detector(await s.b.assess(order('n1', START + 20_000)), 'herd'), 'one account refused: under the threshold of 2');
  await s.b.noteRefused('r2', START + 30_000, refused('r2'));
  await s.b.noteRefused('r2', START + 31_000, refused('r2'));
  const next = await s.a.assess(order('n1', START + 60_000));
  const hit = detector(next, 'herd');
  t.ok(hit, 'a bot still warming up (no baseline at all): the evidence is the other owners');
  t.match(hit, { score: 0.9, reason: /orders of 2 accounts buying 900107 were refused by their owners within 10-20 min \(threshold 2\)/ });
  t.ok(next.score > 0.7, `held, warm-up cap notwithstanding (${next.score})`);
  t.notOk(detector(await s.a.assess(order('n1', START + 60_000, 'sell')), 'herd'), 'the other direction is apart');
  t.notOk(detector(await s.a.assess(order('n1', START + 25 * 60_000)), 'herd'), 'two windows later it has expired');
});

t.test('refusedOrderOf: what a refused approval tells the herd (new orders only)', async (t) => {
  t.same(refusedOrderOf({ account: 'A1', apiId: 'kt10000', summary: { stk_cd: '900107', ord_qty: '5' } }), { account: 'A1', stkCd: '900107', side: 'buy' });
  t.same(refusedOrderOf({ account: 'A1', apiId: 'kt10001', summary: { stk_cd: '900107' } }), { account: 'A1', stkCd: '900107', side: 'sell' });
  t.equal(refusedOrderOf({ account: 'A1', apiId: 'kt10003', summary: { stk_cd: '900107', orig_ord_no: '1' } }), undefined, 'a cancel');
  t.equal(refusedOrderOf({ account: 'A1', apiId: 'kt00018', summary: {} }), undefined, 'an inquiry');
  t.equal(refusedOrderOf({ account: 'A1', apiId: 'kt10000', summary: {} }), undefined, 'no symbol');
});

t.test('herd: stronger as the victims grow, and one herd across a window boundary', async (t) => {
  const s = setup();
  t.teardown(s.close);
  const bots = ['g1', 'g2', 'g3', 'g4', 'g5'];
  for (const b of bots) await warm(s.a, b, `10.2.0.${b.slice(1)}`);
  // Start two minutes before a 10-minute boundary: the last three orders fall in the next window.
  const t0 = (Math.floor(START / 600_000) + 1) * 600_000 - 120_000;
  const scores: number[] = [];
  for (const [i, b] of bots.entries()) {
    const input = call({ botId: b, now: t0 + i * 50_000, apiId: 'kt10000', kind: 'order', side: 'buy', stkCd: '900211', qty: 100, price: 3000 });
    const a = await (i % 2 ? s.b : s.a).assess(input);
    scores.push(a.contributions.find((c) => c.detector === 'herd')?.score ?? 0);
  }
  t.same(scores, [0, 0, 0.6, 0.8, 1], 'from 0.6 at three accounts to 1 at five, across the boundary');
});

t.test('bounded cardinality: counts stop at maxTracked; weight 0 writes nothing', async (t) => {
  const s = setup({ crossTenant: { maxTracked: 5 }, stuffing: { globalMinBots: 5 } });
  t.teardown(s.close);
  for (let i = 0; i < 20; i++) await s.a.assess(call({ botId: `m${i}`, now: START + i, sourceIp: '192.0.2.1' }));
  const a = await s.a.assess(call({ botId: 'm99', now: START + 100, sourceIp: '192.0.2.1' }));
  t.match(detector(a, 'shared_source')!.reason, /presented 5 bots/);
  const win = Math.floor(START / 3_600_000);
  let members = 0;
  for (let i = 0; i < 20; i++) if ((await s.store.get(`risk:xsrc:192.0.2.1:${win}:m:m${i}`)) !== null) members++;
  t.equal(members, 5, 'at most maxTracked member keys per source and window');

  const off = setup({ weights: { shared_source: 0, herd: 0 } });
  t.teardown(off.close);
  for (let i = 0; i < 5; i++) {
    const r = await off.a.assess(call({ botId: `z${i}`, now: START + i, sourceIp: '192.0.2.2' }));
    t.notOk(detector(r, 'shared_source'));
  }
  t.equal(await off.store.get(`risk:xsrc:192.0.2.2:${Math.floor(START / 3_600_000)}:n`), null, 'nothing counted when the weight is 0');
});
