// new_symbol's dormant case: a buy in a symbol this bot made no call about for
// days, from a bot whose learned buys all followed a call about their symbol
// (someone else with its identity buys what it trades, without its data
// pipeline in front). Scores as a fresh symbol's order: not held on its own,
// held with one more sign; silent for a bot that buys without looking, for a
// young history, and when turned off.
import t from 'tap';
import { tradingDaysSince } from '../../proxy/risk/calendar.js';
import { parseRiskConfig, seoulToEpoch, type RiskAssessment, type RiskInput } from '../../proxy/risk/index.js';
import { RISK_START, riskEngineSetup, riskInput } from '../helpers/risk-setups.js';

const DAY = 86_400_000;
const WATCHED = '005930';
const DROPPED = '000660';
/** Where the engine keeps bot b1's baseline in the Store. */
const baselineKey = (bot: string): string => `risk:baseline:${bot}`;
const hit = (a: RiskAssessment) => a.contributions.find((c) => c.detector === 'new_symbol');
const quote = (now: number, stkCd: string): RiskInput => riskInput({ now, stkCd });
const buy = (now: number, stkCd: string, qty = 10): RiskInput => riskInput({ now, apiId: 'kt10000', kind: 'order', side: 'buy', stkCd, qty, price: 10_000 });

type Setup = ReturnType<typeof riskEngineSetup>;
/** The engine judging these buys, lead-ins aside (every call assessed here would be a new one: sequence's own tests). */
const setup = (dormantBuys: Record<string, unknown> = {}): Setup => riskEngineSetup({ dormantBuys, weights: { sequence: 0 } });

async function learn(s: Setup, inputs: readonly RiskInput[]): Promise<void> {
  for (const i of inputs) {
    s.at(i.now as number);
    await s.engine.assess(i);
    await s.engine.learn(i, { allowed: true, completed: true });
  }
}

/** The weekdays of two weeks from Monday RISK_START: ten buying days. */
const WEEKDAYS = [0, 1, 2, 3, 4, 7, 8, 9, 10, 11].map((d) => RISK_START + d * DAY);

/**
 * Two weeks of a bot that quotes before it buys: quotes of WATCHED every 10 minutes from 09:00, two buys a weekday
 * (the first day's second one in DROPPED, quoted just before; `blind` buys of WATCHED with no call about it come
 * first that day), then nothing about DROPPED again.
 */
function looker(blind = 0, days = WEEKDAYS): RiskInput[] {
  const out: RiskInput[] = [];
  for (let k = 0; k < blind; k++) out.push(buy(RISK_START - 3_600_000 + k * 60_000, '000270'));
  for (const [d, start] of days.entries()) {
    for (let k = 0; k < 36; k++) {
      out.push(quote(start + k * 600_000, WATCHED));
      if (k === 5) out.push(buy(start + k * 600_000 + 60_000, WATCHED));
      if (k === 20)
        out.push(...(d === 0 ? [quote(start + k * 600_000 + 30_000, DROPPED)] : []), buy(start + k * 600_000 + 60_000, d === 0 ? DROPPED : WATCHED));
    }
  }
  return out;
}

/** Monday 10:00 of the third week: DROPPED untouched for ten trading days. */
const LATER = RISK_START + 14 * DAY + 3_600_000;

t.test('a buy in a symbol untouched for days, from a bot that looks first: new_symbol 0.6, held only with another sign', async (t) => {
  const s = setup();
  t.teardown(s.close);
  await learn(s, looker());
  s.at(LATER);
  const stored = JSON.parse((await s.store.get(baselineKey('b1')))!) as { dormantBuys?: unknown };
  t.same(stored.dormantBuys, { days: 10, day: '2026-01-16', dormant: 0 }, 'the stored baseline: ten buying days, no buy without a call about its symbol');

  const dormant = await s.engine.assess(buy(LATER, DROPPED));
  t.equal(hit(dormant)?.score, 0.6, 'the dropped symbol: new_symbol scores 0.6');
  t.match(
    hit(dormant)?.reason,
    /^buy in 000660, no call about it for 10 trading days; this bot bought on 10 days, never without a call about the symbol that day or 1 trading day before$/,
  );
  t.ok(dormant.score <= 0.7, `on its own it is not held (${dormant.score})`);

  t.notOk(hit(await s.engine.assess(buy(LATER, WATCHED))), 'the symbol it quoted on Friday: nothing');
  t.notOk(hit(await s.engine.assess(quote(LATER, DROPPED))), 'a quote of the dropped symbol: nothing (only buys are judged)');

  // From an address of its network it never used: location alone stays under step-up, with the dormant symbol it is held.
  const moved = { sourceIp: '10.0.0.77' };
  const away = await s.engine.assess({ ...buy(LATER, WATCHED), ...moved });
  const awayDormant = await s.engine.assess({ ...buy(LATER, DROPPED), ...moved });
  t.ok(away.contributions.some((c) => c.detector === 'location') && away.score <= 0.7, `a buy of the watched symbol from it is not held (${away.score})`);
  t.ok(awayDormant.score > 0.7, `the same buy in the dropped symbol is (${awayDormant.score})`);

  const sell = riskInput({ now: LATER, apiId: 'kt10001', kind: 'order', side: 'sell', stkCd: DROPPED, qty: 10, price: 10_000, holdingQty: 10 });
  t.notOk(hit(await s.engine.assess(sell)), 'a sell of the dropped symbol: nothing (a bot sells what it holds unwatched)');

  // Once it quotes the symbol again, its buy is an ordinary one.
  await learn(s, [quote(LATER + 60_000, DROPPED)]);
  t.notOk(hit(await s.engine.assess(buy(LATER + 120_000, DROPPED))), 'quoted a minute ago: nothing');
});

