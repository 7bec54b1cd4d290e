// The `sequence` detector: an order after a lead-in (the bot's previous call,
// how long before, the same stock or not) none of its learned orders had. On
// the engine with a memory Store: a bot that quotes a name and buys it two
// seconds later is held when an order follows a balance read instead; a held
// call sent again on its approval neither reads nor moves the previous call;
// a bot whose orders keep showing new lead-ins is not judged; replicas share
// the previous call; weight 0 writes nothing.
import pino from 'pino';
import { Registry } from 'prom-client';
import t, { type Test } from 'tap';
import { createRiskEngine, parseRiskConfig, type RiskAssessment, type RiskInput, seoulToEpoch } from '../../proxy/risk/index.js';
import type { Store } from '../../proxy/state/index.js';
import { leadOf, newLeadRate, parseLead } from '../../proxy/risk/sequence.js';
import { riskEngineSetup, riskInput } from '../helpers/risk-setups.js';

const WEEKDAYS = ['2026-01-05', '2026-01-06', '2026-01-07', '2026-01-08', '2026-01-09', '2026-01-12'];
const quote = (now: number, stkCd = '005930'): RiskInput => riskInput({ now, stkCd });
const read = (now: number): RiskInput => riskInput({ now, apiId: 'kt00018', kind: 'account', stkCd: undefined });
const buy = (now: number, stkCd = '005930'): RiskInput => riskInput({ now, apiId: 'kt10000', kind: 'order', side: 'buy', qty: 10, price: 10_000, stkCd });
const hit = (a: RiskAssessment) => a.contributions.find((c) => c.detector === 'sequence');

type Engine = ReturnType<typeof riskEngineSetup>['engine'];

async function sent(engine: Engine, i: RiskInput): Promise<RiskAssessment> {
  const a = await engine.assess(i);
  await engine.learn(i, { allowed: true, completed: true });
  return a;
}

/**
 * Six weekdays of a bot's routine: a balance read at 09:00, then every 30 minutes quotes and, 2 s after a quote of
 * a name, a buy of it (`before` is the call placed just before each buy: a bot with another routine).
 */
async function routine(engine: Engine, before: (day: number, k: number, at: number) => RiskInput = (_d, _k, at) => quote(at + 20_000)) {
  for (const [d, day] of WEEKDAYS.entries()) {
    const open = seoulToEpoch(day, 9, 0);
    await sent(engine, read(open));
    for (let k = 0; k < 8; k++) {
      const at = open + 600_000 + k * 1_800_000;
      await sent(engine, quote(at, k % 2 === 0 ? '000660' : '005930'));
      await sent(engine, before(d, k, at));
      await sent(engine, buy(at + 22_000));
    }
  }
}

const NEXT = seoulToEpoch('2026-01-13', 10, 40);

