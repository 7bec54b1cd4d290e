// The `sequence` detector on account reads: a bot that reads its balance once
// a day before the open, after a quiet night, reads it amid its session's
// quotes: held, and the owner's refusal locks down the order that follows
// (a liquidation's balance read). A read right after another read or an
// order follows that call up, and a read outside the trading sessions (a
// weekend review) is neither judged nor learned. On the engine with a memory
// Store.
import t, { type Test } from 'tap';
import { parseRiskConfig, type RiskAssessment, type RiskInput, seoulToEpoch } from '../../proxy/risk/index.js';
import { riskEngineSetup, riskInput } from '../helpers/risk-setups.js';

/** The weekdays of 2026-01-05 to 2026-01-21: twelve of routine and the next. */
const DAYS = Array.from({ length: 17 }, (_, i) => seoulToEpoch('2026-01-05', 0, 0) + i * 86_400_000).filter(
  (ms) => ![0, 6].includes(new Date(ms + 9 * 3_600_000).getUTCDay()),
);
const HOUR = 3_600_000;
const quote = (now: number): RiskInput => riskInput({ now });
const read = (now: number, apiId = 'kt00018'): RiskInput => riskInput({ now, apiId, kind: 'account', stkCd: undefined });
const sell = (now: number): RiskInput => riskInput({ now, apiId: 'kt10001', kind: 'order', side: 'sell', qty: 10, price: 10_000 });
const hit = (a: RiskAssessment) => a.contributions.find((c) => c.detector === 'sequence');

type Setup = ReturnType<typeof riskEngineSetup>;

async function sent(s: Setup, i: RiskInput): Promise<RiskAssessment> {
  s.at(i.now as number);
  const a = await s.engine.assess(i);
  await s.engine.learn(i, { allowed: true, completed: true });
  return a;
}

/** Each weekday: the balance read at 08:50 after a quiet night, then a quote every 10 minutes from 09:00 to 15:00. */
async function readsAtTheOpen(t: Test, raw: Record<string, unknown> = {}): Promise<Setup> {
  const s = riskEngineSetup(raw);
  t.teardown(s.close);
  for (const midnight of DAYS.slice(0, 12)) {
    await sent(s, read(midnight + 8 * HOUR + 50 * 60_000));
    for (let m = 0; m <= 360; m += 10) await sent(s, quote(midnight + 9 * HOUR + m * 60_000));
  }
  return s;
}

const NEXT = DAYS[12]!;

t.test('a balance read amid the session, by a bot that reads it after a quiet night, is held; the refusal locks the sell after it down', async (t) => {
  const s = await readsAtTheOpen(t);
  t.equal(hit(await sent(s, read(NEXT + 8 * HOUR + 50 * 60_000))), undefined, 'its 08:50 read: the routine');
  await sent(s, quote(NEXT + 11 * HOUR));
  const odd = await s.engine.assess(read(NEXT + 11 * HOUR + 30_000));
  const c = hit(odd);
  t.ok(c && odd.score > 0.7, `held for step-up (score ${odd.score})`);
  t.match(
    c?.reason,
    /^account read after a market-data query 5s to 1 min before: none of this bot's 13 learned account reads over 13 read-days came after that \(new lead-ins 0\.07 per read-day, judged up to 0\.2\); usually after a pause of 10 min or more \(100%\)$/,
  );
  // The owner refuses it: the order that follows is the hand that read the balance.
  await s.engine.noteRefused('b1', NEXT + 11 * HOUR + 60_000);
  s.at(NEXT + 11 * HOUR + 20 * 60_000);
  const after = await s.engine.assess(sell(NEXT + 11 * HOUR + 20 * 60_000));
  t.ok(s.engine.isHighRisk(after), 'the sell twenty minutes later locks the bot down');
  t.ok(after.contributions.some((x) => x.detector === 'escalation'));
});

t.test('a read right after another read, or an order, follows it up: neither judged nor learned', async (t) => {
  const s = await readsAtTheOpen(t);
  // A restart at 11:00: its balance read after a quiet spell, then its open orders two seconds later.
  await sent(s, quote(NEXT + 10 * HOUR + 40 * 60_000));
  t.equal(hit(await sent(s, read(NEXT + 11 * HOUR))), undefined, 'the balance read after 20 quiet minutes: its routine lead-in');
  t.equal(hit(await sent(s, read(NEXT + 11 * HOUR + 2_000, 'ka10075'))), undefined, 'its open orders 2 s later: the same burst');
  // An order at 11:30, and its balance checked 3 s later.
  await sent(s, sell(NEXT + 11 * HOUR + 30 * 60_000));
  t.equal(hit(await sent(s, read(NEXT + 11 * HOUR + 30 * 60_000 + 3_000))), undefined, 'a read 3 s after its order: following it up');
  const b = JSON.parse((await s.store.get('risk:baseline:b1'))!) as { sequence: { reads: { leads: Record<string, [number, number, string]> } } };
  t.same(Object.keys(b.sequence.reads.leads), ['idle|-|-'], 'only the pauses learned');
  t.equal(b.sequence.reads.leads['idle|-|-']![0], 13, "twelve days' reads and the restart's");
});