t.test('silent for a bot that buys without looking, a young history, and dormantBuys.days 0', async (t) => {
  const blind = setup();
  t.teardown(blind.close);
  await learn(blind, looker(1));
  t.notOk(hit(await blind.engine.assess(buy(LATER, DROPPED))), 'one buy without a call about its symbol on ten buying days: (1+1)/(10+1) is above 0.1');
  const tolerant = setup({ maxRate: 0.2 });
  t.teardown(tolerant.close);
  await learn(tolerant, looker(1));
  t.match(hit(await tolerant.engine.assess(buy(LATER, DROPPED)))?.reason, /bought on 10 days, 1 time without a call about the symbol/, 'maxRate 0.2 judges it');

  const young = setup();
  t.teardown(young.close);
  await learn(young, looker(0, WEEKDAYS.slice(0, 8)));
  t.notOk(hit(await young.engine.assess(buy(LATER, DROPPED))), 'eight buying days: (0+1)/(8+1) is above 0.1');

  const off = setup({ days: 0 });
  t.teardown(off.close);
  await learn(off, looker());
  t.notOk(hit(await off.engine.assess(buy(LATER, DROPPED))), 'days 0: off');
  t.notOk(JSON.parse((await off.store.get(baselineKey('b1')))!).dormantBuys, 'and nothing is counted');

  const longer = setup({ days: 10 });
  t.teardown(longer.close);
  await learn(longer, looker());
  t.notOk(hit(await longer.engine.assess(buy(LATER, DROPPED))), 'days 10: ten trading days are within it');
});

t.test('a stored count that cannot be read is learned afresh, not fatal', async (t) => {
  const s = setup();
  t.teardown(s.close);
  await learn(s, looker());
  const key = baselineKey('b1');
  const doc = JSON.parse((await s.store.get(key))!) as Record<string, unknown>;
  await s.store.set(key, JSON.stringify({ ...doc, dormantBuys: { days: '10', day: 20260116, dormant: null } }));
  const a = await s.engine.assess(buy(LATER, DROPPED));
  t.notOk(hit(a), 'no count: not judged');
  await learn(s, [buy(LATER, WATCHED)]);
  t.same(JSON.parse((await s.store.get(key))!).dormantBuys, { days: 1, day: '2026-01-19', dormant: 0 }, 'counting starts again with the next buy');
});

t.test('trading days: a weekend and a holiday are not days the bot failed to look', async (t) => {
  const cfg = parseRiskConfig({ holidays: ['2026-01-19'] });
  const friday = seoulToEpoch('2026-01-16', 15, 0);
  t.equal(tradingDaysSince(cfg, friday, seoulToEpoch('2026-01-16', 15, 30), 9), 0, 'the same day: 0');
  t.equal(tradingDaysSince(cfg, seoulToEpoch('2026-01-15', 9), friday, 9), 1, 'Thursday to Friday: 1');
  t.equal(tradingDaysSince(cfg, friday, seoulToEpoch('2026-01-20', 9), 9), 1, 'Friday to Tuesday over a weekend and a Monday holiday: 1');
  t.equal(tradingDaysSince(cfg, friday, seoulToEpoch('2026-01-22', 9), 9), 3, 'to Thursday: 3');
  t.equal(tradingDaysSince(cfg, friday, seoulToEpoch('2026-03-02', 9), 5), 5, 'counted up to the cap');
});