t.test('an order after a lead-in the bot never had is held; its routine one is not', async (t) => {
  const s = await learnedRoutine(t);
  s.at(NEXT);
  await sent(s.engine, quote(NEXT));
  const usual = await s.engine.assess(buy(NEXT + 2_000));
  t.equal(hit(usual), undefined, 'a buy 2 s after a quote of the name: its routine');
  await s.engine.learn(buy(NEXT + 2_000), { allowed: true, completed: true });

  await sent(s.engine, read(NEXT + 60_000));
  const odd = await s.engine.assess(buy(NEXT + 63_000));
  const c = hit(odd);
  t.ok(c, 'a buy 3 s after a balance read: a lead-in none of its orders had');
  t.equal(c?.score, 1);
  t.ok(odd.score > 0.7, `held for step-up (score ${odd.score})`);
  t.same(
    odd.contributions.map((x) => x.detector),
    ['sequence'],
    'on this alone',
  );
  t.match(c?.reason, /after an account inquiry under 5s before: none of this bot's 48 learned orders over 6 order-days came after that/);
  t.match(c?.reason, /usually after a market-data query of the same stock under 5s before \(100%\)/);
});

/** An engine on a memory Store with the routine of `routine` learned. */
async function learnedRoutine(t: Test) {
  const s = riskEngineSetup();
  t.teardown(s.close);
  await routine(s.engine);
  return s;
}

/** Another replica's engine on the same Store (its clock at NEXT), with the risk config given. */
function engineOn(store: Store, raw: Record<string, unknown> = {}) {
  return createRiskEngine({ config: parseRiskConfig(raw), store, registry: new Registry(), logger: pino({ level: 'silent' }), now: () => NEXT });
}

/** The routine learned, then a buy 3 s after a balance read: held by sequence (not learned: it waits for approval). */
async function heldOrder(t: Test) {
  const s = await learnedRoutine(t);
  await sent(s.engine, read(NEXT));
  const held = await s.engine.assess(buy(NEXT + 3_000));
  t.ok(hit(held) && held.score > 0.7, 'held by sequence');
  return s;
}

t.test('a held order sent again on its approval is that order: the previous call stays the one before it', async (t) => {
  const s = await heldOrder(t);
  const retry = await s.engine.assess({ ...buy(NEXT + 90_000), approvalRetry: true });
  t.equal(hit(retry), undefined, 'the retry is not judged by its own lead-in');
  t.equal(await s.store.get('risk:prev:b1'), `order|${NEXT + 3_000}|005930`, 'the retry left the previous call as it was');
  await sent(s.engine, quote(NEXT + 120_000));
  t.equal(hit(await s.engine.assess(buy(NEXT + 122_000))), undefined, 'the routine goes on unjudged');
});

t.test('an approved retry of a held order (approval mode pending) is that order: its lead-in learned, its count taken off', async (t) => {
  const s = await heldOrder(t);
  const hotKey = `risk:hot:b1:${Math.floor(NEXT / 86_400_000)}`;
  t.equal(await s.store.get(hotKey), '1', 'counted toward escalation');
  // The bot is answered "pending"; the owner approves; the bot sends the same order again with the approval's id.
  const retry: RiskInput = { ...buy(NEXT + 90_000), approvalRetry: true };
  await s.engine.assess(retry);
  await s.engine.learn(retry, { allowed: true, completed: true, approved: true });
  t.equal(await s.store.get(hotKey), '0', 'the approval took the count off');
  t.not(await s.store.get('risk:grace:b1'), null, 'and opened the grace');
  const b = JSON.parse((await s.store.get('risk:baseline:b1'))!) as { sequence: { leads: Record<string, unknown> } };
  t.ok('account|5|-' in b.sequence.leads, "the held order's lead-in learned");
  const tomorrow = seoulToEpoch('2026-01-14', 10, 40);
  await sent(s.engine, read(tomorrow));
  t.equal(hit(await s.engine.assess(buy(tomorrow + 3_000))), undefined, 'the same lead-in the next day: known');
});

t.test('an approved retry of a held order at the market is that order though its price moved (the sidecar priced it)', async (t) => {
  const s = await learnedRoutine(t);
  await sent(s.engine, read(NEXT));
  // No price of its own: the risk stage priced it at the policy's quote, which has moved by the retry.
  const atMarket = (now: number, price: number): RiskInput => ({ ...buy(now), price, pricedBy: 'quote' });
  const held = await s.engine.assess(atMarket(NEXT + 3_000, 10_000));
  t.ok(hit(held) && held.score > 0.7, 'held by sequence');
  const hotKey = `risk:hot:b1:${Math.floor(NEXT / 86_400_000)}`;
  t.equal(await s.store.get(hotKey), '1', 'counted toward escalation');
  const retry: RiskInput = { ...atMarket(NEXT + 90_000, 10_150), approvalRetry: true };
  await s.engine.assess(retry);
  await s.engine.learn(retry, { allowed: true, completed: true, approved: true });
  t.equal(await s.store.get(hotKey), '0', 'the approval took the count off');
  t.not(await s.store.get('risk:grace:b1'), null, 'and opened the grace');
});

t.test('a lead-in seen on one day only is routine for oneOffDays (30) after that day, then judged again', async (t) => {
  // On its first day (not judged yet) one buy came 2 s after a balance read: an intruder's, or a one-off of its owner.
  const oneOff = (d: number, k: number, at: number) => (d === 0 && k === 0 ? read(at + 20_000) : quote(at + 20_000));
  const judged = async (raw: Record<string, unknown>, day: string) => {
    // One new lead-in over six order-days is a rate of 2/7: judged up to 0.3 here (0.2 by default, from ten days).
    const s = riskEngineSetup({ sequence: { maxNewRate: 0.3, ...raw } });
    t.teardown(s.close);
    s.at(NEXT);
    await routine(s.engine, oneOff);
    const at = seoulToEpoch(day, 10, 40);
    s.at(at);
    await sent(s.engine, read(at));
    return hit(await s.engine.assess(buy(at + 2_000)));
  };
  t.equal(await judged({}, '2026-01-13'), undefined, 'a week after its one day: routine');
  t.equal(await judged({}, '2026-02-04'), undefined, '30 days after it: still routine');
  const stale = await judged({}, '2026-02-05');
  t.equal(stale?.score, 1, '31 days after it: judged again');
  t.match(
    stale?.reason,
    /after an account inquiry under 5s before: this bot's 48 learned orders over 6 order-days came after that on one day only, 31 days ago \(a one-off is routine for 30 days\)/,
  );
  t.equal(await judged({ oneOffDays: 0 }, '2026-02-20'), undefined, 'oneOffDays: 0 keeps it for good');
  t.equal(await judged({ oneOffDays: 60 }, '2026-02-20'), undefined, 'or for the days given');
  // A lead-in seen on two days is routine however long ago: the bot's own (a month-end step) comes back.
  const twice = (d: number, k: number, at: number) => (d < 2 && k === 0 ? read(at + 20_000) : quote(at + 20_000));
  const s = riskEngineSetup({ sequence: { maxNewRate: 0.3 } });
  t.teardown(s.close);
  s.at(NEXT);
  await routine(s.engine, twice);
  const later = seoulToEpoch('2026-02-13', 10, 40);
  s.at(later);
  await sent(s.engine, read(later));
  t.equal(hit(await s.engine.assess(buy(later + 2_000))), undefined, 'seen on two days, 38 days ago: routine');
});

t.test('a token exchange or a realtime LOGIN between a quote and the order is not its lead-in', async (t) => {
  const s = await learnedRoutine(t);
  await sent(s.engine, quote(NEXT));
  await sent(s.engine, riskInput({ now: NEXT + 500, apiId: 'au10001', kind: 'auth', stkCd: undefined }));
  await sent(s.engine, riskInput({ now: NEXT + 1_000, apiId: 'LOGIN', kind: 'realtime', stkCd: undefined, uncounted: true }));
  t.equal(await s.store.get('risk:prev:b1'), `query|${NEXT}|005930`, 'the quote is still the previous call');
  t.equal(hit(await s.engine.assess(buy(NEXT + 2_000))), undefined, 'the buy 2 s after its quote: the routine');
});

t.test('a stored lead-in record that cannot be read is learned afresh, not a failure of every order', async (t) => {
  const s = await learnedRoutine(t);
  const b = JSON.parse((await s.store.get('risk:baseline:b1'))!) as Record<string, unknown>;
  await s.store.set('risk:baseline:b1', JSON.stringify({ ...b, sequence: { days: 3, day: '2026-01-12', leads: null } }));
  await sent(s.engine, read(NEXT));
  const order = buy(NEXT + 3_000);
  t.equal(hit(await s.engine.assess(order)), undefined, 'nothing learned to judge by');
  await s.engine.learn(order, { allowed: true, completed: true });
  const after = JSON.parse((await s.store.get('risk:baseline:b1'))!) as { sequence: { days: number; leads: Record<string, unknown> } };
  t.same(after.sequence.leads, { 'account|5|-': [1, 1, '2026-01-13'] }, 'learning again from this order');
});

t.test('a bot whose orders keep showing new lead-ins is not judged on them', async (t) => {
  const s = riskEngineSetup();
  t.teardown(s.close);
  // Each day's first buy follows another call at another pace: a new lead-in on most order-days.
  const cancel = (now: number): RiskInput => riskInput({ now, apiId: 'kt10003', kind: 'cancel' });
  const firsts = [
    (at: number) => read(at + 21_000),
    (at: number) => read(at),
    (at: number) => quote(at + 21_000, '000660'),
    (at: number) => cancel(at + 21_000),
    (at: number) => quote(at + 1_000, '000660'),
    (at: number) => read(at + 21_000),
  ];
  await routine(s.engine, (d, k, at) => (k === 0 ? firsts[d]!(at) : quote(at + 20_000)));
  const b = JSON.parse((await s.store.get('risk:baseline:b1'))!) as { sequence: Parameters<typeof newLeadRate>[0] };
  t.ok(newLeadRate(b.sequence) > 0.2, `new lead-ins per order-day ${newLeadRate(b.sequence)}: above maxNewRate`);
  await sent(s.engine, read(NEXT));
  t.equal(hit(await s.engine.assess(buy(NEXT + 7_200_000))), undefined, 'an order two hours after a read: not judged');
});

t.test('replicas share the previous call: a quote on one and the order on another is the routine', async (t) => {
  const a = await learnedRoutine(t);
  const other = engineOn(a.store);
  a.at(NEXT);
  await sent(a.engine, read(NEXT));
  await sent(a.engine, quote(NEXT + 30_000));
  t.equal(hit(await other.assess(buy(NEXT + 32_000))), undefined, "the other replica sees this one's quote before the order");
  await sent(other, read(NEXT + 60_000));
  t.ok(hit(await a.engine.assess(buy(NEXT + 62_000))), "and this one the other's balance read");
});

t.test('new gap bounds start the learning again: lead-ins learned with others would all look new', async (t) => {
  const a = await learnedRoutine(t);
  const moved = engineOn(a.store, { sequence: { leadSeconds: [3, 60] } });
  await sent(moved, quote(NEXT));
  const order = buy(NEXT + 2_000);
  t.equal(hit(await moved.assess(order)), undefined, "the routine's buy is not judged against lead-ins of other bounds");
  await moved.learn(order, { allowed: true, completed: true });
  const b = JSON.parse((await a.store.get('risk:baseline:b1'))!) as { sequence: { bounds: string; days: number; leads: Record<string, unknown> } };
  t.same(b.sequence, { bounds: '3,60/600', days: 1, day: '2026-01-13', leads: { 'query|3|same': [1, 1, '2026-01-13'] } }, 'learned afresh');
});

t.test('weight 0 reads and writes nothing', async (t) => {
  const s = riskEngineSetup({ weights: { sequence: 0 } });
  t.teardown(s.close);
  await routine(s.engine);
  t.equal(await s.store.get('risk:prev:b1'), null);
  const b = JSON.parse((await s.store.get('risk:baseline:b1'))!) as Record<string, unknown>;
  t.equal(b.sequence, undefined, 'nothing learned');
});

t.test('lead-ins: the call within a lead bound, same stock or not; else the pause', async (t) => {
  const bounds = parseRiskConfig({}).sequence;
  const at = 1_000_000_000;
  t.equal(leadOf(null, buy(at), at, bounds), 'idle|-|-', 'no call within a day: the longest pause');
  t.equal(leadOf(`query|${at - 2_000}|005930`, buy(at), at, bounds), 'query|5|same');
  t.equal(leadOf(`query|${at - 5_000}|000660`, buy(at), at, bounds), 'query|60|other', '5 s is not under 5 s');
  t.equal(leadOf(`account|${at - 30_000}|`, buy(at), at, bounds), 'account|60|-', 'no stock named');
  t.equal(leadOf(`order|${at - 30_000}|005930`, buy(at, '005930_NX'), at, bounds), 'order|60|same', 'the same stock on another exchange');
  t.equal(leadOf(`cancel|${at - 60_000}|005930`, buy(at), at, bounds), 'idle|600|-', 'a minute before: it did not lead, the bot paused');
  t.equal(leadOf(`account|${at - 700_000}|`, buy(at), at, bounds), 'idle|-|-', 'past the last pause bound');
  t.same(parseLead('query|60|other', bounds), { kind: 'query', within: 60, same: false, from: 5 }, 'its gap was 5 s or more');
  t.same(parseLead('idle|600|-', bounds), { kind: 'idle', within: 600, same: undefined, from: 60 }, 'a pause of 1 to 10 min');
  t.same(parseLead('idle|-|-', bounds), { kind: 'idle', within: undefined, same: undefined, from: 600 }, 'a pause of 10 min or more');
  t.same(parseLead('query|5|same', bounds).from, 0);
});

t.test('config: bounds ascending seconds, pauses past the lead bounds; unknown knobs refused', async (t) => {
  t.same(parseRiskConfig({}).sequence, {
    kinds: ['order', 'account'],
    minOrders: 10,
    minReads: 5,
    minDays: 5,
    maxNewRate: 0.2,
    oneOffDays: 30,
    leadSeconds: [5, 60],
    idleSeconds: [600],
  });
  t.same(parseRiskConfig({ sequence: { leadSeconds: [2, 30], idleSeconds: [40, 3600] } }).sequence.idleSeconds, [40, 3600]);
  t.throws(() => parseRiskConfig({ sequence: { leadSeconds: [60, 5] } }), /risk\.sequence\.leadSeconds: must be 1 to 4 ascending numbers of seconds, above 0/);
  t.throws(() => parseRiskConfig({ sequence: { leadSeconds: [] } }), /risk\.sequence\.leadSeconds/);
  t.throws(() => parseRiskConfig({ sequence: { idleSeconds: [30] } }), /risk\.sequence\.idleSeconds: .*above 60/);
  t.throws(
    () => parseRiskConfig({ sequence: { leadSeconds: [5, 900] } }),
    /risk\.sequence\.idleSeconds: unset, its default \[600\] does not fit: must be .* above 900/,
  );
  t.throws(() => parseRiskConfig({ sequence: { maxNewRate: 0 } }), /risk\.sequence/, 'a rate no bot shows: weight 0 is the off switch');
  t.throws(() => parseRiskConfig({ sequence: { minOrder: 3 } }), /risk\.sequence/);
});
