// The detectors added with issue 17 (sell_off, order_size, account_reads,
// api_breadth, stuffing, escalation) on the engine with a memory Store, and
// `kguard risk explain`'s reading of an audit record.
import t from 'tap';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { AuditRecord } from '../../proxy/audit/record.js';
import { explanationOf, formatExplanation } from '../../proxy/cli/risk.js';
import { createMemoryStore } from '../../proxy/state/index.js';
import { createRiskEngine, parseRiskConfig, seoulToEpoch, type RiskAssessment, type RiskInput } from '../../proxy/risk/index.js';

const DAY = 86_400_000;
const START = seoulToEpoch('2026-01-05', 9, 0);

function setup(raw: Record<string, unknown> = {}) {
  let clock = START;
  const store = createMemoryStore({ now: () => clock });
  const engine = createRiskEngine({ config: parseRiskConfig(raw), store, registry: new Registry(), logger: pino({ level: 'silent' }), now: () => clock });
  return { engine, store, at: (ms: number) => (clock = ms), close: () => store.close() };
}

const base = (over: Partial<RiskInput> & { now: number }): RiskInput => ({
  botId: 'b1',
  account: 'a1',
  apiId: 'ka10001',
  kind: 'query',
  stkCd: '005930',
  sourceIp: '10.0.0.5',
  ...over,
});
const sell = (now: number, qty: number, holdingQty: number): RiskInput =>
  base({ now, apiId: 'kt10001', kind: 'order', side: 'sell', qty, price: 10_000, holdingQty });
const buy = (now: number, qty: number, price = 10_000): RiskInput => base({ now, apiId: 'kt10000', kind: 'order', side: 'buy', qty, price });
const hit = (a: RiskAssessment, d: string) => a.contributions.find((c) => c.detector === d);

/** Learns `inputs` as calls that went out, each assessed first (as the pipeline does). */
async function learn(engine: ReturnType<typeof setup>['engine'], inputs: RiskInput[]): Promise<void> {
  for (const i of inputs) {
    await engine.assess(i);
    await engine.learn(i, { allowed: true, completed: true });
  }
}

/** Three days of ordinary weekday traffic: quotes every 10 minutes from 09:00, plus `extra(day, k)` calls. */
function days(n: number, extra: (dayStart: number, k: number) => RiskInput[] = () => []): RiskInput[] {
  const out: RiskInput[] = [];
  for (let d = 0; d < n; d++) {
    const s = START + d * DAY;
    for (let k = 0; k < 36; k++) out.push(base({ now: s + k * 600_000 }), ...extra(s, k));
  }
  return out;
}

t.test('sell_off: a trimmer selling a whole position scores; its usual trim does not', async (t) => {
  const s = setup();
  t.teardown(s.close);
  await learn(
    s.engine,
    days(3, (d, k) => (k % 6 === 1 ? [sell(d + k * 600_000 + 1000, 10, 100)] : [])),
  );
  const later = START + 3 * DAY + 3_600_000;
  t.notOk(hit(await s.engine.assess(sell(later, 8, 100)), 'sell_off'), 'a trim of 8%');
  const all = hit(await s.engine.assess(sell(later + 60_000, 100, 100)), 'sell_off');
  t.ok(all, 'all of it');
  t.equal(all!.score, 1);
  t.match(all!.reason, /sells 100% of the position; 0 of \d+ learned sells/);
});