t.test('only a call that went out is followed up: a held read sent again, two reads at once, a refused cancel', async (t) => {
  const s = await readsAtTheOpen(t);
  const at = NEXT + 11 * HOUR;
  await sent(s, quote(at));
  s.at(at + 30_000);
  t.ok((await s.engine.assess(read(at + 30_000))).score > 0.7, 'a read amid the quotes: held');
  s.at(at + 32_000);
  const again = await s.engine.assess(read(at + 32_000));
  t.ok(hit(again) && again.score > 0.7, `sent again 2 s later without an approval: held again (${again.score})`);

  // Two reads together: the second is judged before the first went out.
  const first = read(at + 600_000);
  const second = read(at + 600_000 + 200, 'kt00001');
  s.at(at + 600_000 + 200);
  await s.engine.assess(first);
  t.ok(hit(await s.engine.assess(second)), 'the second of two reads in flight at once: judged');
  await s.engine.learn(first, { allowed: true, completed: true });

  // A cancel the broker refused (no such order) does not make the read after it a follow-up.
  const cancel = riskInput({ now: at + 1_200_000, apiId: 'kt10003', kind: 'cancel' });
  s.at(at + 1_200_000);
  await s.engine.assess(cancel);
  await s.engine.learn(cancel, { allowed: true, completed: false });
  s.at(at + 1_201_000);
  t.ok(hit(await s.engine.assess(read(at + 1_201_000))), 'a read 1 s after a refused cancel: judged');
});

t.test('a stored read lead-in record that cannot be read is learned afresh, not a failure of every read', async (t) => {
  // No lead-ins at all; a lead-in whose last day is no date (its age, for oneOffDays, would be NaN days).
  for (const leads of [null, { 'query|60|-': [3, 1, 'yesterday'] }]) {
    const s = await readsAtTheOpen(t);
    const b = JSON.parse((await s.store.get('risk:baseline:b1'))!) as { sequence: Record<string, unknown> };
    await s.store.set('risk:baseline:b1', JSON.stringify({ ...b, sequence: { ...b.sequence, reads: { days: 20, day: '2026-01-20', leads } } }));
    await sent(s, quote(NEXT + 11 * HOUR));
    t.equal(hit(await sent(s, read(NEXT + 11 * HOUR + 30_000))), undefined, `${JSON.stringify(leads)}: nothing learned to judge by`);
    const after = JSON.parse((await s.store.get('risk:baseline:b1'))!) as { sequence: { reads: unknown } };
    t.same(after.sequence.reads, { days: 1, day: '2026-01-21', leads: { 'query|60|-': [1, 1, '2026-01-21'] } }, 'learning again from this read');
  }
});

t.test('a read outside the trading sessions is neither judged nor learned', async (t) => {
  const s = await readsAtTheOpen(t);
  const saturday = seoulToEpoch('2026-01-24', 10, 0);
  await sent(s, read(saturday));
  t.equal(hit(await sent(s, read(saturday + 5 * 60_000, 'kt00001'))), undefined, "a weekend review's second read, minutes after the first");
  await sent(s, quote(NEXT + 21 * HOUR));
  t.equal(hit(await sent(s, read(NEXT + 21 * HOUR + 10_000))), undefined, 'a read at 21:00, after the sessions end (the time detector is for that)');
  const b = JSON.parse((await s.store.get('risk:baseline:b1'))!) as { sequence: { reads: { days: number } } };
  t.equal(b.sequence.reads.days, 12, 'no read-day learned from them');
});

t.test('reads are judged from minReads learned reads; kinds: [order] judges orders only', async (t) => {
  const young = await readsAtTheOpen(t, { sequence: { minReads: 13 } });
  await sent(young, quote(NEXT + 11 * HOUR));
  t.equal(hit(await young.engine.assess(read(NEXT + 11 * HOUR + 30_000))), undefined, '12 reads learned, 13 wanted');

  const ordersOnly = await readsAtTheOpen(t, { sequence: { kinds: ['order'] } });
  await sent(ordersOnly, quote(NEXT + 11 * HOUR));
  t.equal(hit(await ordersOnly.engine.assess(read(NEXT + 11 * HOUR + 30_000))), undefined, 'reads not judged');
  const b = JSON.parse((await ordersOnly.store.get('risk:baseline:b1'))!) as { sequence?: unknown };
  t.equal(b.sequence, undefined, 'nor learned');
});

t.test('config: kinds some of order and account, once each; minReads a count', async (t) => {
  t.same(parseRiskConfig({}).sequence.kinds, ['order', 'account']);
  t.equal(parseRiskConfig({}).sequence.minReads, 5);
  t.same(parseRiskConfig({ sequence: { kinds: ['account'] } }).sequence.kinds, ['account']);
  for (const kinds of [[], ['query'], ['order', 'order'], 'order'])
    t.throws(() => parseRiskConfig({ sequence: { kinds } }), /risk\.sequence\.kinds/, JSON.stringify(kinds));
  t.throws(() => parseRiskConfig({ sequence: { minReads: 0 } }), /risk\.sequence/);
});