t.test('order_size: far above or far below the usual notional on that side', async (t) => {
  const s = setup();
  t.teardown(s.close);
  await learn(
    s.engine,
    days(3, (d, k) => (k % 4 === 2 ? [buy(d + k * 600_000 + 1000, 100 + (k % 3))] : [])),
  );
  const later = START + 3 * DAY + 3_600_000;
  t.notOk(hit(await s.engine.assess(buy(later, 110)), 'order_size'), 'usual size');
  const big = hit(await s.engine.assess(buy(later + 1000, 2000)), 'order_size');
  t.ok(big && big.score > 0.9, 'twenty times the usual');
  t.match(big!.reason, /buy of 20000000 KRW is 19\.\d+x this bot's usual/);
  const tiny = hit(await s.engine.assess(buy(later + 2000, 2)), 'order_size');
  t.ok(tiny && tiny.score > 0.9, 'a sliver of the usual');
  t.match(tiny!.reason, /1\/\d+/);
});

t.test('account_reads: inquiries far above the busiest learned day', async (t) => {
  const s = setup();
  t.teardown(s.close);
  const read = (now: number): RiskInput => base({ now, apiId: 'kt00018', kind: 'account', stkCd: undefined });
  await learn(
    s.engine,
    days(3, (d, k) => (k < 2 ? [read(d + k * 600_000 + 1000)] : [])),
  );
  const day = START + 3 * DAY;
  let first: number | undefined;
  for (let i = 1; i <= 20; i++) {
    const a = await s.engine.assess(read(day + i * 1000));
    if (first === undefined && hit(a, 'account_reads')) first = i;
  }
  t.equal(first, 15, 'from the 15th read of the day (minPerDay 15 > 3 x 2)');
});

t.test('api_breadth: the third never-used api-id within the hour', async (t) => {
  const s = setup();
  t.teardown(s.close);
  await learn(s.engine, days(2));
  const now = START + 2 * DAY + 3_600_000;
  const ids = ['ka10002', 'ka10003', 'ka10004'];
  const got = [];
  for (const [i, apiId] of ids.entries()) got.push(hit(await s.engine.assess(base({ now: now + i * 1000, apiId })), 'api_breadth'));
  t.notOk(got[0]);
  t.notOk(got[1]);
  t.match(got[2]?.reason, /3 api-ids never used by this bot called within 60 min/);
  t.notOk(hit(await s.engine.assess(base({ now: now + 5000 })), 'api_breadth'), 'a known api-id counts nothing');
});

t.test('escalation: the third call above step-up locks down unless the owner approved the earlier ones', async (t) => {
  const s = setup();
  t.teardown(s.close);
  await learn(s.engine, days(2));
  const night = START + 2 * DAY + 14 * 3_600_000; // 23:00 Seoul, from a new address
  const odd = (i: number, bot = 'b1') =>
    base({ botId: bot, now: night + i * 1000, sourceIp: '203.0.113.9', apiId: 'kt00018', kind: 'account', stkCd: undefined });
  const a1 = await s.engine.assess(odd(1));
  t.ok(a1.score > 0.7 && a1.score < 0.95, `held, not locked (${a1.score})`);
  await s.engine.assess(odd(2));
  const a3 = await s.engine.assess(odd(3));
  t.ok(hit(a3, 'escalation'), 'third refused or pending hold');
  t.equal(a3.level, 'lockdown');
  t.ok(s.engine.isHighRisk(a3));

  const s2 = setup();
  t.teardown(s2.close);
  await learn(s2.engine, days(2));
  for (let i = 1; i <= 3; i++) {
    const input = odd(i);
    const a = await s2.engine.assess(input);
    t.notOk(hit(a, 'escalation'), `call ${i}: the owner approved the earlier holds`);
    await s2.engine.learn(input, { allowed: true, completed: true });
  }
  // Retries of one held call through the approval protocol (they name its approval) count once.
  const s3 = setup();
  t.teardown(s3.close);
  await learn(s3.engine, days(2));
  await s3.engine.assess(odd(1));
  for (let i = 2; i <= 4; i++) t.notOk(hit(await s3.engine.assess({ ...odd(i), approvalRetry: true }), 'escalation'), `retry ${i} of the held call`);
  t.notOk(hit(await s3.engine.assess(odd(5)), 'escalation'), 'a second new held call is only the second');
  t.ok(hit(await s3.engine.assess(odd(6)), 'escalation'), 'the third new one escalates');
});

t.test('stuffing: secrets of three bots failing from one source, or a wide wave including this bot', async (t) => {
  const s = setup();
  t.teardown(s.close);
  const now = START + 600_000;
  for (const bot of ['x1', 'x2', 'x2', 'x3']) await s.engine.noteAuthFailure(bot, '198.51.100.4', now);
  const a = await s.engine.assess(base({ botId: 'x9', now: now + 1000, sourceIp: '198.51.100.4' }));
  t.match(hit(a, 'stuffing')?.reason, /source 198\.51\.100\.4 failed the secrets of 3 bots within 10 min/);
  t.notOk(hit(await s.engine.assess(base({ botId: 'x9', now: now + 2000, sourceIp: '198.51.100.5' })), 'stuffing'), 'another source');
  for (let i = 0; i < 10; i++) await s.engine.noteAuthFailure(`w${i}`, `192.0.2.${i}`, now);
  t.match(hit(await s.engine.assess(base({ botId: 'w3', now: now + 3000, sourceIp: '10.9.9.9' })), 'stuffing')?.reason, /wave of 1\d bots/);
  t.notOk(hit(await s.engine.assess(base({ botId: 'y1', now: now + 4000, sourceIp: '10.9.9.9' })), 'stuffing'), 'a bot that did not fail');
  const later = await s.engine.assess(base({ botId: 'x9', now: now + 30 * 60_000, sourceIp: '198.51.100.4' }));
  t.notOk(hit(later, 'stuffing'), 'the window has passed');
});

t.test('risk explain: reads the contributions and the model verdict from an intent or lockdown record', async (t) => {
  const risk = {
    score: 0.97,
    level: 'lockdown',
    contributions: [
      { detector: 'sell_off', score: 1, weight: 0.8, contribution: 0.8, reason: 'sells 100% of the position' },
      { detector: 'location', score: 1, weight: 0.55, reason: 'source 203.0.113.9 never seen' },
    ],
    model: { score: 0.21, weight: 0, top: [{ feature: 'sell_fraction', value: 0.667, share: 0.6 }] },
  };
  const rec = (data: Record<string, unknown>, type = 'call.intent') =>
    ({
      v: 1,
      sink: 'file',
      seq: 7,
      prev: '0'.repeat(64),
      hash: '1'.repeat(64),
      ts: '2026-01-05T01:00:00.000Z',
      replica: 'r1',
      type,
      data,
    }) as unknown as AuditRecord;
  const e = explanationOf(rec({ requestId: 'req-1', botId: 'b1', apiId: 'kt10001', risk }), 'req-1')!;
  t.equal(e.contributions[1]!.contribution, 0.55, 'a contribution not recorded is weight x score');
  const text = formatExplanation(e);
  t.match(text, /risk score 0\.97 \(lockdown\)/);
  t.match(text, /sell_off\s+score 1\.00 x weight 0\.80 = 0\.80\s+sells 100% of the position/);
  t.match(text, /learned model\s+anomaly 0\.21 at weight 0 \(shadow: adds nothing\); driven by sell_fraction 0\.667 \(60%\)/);
  t.notOk(explanationOf(rec({ requestId: 'req-2', risk }), 'req-1'), 'another request');
  t.ok(explanationOf(rec({ botId: 'b1', trigger: { ...risk, requestId: 'req-1' } }, 'lockdown.engaged'), 'req-1'), 'the lockdown it triggered');
});
