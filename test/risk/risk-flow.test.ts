// The detectors added with issue 17 (sell_off, order_size and its buy
// envelope, account_reads, api_breadth, stuffing, escalation, the approval
// grace) on the engine with a memory Store, and
// `kguard risk explain`'s reading of an audit record.
import t from 'tap';
import type { Test } from 'tap';
import type { AuditRecord } from '../../proxy/audit/record.js';
import { explanationOf, formatExplanation } from '../../proxy/cli/risk.js';
import { parseRiskConfig, type RiskAssessment, type RiskInput } from '../../proxy/risk/index.js';
import { RISK_START, riskEngineSetup, riskInput } from '../helpers/risk-setups.js';

const DAY = 86_400_000;
const START = RISK_START;

const setup = riskEngineSetup;
const base = riskInput;
const sell = (now: number, qty: number, holdingQty: number): RiskInput =>
  base({ now, apiId: 'kt10001', kind: 'order', side: 'sell', qty, price: 10_000, holdingQty });
/** The balance inquiry the sell's holdingQty comes from (the position is read again before each learned sell). */
const read = (now: number): RiskInput => base({ now, apiId: 'kt00018', kind: 'account', stkCd: undefined });
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

/**
 * A rebalancer's trims, learned: `trims` sells of 10 to 19 shares of a 200-share position (5 to 9.5%, all in the
 * under-15% band), then a read; or the sells `qtyOf` (the nth) says.
 */
async function trimmerSetup(t: Test, raw: Record<string, unknown>, trims: number, qtyOf = (n: number) => 10 + n) {
  const s = setup(raw);
  t.teardown(s.close);
  let n = 0;
  await learn(
    s.engine,
    days(4, (d, k) => (k % 6 === 2 && n < trims ? [read(d + k * 600_000 + 500), sell(d + k * 600_000 + 1000, qtyOf(n++), 200)] : [])),
  );
  await learn(s.engine, [read(START + 4 * DAY + 3_599_000)]);
  return s;
}

t.test('sell_off: a trimmer selling a whole position scores; its usual trim does not', async (t) => {
  const s = setup();
  t.teardown(s.close);
  await learn(
    s.engine,
    days(3, (d, k) => (k % 6 === 1 ? [read(d + k * 600_000 + 500), sell(d + k * 600_000 + 1000, 10, 100)] : [])),
  );
  const later = START + 3 * DAY + 3_600_000;
  await learn(s.engine, [read(later - 1000)]);
  t.notOk(hit(await s.engine.assess(sell(later, 8, 100)), 'sell_off'), 'a trim of 8%');
  const all = hit(await s.engine.assess(sell(later + 60_000, 100, 100)), 'sell_off');
  t.ok(all, 'all of it');
  t.equal(all!.score, 1);
  t.match(all!.reason, /sells 100% of the position; 0 of \d+ learned sells/);
});

t.test('sell_off: a bot that sells all of a position in under 5% of its sells; a full closer selling a part', async (t) => {
  const s = setup();
  t.teardown(s.close);
  // 44 trims of a half and one full close: the full-close band holds 1 of 45 learned sells (2.2%).
  let n = 0;
  await learn(
    s.engine,
    days(5, (d, k) => (k % 4 === 1 ? [read(d + k * 600_000 + 500), sell(d + k * 600_000 + 1000, ++n === 20 ? 100 : 50, 100)] : [])),
  );
  const later = START + 5 * DAY + 3_600_000;
  await learn(s.engine, [read(later - 1000)]);
  t.notOk(hit(await s.engine.assess(sell(later, 50, 100)), 'sell_off'), 'its usual half');
  const all = hit(await s.engine.assess(sell(later + 60_000, 100, 100)), 'sell_off');
  t.ok(all, 'all of it, rare for this bot');
  t.equal(all!.score, 0.8889, 'from rareScore 0.75 at the 5% threshold towards 1 at none');
  t.match(all!.reason, /sells 100% of the position; 1 of 45 learned sells were in that band \(90% or more; rare under 5%\)/);

  const closer = setup();
  t.teardown(closer.close);
  await learn(
    closer.engine,
    days(3, (d, k) => (k === 7 || k === 20 ? [read(d + k * 600_000 + 500), sell(d + k * 600_000 + 1000, 100, 100)] : [])),
  );
  await learn(closer.engine, [read(START + 3 * DAY + 3_599_000)]);
  const part = hit(await closer.engine.assess(sell(START + 3 * DAY + 3_600_000, 30, 100)), 'sell_off');
  t.ok(part, 'six learned full closes (minSamples 5), then 30%');
  t.equal(part!.score, 1);
  t.match(part!.reason, /sells 30% of the position; 0 of 6 learned sells were in that band \(15-60%/);
});

t.test('sell_off: a share of a position under a third of the smallest this bot sells (a rebalancer sold one share)', async (t) => {
  const trimmer = (raw: Record<string, unknown> = {}, trims = 10) => trimmerSetup(t, raw, trims);
  const s = await trimmer();
  const at = START + 4 * DAY + 3_600_000;
  const one = hit(await s.engine.assess(sell(at, 1, 200)), 'sell_off');
  t.equal(one?.score, 1, 'one share of 200 (0.5%)');
  // Its three smallest sold 5, 5.5 and 6%: the third is the floor (one odd sell does not lower it).
  t.match(one!.reason, /sells 0\.5% of the position; all but two of 10 learned sells sold 6% or more \(scores under 2%\)/);
  t.equal(hit(await s.engine.assess(sell(at, 3, 200)), 'sell_off')?.score, 1, '1.5%: under a third of 6%');
  t.notOk(hit(await s.engine.assess(sell(at, 4, 200)), 'sell_off'), '2%: a small trim, not under a third of 6%');
  t.notOk(hit(await s.engine.assess(sell(at, 20, 200)), 'sell_off'), 'its usual trim');
  t.notOk(hit(await (await trimmer({ sellOff: { floorShare: 0 } })).engine.assess(sell(at, 1, 200)), 'sell_off'), 'floorShare 0: off');
  const young = hit(await (await trimmer({}, 4)).engine.assess(sell(at, 1, 200)), 'sell_off');
  t.notMatch(young?.reason ?? '', /learned sells sold/, 'under minSamples (5) learned sells the bands are not judged, nor the floor');
  // An intruder's first sliver that went out (1 share of 100) does not open the way for the next.
  await learn(s.engine, [sell(at + 1_000, 1, 100)]);
  const next = hit(await s.engine.assess(sell(at + 2_000, 1, 150)), 'sell_off');
  t.match(next?.reason, /sells 0\.7% of the position; all but two of 11 learned sells sold 5\.5% or more/, 'the floor is now the 5.5% trim');
});

t.test('sell_off: a bot that sells a steady share (a halver) is held to a closer floor: a third of a position is not its own', async (t) => {
  // Ten sells of 100 to 104 shares of 200 (50 to 52%; the third smallest 50.5%, the third largest 51.5%): within 1.25x of each other (tightSpread).
  const halver = (raw: Record<string, unknown> = {}, sells = 10) => trimmerSetup(t, raw, sells, (n) => 100 + (n % 5));
  const s = await halver();
  const at = START + 4 * DAY + 3_600_000;
  const third = hit(await s.engine.assess(sell(at, 60, 200)), 'sell_off');
  t.equal(third?.score, 1, 'a third of the position (30%)');
  t.match(
    third!.reason,
    /sells 30% of the position; all but two of 10 learned sells sold 50\.5% or more and all but two of its partial sells 51\.5% or less \(a steady share\) \(scores under 35\.4%\)/,
  );
  t.equal(hit(await s.engine.assess(sell(at, 70, 200)), 'sell_off')?.score, 1, '35%: under 0.7 of 50.5% (its third smallest)');
  t.notOk(hit(await s.engine.assess(sell(at, 71, 200)), 'sell_off'), '35.5%: not under it');
  t.notOk(hit(await s.engine.assess(sell(at, 101, 200)), 'sell_off'), 'its usual half');
  t.notOk(hit(await (await halver({ sellOff: { tightSpread: 0 } })).engine.assess(sell(at, 60, 200)), 'sell_off'), 'tightSpread 0: only a third of 50% scores');
  t.notOk(hit(await (await halver({ sellOff: { floorShare: 0 } })).engine.assess(sell(at, 60, 200)), 'sell_off'), 'floorShare 0: no floor at all');
  // Nine partial sells are too few to call a share steady (with five, the third smallest and the third largest are one sell).
  t.notOk(hit(await (await halver({}, 9)).engine.assess(sell(at, 60, 200)), 'sell_off'), 'under ten partial sells: the usual floor');
  t.equal(
    hit(await (await halver({ sellOff: { tightMinSells: 9 } }, 9)).engine.assess(sell(at, 60, 200)), 'sell_off')?.score,
    1,
    'tightMinSells 9: nine are enough',
  );
  // A trimmer's 5-9.5% is not steady (6% to 8.5%: 1.42x): its floor stays a third of its third smallest.
  const trimmer = await trimmerSetup(t, {}, 10);
  t.notOk(hit(await trimmer.engine.assess(sell(at, 4, 200)), 'sell_off'), "2% of a trimmer's position: not under a third of 6%");
});

t.test('sell_off: a part of a position over twice what all but two of its partial sells sold (a trimmer sells a third)', async (t) => {
  // Its three largest sold 9.5, 9 and 8.5%: the third is what the ceiling doubles (17%).
  const trimmer = (raw: Record<string, unknown> = {}) => trimmerSetup(t, raw, 10);
  const s = await trimmer();
  const at = START + 4 * DAY + 3_600_000;
  const third = hit(await s.engine.assess(sell(at, 60, 200)), 'sell_off');
  t.equal(third?.score, 1, 'a third of the position (30%)');
  t.match(third!.reason, /sells 30% of the position; all but two of 10 learned sells of part of one sold 8\.5% or less \(scores over 17%\)/);
  t.notOk(hit(await s.engine.assess(sell(at, 34, 200)), 'sell_off'), '17%: not over twice 8.5%');
  t.notMatch(hit(await s.engine.assess(sell(at, 200, 200)), 'sell_off')?.reason ?? '', /part of one/, "all of it is the bands' to judge");
  t.notOk(hit(await (await trimmer({ sellOff: { ceilingFactor: 0 } })).engine.assess(sell(at, 60, 200)), 'sell_off'), 'ceilingFactor 0: off');
});

t.test("sell_off: the position is the last read plus the bot's own orders since; one share says nothing; a sliver by a halver", async (t) => {
  const s = setup();
  t.teardown(s.close);
  // A halver: reads its balance, sells half of a position; now and then closes a one-share remnant (not learned).
  let n = 0;
  await learn(
    s.engine,
    days(4, (d, k) =>
      k % 4 === 1 ? [read(d + k * 600_000 + 500), ++n % 5 === 0 ? sell(d + k * 600_000 + 1000, 1, 1) : sell(d + k * 600_000 + 1000, 40, 80)] : [],
    ),
  );
  const later = START + 4 * DAY + 3_600_000;
  await learn(s.engine, [read(later - 1000)]);
  const all = hit(await s.engine.assess(sell(later, 80, 80)), 'sell_off');
  t.ok(all, 'all of a position: its closes of one-share remnants do not count as selling all of one');
  t.match(all!.reason, /0 of \d+ learned sells were in that band \(90% or more/);
  const sliver = hit(await s.engine.assess(sell(later, 2, 80)), 'sell_off');
  t.ok(sliver, 'a sliver, smaller than any share it sells');
  t.match(sliver!.reason, /sells 3% of the position; 0 of \d+ learned sells were in that band \(under 15%/);
  // Its own orders since the read: a buy grows the position, a sell shrinks it.
  await learn(s.engine, [buy(later + 1000, 80), sell(later + 2000, 40, 80)]);
  t.notOk(hit(await s.engine.assess(sell(later + 3000, 60, 80)), 'sell_off'), 'half of 80 + 80 - 40');
  const over = hit(await s.engine.assess(sell(later + 3000, 200, 80)), 'sell_off');
  t.ok(over, 'more than the position can be (80 read + 80 bought)');
  t.match(over!.reason, /sells 100% of the position \(200 shares: more than the 160 it can hold\)/);
  t.notOk(hit(await s.engine.assess(sell(later + 3000, 150, 80)), 'sell_off'), 'between the estimate and the upper bound: unknown');
  // A first page of several is not the holdings (server/pipeline/after/holdings.ts): the buy since the last whole read still counts.
  await s.engine.assess(read(later + 2500));
  await s.engine.learn(read(later + 2500), { allowed: true, completed: true, holdingsRecorded: false });
  t.match(hit(await s.engine.assess(sell(later + 3000, 200, 80)), 'sell_off')?.reason, /more than the 160 it can hold/, 'a partial read');
  await learn(s.engine, [read(later + 2600)]);
  t.match(hit(await s.engine.assess(sell(later + 3000, 200, 80)), 'sell_off')?.reason, /more than the 80 it can hold/, 'a whole read starts again');
});

t.test('sell_off: the first sell of a bot that has only ever bought, whatever its size', async (t) => {
  const s = setup();
  t.teardown(s.close);
  await learn(
    s.engine,
    days(3, (d, k) => (k % 5 === 3 ? [buy(d + k * 600_000 + 1000, 10)] : [])),
  );
  const later = START + 3 * DAY + 3_600_000;
  const first = hit(await s.engine.assess(sell(later, 1, 400)), 'sell_off');
  t.ok(first, 'one share of 400');
  t.equal(first!.score, 1);
  t.match(first!.reason, /first sell by this bot: 2\d orders learned, none a sell \(threshold 20\), 0% of the position/);

  const young = setup({ sellOff: { firstSellMinOrders: 40 } });
  t.teardown(young.close);
  await learn(
    young.engine,
    days(3, (d, k) => (k % 5 === 3 ? [buy(d + k * 600_000 + 1000, 10)] : [])),
  );
  t.notOk(hit(await young.engine.assess(sell(later, 50, 400)), 'sell_off'), 'too few orders to call it a buy-only bot');
  t.match(hit(await young.engine.assess(sell(later, 1, 400)), 'sell_off')?.reason, /a sliver/, 'though one share is a sliver of its lots of 10');
});

/** A swing trader: buys of 40-120 shares and two full closes so far (minSamples is 5), then a read. */
async function lots(engine: ReturnType<typeof setup>['engine']): Promise<void> {
  const qty = [40, 120, 80, 60, 100, 90];
  let n = 0;
  await learn(
    engine,
    days(3, (d, k) => (k % 6 === 2 && n < qty.length ? [buy(d + k * 600_000 + 1000, qty[n++]!)] : [])),
  );
  await learn(engine, [read(START + 3 * DAY), sell(START + 3 * DAY + 1000, 40, 40), read(START + 3 * DAY + 2000), sell(START + 3 * DAY + 3000, 120, 120)]);
  await learn(engine, [read(START + 3 * DAY + 3_599_000)]);
}

t.test('sell_off: a sliver of a position by a bot that trades in lots, before it has sold enough to judge its shares', async (t) => {
  // Its two sells closed whole positions: closerMinSells (the next test) is off here, so the sliver rule is seen alone.
  const setup = (raw: { sellOff?: Record<string, unknown> } = {}) => riskEngineSetup({ ...raw, sellOff: { closerMinSells: 0, ...raw.sellOff } });
  const s = setup();
  t.teardown(s.close);
  await lots(s.engine);
  const later = START + 3 * DAY + 3_600_000;
  const one = hit(await s.engine.assess(sell(later, 1, 80)), 'sell_off');
  t.ok(one, 'one share of 80, from a bot whose smallest order is 40');
  t.equal(one!.score, 1);
  t.match(one!.reason, /sells 1 shares, 1% of the position: a sliver, .* its smallest of 8 orders is 40 shares/);
  t.ok(hit(await s.engine.assess(sell(later, 4, 80)), 'sell_off'), 'a tenth of its smallest order');
  t.notOk(hit(await s.engine.assess(sell(later, 5, 80)), 'sell_off'), 'above a tenth of its smallest order');
  t.notOk(hit(await s.engine.assess(sell(later, 40, 80)), 'sell_off'), 'half of a position: not a sliver');

  // A bot that orders a share or two at a time: one share is its own size.
  const small = setup();
  t.teardown(small.close);
  await learn(
    small.engine,
    days(3, (d, k) => (k % 6 === 2 ? [buy(d + k * 600_000 + 1000, 1 + (k % 2))] : [])),
  );
  await learn(small.engine, [read(later - 1000)]);
  t.notOk(hit(await small.engine.assess(sell(later, 1, 30)), 'sell_off'), 'its own lot size');

  // Knobs: too few orders to know its lots; a stricter factor.
  const knobs = setup({ sellOff: { sliverMinOrders: 9, sliverFactor: 0.01 } });
  t.teardown(knobs.close);
  await lots(knobs.engine);
  t.notOk(hit(await knobs.engine.assess(sell(later, 1, 80)), 'sell_off'), 'sliverMinOrders 9 > 8 orders learned');
  const tight = setup({ sellOff: { sliverFactor: 0.01 } });
  t.teardown(tight.close);
  await lots(tight.engine);
  t.notOk(hit(await tight.engine.assess(sell(later, 1, 80)), 'sell_off'), 'sliverFactor 0.01: 1 share is more than 0.4');
});

t.test('sell_off: part of a position from a bot whose few learned sells each closed a whole one', async (t) => {
  const s = setup();
  t.teardown(s.close);
  await lots(s.engine);
  const later = START + 3 * DAY + 3_600_000;
  const part = await s.engine.assess(sell(later, 24, 80));
  const c = hit(part, 'sell_off');
  t.equal(c?.score, 1, 'a third of a position, with two sells learned: under the five sell_off judges a share by');
  t.equal(c?.reason, 'sells 30% of the position; each of its 2 learned sells sold a whole position, none a part (scores from 2)');
  t.ok(part.score > 0.7, `held for approval (score ${part.score})`);
  t.notMatch(hit(await s.engine.assess(sell(later, 80, 80)), 'sell_off')?.reason ?? '', /none a part/, 'all of it is its own');
  // A buy since the read that may not have filled: selling what the read showed may be the whole position.
  const b = setup();
  t.teardown(b.close);
  await lots(b.engine);
  await learn(b.engine, [buy(later - 60_000, 40)]);
  t.notOk(hit(await b.engine.assess(sell(later, 80, 80)), 'sell_off'), '80 of 80 read, 40 bought since');
  t.match(hit(await b.engine.assess(sell(later, 50, 80)), 'sell_off')?.reason, /sells 41\.7% of the position; .* none a part/, '50: a part either way');
  // A part it did sell (approved, gone out): it is a bot that sells parts, and the next one is not this rule's.
  await learn(s.engine, [sell(later, 24, 80), read(later + 1000)]);
  t.notMatch(hit(await s.engine.assess(sell(later + 2000, 20, 56)), 'sell_off')?.reason ?? '', /none a part/, 'after a part of its own');

  for (const [closerMinSells, why] of [
    [3, 'closerMinSells 3: two whole sells are too few'],
    [0, 'closerMinSells 0: off'],
  ] as const) {
    const k = setup({ sellOff: { closerMinSells } });
    t.teardown(k.close);
    await lots(k.engine);
    t.notOk(hit(await k.engine.assess(sell(later, 24, 80)), 'sell_off'), why);
  }
  t.throws(() => parseRiskConfig({ sellOff: { closerMinSells: 1.5 } }), /closerMinSells/);
});

t.test('condition: a realtime condition search the bot never ran (live 1, one-shot 0.6); a first search at all is new_api', async (t) => {
  const s = setup();
  t.teardown(s.close);
  const cond = (now: number, apiId: string, seq: string) => base({ now, apiId, kind: 'realtime', stkCd: undefined, condition: seq });
  await learn(
    s.engine,
    days(2, (d, k) => (k === 0 ? [cond(d + 1000, 'ka10173', '1')] : k === 35 ? [cond(d + k * 600_000 + 1000, 'ka10174', '1')] : [])),
  );
  const now = START + 2 * DAY + 3_600_000;
  t.notOk(hit(await s.engine.assess(cond(now, 'ka10173', '1')), 'condition'), 'its own live search');
  const live = hit(await s.engine.assess(cond(now, 'ka10173', '7')), 'condition');
  t.equal(live?.score, 1);
  t.match(live?.reason, /live condition search 7 never run by this bot \(runs 1\)/);
  t.equal(hit(await s.engine.assess(cond(now, 'ka10172', '7')), 'condition')?.score, 0.6, 'a one-shot search');
  t.notOk(hit(await s.engine.assess(cond(now, 'ka10174', '7')), 'condition'), 'a clear is not a search');
  // Probing: one-shot searches of conditions it never ran, the third distinct one within the hour scores 1.
  t.equal(hit(await s.engine.assess(cond(now + 60_000, 'ka10172', '8')), 'condition')?.score, 0.6, 'a second never-run condition');
  const third = hit(await s.engine.assess(cond(now + 120_000, 'ka10172', '9')), 'condition');
  t.equal(third?.score, 1, 'the third');
  t.match(third?.reason, /3 never-run conditions within 60-120 min \(scores 1 from 3\)/);
  t.equal(hit(await s.engine.assess(cond(now + 2 * 3_600_000 + 60_000, 'ka10172', '5')), 'condition')?.score, 0.6, 'hours later: one again');
  // Across the top of an hour (the counters' window boundary): the same probe, two minutes apart, is still one.
  const hour = Math.ceil((now + 6 * 3_600_000) / 3_600_000) * 3_600_000;
  t.equal(hit(await s.engine.assess(cond(hour - 60_000, 'ka10172', '2')), 'condition')?.score, 0.6, 'the first at 59 past');
  t.equal(hit(await s.engine.assess(cond(hour - 30_000, 'ka10172', '3')), 'condition')?.score, 0.6);
  t.equal(hit(await s.engine.assess(cond(hour + 60_000, 'ka10172', '4')), 'condition')?.score, 1, 'the third, a minute past the hour, scores 1');

  const never = setup();
  t.teardown(never.close);
  await learn(never.engine, days(2));
  const first = await never.engine.assess(cond(now, 'ka10173', '1'));
  t.notOk(hit(first, 'condition'), 'a bot that never ran one: the condition detector stays out');
  t.ok(hit(first, 'new_api'), 'new_api judges its first search');
});

/** Three days of quotes with six buys of 100-150 shares at 10,000 KRW (largest 150 shares, 1.5M KRW). */
async function learnSixBuys(engine: ReturnType<typeof setup>['engine']): Promise<void> {
  let n = 0;
  await learn(
    engine,
    days(3, (d, k) => (k === 5 || k === 25 ? [buy(d + k * 600_000 + 1000, 100 + 10 * n++)] : [])),
  );
}

t.test('order_size envelope: a buy above the largest learned, by quantity (one share of slack) or by KRW', async (t) => {
  const s = setup();
  t.teardown(s.close);
  await learnSixBuys(s.engine);
  const later = START + 3 * DAY + 3_600_000;
  t.notOk(hit(await s.engine.assess(buy(later, 151)), 'order_size'), 'one share above the largest is within the slack');
  const byQty = hit(await s.engine.assess(buy(later + 1000, 227, 5_000)), 'order_size');
  t.ok(byQty, '1.5x the largest (plus one share) by quantity, in a cheaper name');
  t.equal(byQty!.score, 1);
  t.match(byQty!.reason, /buy qty 227 is 1\.5x the largest buy \(150, plus one share\) of 6 learned buys \(scores 1 from 1\.5x\)/);
  const byKrw = hit(await s.engine.assess(buy(later + 2000, 120, 15_750)), 'order_size');
  t.ok(byKrw, 'a usual quantity of a dearer name: 1.26x the largest KRW');
  t.match(byKrw!.reason, /buy 1890000 KRW is 1\.25x the largest buy \(1500000 KRW, plus one share\)/);
  t.ok(byKrw!.score > 0.45 && byKrw!.score < 0.55, `partial below the factor (${byKrw!.score})`);
  t.notOk(hit(await s.engine.assess(sell(later + 3000, 500, 500)), 'order_size'), 'sells are bounded by the position: not judged by the envelope');

  const strict = setup({ orderSize: { envelopeMinOrders: 10, envelopeFactor: 2 } });
  t.teardown(strict.close);
  await learn(
    strict.engine,
    days(3, (d, k) => (k === 5 || k === 25 ? [buy(d + k * 600_000 + 1000, 100)] : [])),
  );
  t.notOk(hit(await strict.engine.assess(buy(later, 400)), 'order_size'), 'six buys are under envelopeMinOrders 10');
});

t.test('order_size envelope: a buy above it waits a day to raise it; with envelopeRepeatMinOrders set, a second one above it that day scores 1', async (t) => {
  const s = setup({ orderSize: { envelopeRepeatMinOrders: 6 } });
  t.teardown(s.close);
  await learnSixBuys(s.engine);
  const day4 = START + 3 * DAY + 3_600_000;
  const first = hit(await s.engine.assess(buy(day4, 190)), 'order_size');
  t.ok(first && first.score > 0.4 && first.score < 0.6, `190 shares: 1.26x the largest, partial (${first?.score})`);
  await s.engine.learn(buy(day4, 190), { allowed: true, completed: true });
  const again = hit(await s.engine.assess(buy(day4 + 60_000, 185)), 'order_size');
  t.ok(again, 'the bar is still 150 today: 185 is above it');
  t.equal(again!.score, 1, 'the second buy above it today');
  t.match(again!.reason, /qty 185 is 1\.2\dx the largest buy \(150, plus one share\) of 7 learned buys .*; buy 2 above it today/);
  t.notOk(hit(await s.engine.assess(buy(day4 + 120_000, 120)), 'order_size'), 'a usual buy the same day');
  // The next Seoul day the first one has joined the envelope: 185 is within 190.
  t.notOk(hit(await s.engine.assess(buy(day4 + DAY, 185)), 'order_size'), 'the next day the bar is 190');
  await s.engine.learn(buy(day4 + DAY, 185), { allowed: true, completed: true });
  t.notOk(hit(await s.engine.assess(buy(day4 + DAY + 60_000, 191)), 'order_size'), 'and stays so once that day learned a buy (one share of slack)');

  const young = setup({ orderSize: { envelopeRepeatMinOrders: 200 } });
  t.teardown(young.close);
  await learnSixBuys(young.engine);
  await learn(young.engine, [buy(day4, 190)]);
  const partial = hit(await young.engine.assess(buy(day4 + 60_000, 185)), 'order_size');
  t.ok(partial && partial.score < 1, `seven buys are under envelopeRepeatMinOrders 200: judged by size alone (${partial?.score})`);
  t.notMatch(partial!.reason, /above it today/);

  // Off by default: the same second buy above the bar is judged by its size (1.2x) alone.
  t.equal(parseRiskConfig({}).orderSize.envelopeRepeatMinOrders, 0, 'off by default');
  const plain = setup();
  t.teardown(plain.close);
  await learnSixBuys(plain.engine);
  await learn(plain.engine, [buy(day4, 190)]);
  const bySize = hit(await plain.engine.assess(buy(day4 + 60_000, 185)), 'order_size');
  t.ok(bySize && bySize.score < 1 && !/above it today/.test(bySize.reason), `the default judges the repeat by its size (${bySize?.score})`);
});

t.test('order_size: far above or far below the usual notional on that side', async (t) => {
  const s = setup();
  t.teardown(s.close);
  await learn(
    s.engine,
    days(3, (d, k) => (k % 4 === 2 ? [buy(d + k * 600_000 + 1000, 100 + (k % 3))] : [])),
  );
  const later = START + 3 * DAY + 3_600_000;
  // 101: within the learned 100-102 (110 would be above the largest buy: the envelope's, weakly).
  t.notOk(hit(await s.engine.assess(buy(later, 101)), 'order_size'), 'usual size');
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
  const trader = (n: number) => days(n, (d, k) => (k % 3 === 0 ? [buy(d + k * 600_000 + 1000, 10)] : []));
  await learn(s.engine, trader(2));
  const now = START + 2 * DAY + 3_600_000;
  const ids = ['ka10002', 'ka10003', 'ka10004'];
  const got = [];
  for (const [i, apiId] of ids.entries()) got.push(hit(await s.engine.assess(base({ now: now + i * 1000, apiId })), 'api_breadth'));
  t.notOk(got[0]);
  t.notOk(got[1]);
  t.match(got[2]?.reason, /3 api-ids never used by this bot called within 60-120 min/);
  t.notOk(hit(await s.engine.assess(base({ now: now + 5000 })), 'api_breadth'), 'a known api-id counts nothing');
  // Across the top of an hour (the counters' window boundary): the same burst is still one.
  const hour = Math.ceil((now + 6 * 3_600_000) / 3_600_000) * 3_600_000;
  const across = [];
  for (const [i, apiId] of ['ka10005', 'ka10006', 'ka10007'].entries()) {
    across.push(hit(await s.engine.assess(base({ now: hour + (i - 2) * 30_000, apiId })), 'api_breadth'));
  }
  t.notOk(across[1]);
  t.match(across[2]?.reason, /^3 api-ids never used/, 'the third, after the top of the hour');
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

t.test('escalation: calls above step-up that went out unheld (nobody approved them) stay counted, with their follow-up', async (t) => {
  const night = START + 2 * DAY + 14 * 3_600_000; // 23:00 Seoul
  // Each from an address on a network the bot never used.
  const odd = (i: number) =>
    base({ now: night + i * 1000, sourceIp: ['203.0.113.9', '198.51.100.9', '192.0.2.9'][i - 1]!, apiId: 'kt00018', kind: 'account', stkCd: undefined });
  const s = setup();
  t.teardown(s.close);
  await learn(s.engine, days(2));
  for (let i = 1; i <= 2; i++) {
    const input = odd(i);
    const a = await s.engine.assess(input);
    t.ok(a.score > 0.7, `call ${i} above step-up (${a.score})`);
    // Went out unheld (a condition clear, a looser policy threshold): learned, approved by nobody.
    await s.engine.learn(input, { allowed: true, completed: true });
  }
  const third = await s.engine.assess(odd(3));
  t.match(hit(third, 'escalation'), { score: 1, reason: /call 3 above step-up/ }, 'the third escalates');
  t.equal(third.level, 'lockdown');
});

t.test('escalation after a refusal: the next call above step-up locks down once the owner refused a held one', async (t) => {
  const night = START + 2 * DAY + 14 * 3_600_000; // 23:00 Seoul, from a new address: held, not locked
  const odd = (i: number) => base({ now: night + i * 60_000, sourceIp: '203.0.113.9', apiId: 'kt00018', kind: 'account', stkCd: undefined });
  const run = async (raw: Record<string, unknown>, refuse: boolean) => {
    const s = setup(raw);
    t.teardown(s.close);
    await learn(s.engine, days(2));
    const first = await s.engine.assess(odd(1));
    t.ok(first.score > 0.7 && !s.engine.isHighRisk(first), `the first held call (${first.score})`);
    if (refuse) await s.engine.noteRefused('b1', night + 90_000);
    return s.engine.assess(odd(2));
  };
  const refused = await run({}, true);
  t.match(hit(refused, 'escalation')?.reason, /call above step-up \(0\.7\) after 1 of this bot's held calls were refused within 72 h \(threshold 1\)/);
  t.equal(refused.level, 'lockdown');
  const pending = await run({}, false);
  t.notOk(hit(pending, 'escalation'), 'the first hold still awaiting its owner: the second is only the second');
  t.notOk(hit(await run({ escalation: { refusedAfter: 0 } }, true), 'escalation'), 'refusedAfter 0: off');
  t.notOk(hit(await run({ escalation: { refusedAfter: 2 } }, true), 'escalation'), 'one refusal under refusedAfter 2');
});

t.test('after a refusal: any order or modify within refusedOrdersHours locks the bot down, whatever it scores', async (t) => {
  const night = START + 2 * DAY + 14 * 3_600_000; // 23:00 Seoul, from a new address: held, not locked
  const odd = base({ now: night, sourceIp: '203.0.113.9', apiId: 'kt00018', kind: 'account', stkCd: undefined });
  const morning = START + 3 * DAY + 600_000; // 09:10 Seoul the next day, its own address: its usual buy
  const usual = (ms = 0) => buy(morning + ms, 10);
  const run = async (raw: Record<string, unknown>, refuse = true) => {
    const s = setup(raw);
    t.teardown(s.close);
    await learn(
      s.engine,
      days(2, (d, k) => (k % 6 === 0 ? [buy(d + k * 600_000 + 1_000, 10)] : [])),
    );
    t.ok((await s.engine.assess(odd)).score > 0.7, 'the held call');
    if (refuse) await s.engine.noteRefused('b1', night + 60_000);
    return s;
  };
  const quiet = await run({}, false);
  const before = await quiet.engine.assess(usual());
  t.ok(before.score < 0.4, `without a refusal its usual buy goes out (${before.score})`);

  const s = await run({});
  const order = await s.engine.assess(usual());
  t.equal(order.level, 'lockdown', `its usual buy after the refusal (${order.score})`);
  t.ok(s.engine.isHighRisk(order));
  const esc = order.contributions.filter((c) => c.detector === 'escalation');
  t.equal(esc.length, 1, 'counted once (not again as a call above step-up after a refusal)');
  t.match(esc[0]!.reason, /order \d+ min after the owner refused one of this bot's held calls \(any order within 24 h locks it down\)/);
  t.notOk(hit(await s.engine.assess(base({ now: morning + 1_000 })), 'escalation'), 'a quote is not an order');
  t.notOk(hit(await s.engine.assess(base({ now: morning + 2_000, apiId: 'kt10003', kind: 'cancel' })), 'escalation'), 'nor is a cancel');
  t.ok(hit(await s.engine.assess(base({ now: morning + 3_000, apiId: 'kt10002', kind: 'modify', qty: 10, price: 10_000 })), 'escalation'), 'a modify is');
  t.notOk(
    hit(await s.engine.assess({ ...usual(4_000), approvalRetry: true }), 'escalation'),
    "an owner-approved call's retry is the approval stage's to judge",
  );

  const later = await run({});
  t.notOk(hit(await later.engine.assess(usual(DAY)), 'escalation'), 'more than 24 h after the refusal');
  const unlocked = await run({});
  await unlocked.engine.clearEscalation('b1', morning - 1_000);
  t.notOk(hit(await unlocked.engine.assess(usual()), 'escalation'), 'an unlock cleared the escalation: its usual buy goes out');
  const short = await run({ escalation: { refusedOrdersHours: 1 } });
  t.notOk(hit(await short.engine.assess(usual()), 'escalation'), 'refusedOrdersHours 1: ten hours later is past it');
  const off = await run({ escalation: { refusedOrdersHours: 0 } });
  t.notOk(hit(await off.engine.assess(usual()), 'escalation'), 'refusedOrdersHours 0: off');
  const only = await run({ escalation: { refusedAfter: 0 } });
  t.equal((await only.engine.assess(usual())).level, 'lockdown', 'refusedAfter 0 leaves this on');
  const none = await run({ weights: { escalation: 0 } });
  t.notOk(hit(await none.engine.assess(usual()), 'escalation'), 'escalation weight 0: off');
});

t.test('escalation follow: an alert-level call within the hour of a hold the owner has not approved is held too', async (t) => {
  const night = START + 2 * DAY + 14 * 3_600_000; // 23:00 Seoul
  const odd = base({ now: night, sourceIp: '203.0.113.9', apiId: 'kt00018', kind: 'account', stkCd: undefined });
  const quiet = (m: number) => base({ now: night + m * 60_000 }); // its own address, at an hour it never calls: an alert
  const run = async (raw: Record<string, unknown>, approve: boolean, m = 5) => {
    const s = setup(raw);
    t.teardown(s.close);
    await learn(s.engine, days(2));
    s.at(night);
    t.ok((await s.engine.assess(odd)).score > 0.7, 'the held call');
    if (approve) await s.engine.learn(odd, { allowed: true, completed: true });
    s.at(night + m * 60_000);
    return s.engine.assess(quiet(m));
  };
  const off = await run({ escalation: { followMinutes: 0 } }, false);
  t.ok(off.score >= 0.4 && off.score <= 0.7, `alert level on its own (${off.score})`);
  const on = await run({}, false);
  t.ok(on.score > 0.7, `held after an unapproved hold (${on.score})`);
  t.match(hit(on, 'escalation')?.reason, /alert-level call 5 min after a call above step-up the owner has not approved \(within 60 min\)/);
  t.notOk(hit(await run({}, true), 'escalation'), 'the owner approved the hold');
  t.notOk(hit(await run({}, false, 61), 'escalation'), 'more than an hour later');
});

t.test('location: an order from an address first seen seconds ago scores like a new address, fading to 0.6 at 30 min', async (t) => {
  const s = setup();
  t.teardown(s.close);
  // Two known addresses (a pod that moves), then a balance read from a third that nobody held.
  await learn(s.engine, [...days(2), ...days(1).map((i) => ({ ...i, now: (i.now as number) + 2 * DAY, sourceIp: '10.0.0.6' }))]);
  const now = START + 3 * DAY + 3_600_000;
  const read = base({ now, apiId: 'kt00018', kind: 'account', stkCd: undefined, sourceIp: '203.0.113.44' });
  t.equal(hit(await s.engine.assess(read), 'location')?.score, 1, 'the read: a new address');
  await s.engine.learn(read, { allowed: true, completed: true });
  const order = (ms: number) => ({ ...sell(now + ms, 10, 100), sourceIp: '203.0.113.44' });
  const at0 = hit(await s.engine.assess(order(8_000)), 'location');
  t.ok(at0 && at0.score > 0.99, `8 s later the order scores like a new address (${at0?.score})`);
  t.match(at0!.reason, /order from source 203\.0\.113\.44 first seen 0 min ago/);
  t.equal(hit(await s.engine.assess(order(15 * 60_000)), 'location')?.score, 0.8, 'halfway: 0.8');
  t.notOk(hit(await s.engine.assess(order(31 * 60_000)), 'location'), 'after 30 min it is a known address');
});

t.test('approval grace: after the owner approves a held call, the same flags are not held again for 30 min', async (t) => {
  // The addresses below are in networks the bot never used: network's own grace is in risk-network.test.ts.
  const s = setup({ weights: { network: 0 } });
  t.teardown(s.close);
  const trader = (n: number) => days(n, (d, k) => (k % 3 === 0 ? [buy(d + k * 600_000 + 1000, 10)] : []));
  await learn(s.engine, trader(2));
  const now = START + 2 * DAY + 3_600_000;
  const fresh = (i: number, stkCd: string) => base({ now: now + i * 10_000, apiId: 'kt10000', kind: 'order', side: 'buy', qty: 10, price: 10_000, stkCd });
  const first = fresh(0, '000100');
  const a1 = await s.engine.assess(first);
  t.ok(a1.score > 0.7, `a first order in a never-seen symbol is held (${a1.score})`);
  await s.engine.learn(first, { allowed: true, completed: true, approved: true });
  const a2 = await s.engine.assess(fresh(1, '000200'));
  t.equal(a2.score, 0.7, 'the next new symbol: not above step-up');
  t.match(hit(a2, 'new_symbol')?.reason, /\[owner approved a call flagged by new_symbol at 2026-01-07T01:00:00.000Z: not held again within 30 min\]/);
  const other = await s.engine.assess({ ...fresh(2, '000300'), sourceIp: '203.0.113.7' });
  t.ok(other.score > 0.7, `a flag the approved call did not have is held (${other.score})`);
  s.at(now + 31 * 60_000); // the Store's clock: the grace key expires
  const late = await s.engine.assess({ ...fresh(0, '000400'), now: now + 31 * 60_000 });
  t.ok(late.score > 0.7, 'after the grace window it is held again');

  // The same flags from another address are other evidence: an owner approving a call from a new address
  // does not wave through a different new address within the grace.
  const away = (i: number, stkCd: string, sourceIp: string) => ({ ...fresh(i, stkCd), now: now + 40 * 60_000 + i * 10_000, sourceIp });
  s.at(now + 40 * 60_000);
  const trip = away(0, '000500', '198.51.100.60');
  const t1 = await s.engine.assess(trip);
  t.ok(t1.score > 0.7 && hit(t1, 'location') && hit(t1, 'new_symbol'), `a new symbol from a new address is held (${t1.score})`);
  await s.engine.learn(trip, { allowed: true, completed: true, approved: true });
  const same = await s.engine.assess(away(1, '000600', '198.51.100.60'));
  t.equal(same.score, 0.7, 'from the approved address, nothing new: not held');
  const elsewhere = await s.engine.assess(away(2, '000700', '198.51.100.61'));
  t.ok(
    hit(elsewhere, 'location') && hit(elsewhere, 'new_symbol') && elsewhere.score > 0.7,
    `the same flags from another new address are held (${elsewhere.score})`,
  );
  t.notMatch(JSON.stringify(elsewhere.contributions), /owner approved/);

  const off = setup({ approvalGrace: { minutes: 0 }, weights: { network: 0 } });
  t.teardown(off.close);
  await learn(off.engine, trader(2));
  const o1 = fresh(0, '000100');
  await off.engine.assess(o1);
  await off.engine.learn(o1, { allowed: true, completed: true, approved: true });
  t.ok((await off.engine.assess(fresh(1, '000200'))).score > 0.7, 'minutes 0: no grace');
});

/** A bot that buys 10 at 10,000 every half hour for two days; `fresh(ms, stkCd)` is a buy of a symbol it never used, ms after that. */
async function warmBuyer(t: Test) {
  const s = setup({ weights: { network: 0 } });
  t.teardown(s.close);
  await learn(
    s.engine,
    days(2, (d, k) => (k % 3 === 0 ? [buy(d + k * 600_000 + 1000, 10)] : [])),
  );
  const now = START + 2 * DAY + 3_600_000;
  const fresh = (ms: number, stkCd: string) => base({ now: now + ms, apiId: 'kt10000', kind: 'order', side: 'buy', qty: 10, price: 10_000, stkCd });
  return { s, fresh };
}

t.test('approval grace: a call above step-up that went out unapproved opens none', async (t) => {
  // A condition clear goes out at any score below lockdown (the policy is not asked); a policy may set its own
  // step-up above the engine's. Either way nobody approved it: the next call with the same flags is held.
  const { s, fresh } = await warmBuyer(t);
  const first = fresh(0, '000100');
  t.ok((await s.engine.assess(first)).score > 0.7, 'above step-up');
  await s.engine.learn(first, { allowed: true, completed: true });
  const next = await s.engine.assess(fresh(10_000, '000200'));
  t.ok(next.score > 0.7, `the same flags again are held (${next.score})`);
  t.notMatch(JSON.stringify(next.contributions), /owner approved/);
});

t.test("approval grace ends by the engine's clock, not by its key's life in the Store", async (t) => {
  // A Store on another clock (a replay at accelerated time, the sidecar's store on real time) keeps the key.
  const { s, fresh } = await warmBuyer(t);
  const first = fresh(0, '000100');
  t.ok((await s.engine.assess(first)).score > 0.7, 'held');
  await s.engine.learn(first, { allowed: true, completed: true, approved: true });
  t.equal((await s.engine.assess(fresh(10_000, '000200'))).score, 0.7, 'within the grace: not held');
  const late = await s.engine.assess(fresh(31 * 60_000, '000300'));
  t.ok(late.score > 0.7, `31 min later by the engine's clock: held again (${late.score})`);
  t.notMatch(JSON.stringify(late.contributions), /owner approved/);
});

t.test('stuffing: secrets of three bots failing from one source, or a wide wave including this bot', async (t) => {
  const s = setup();
  t.teardown(s.close);
  const now = START + 600_000;
  for (const bot of ['x1', 'x2', 'x2', 'x3']) await s.engine.noteAuthFailure(bot, '198.51.100.4', now);
  const a = await s.engine.assess(base({ botId: 'x9', now: now + 1000, sourceIp: '198.51.100.4' }));
  t.match(hit(a, 'stuffing')?.reason, /source 198\.51\.100\.4 failed the secrets of 3 bots within 10 min/);
  t.equal(hit(a, 'stuffing')?.score, 0.9, 'at the threshold: 0.9, a step-up on its own (weight 0.8)');
  t.ok(a.score > 0.7, `the call is stepped up (${a.score})`);
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
  const text = formatExplanation(e, 'en');
  t.match(text, /risk score 0\.97 \(lockdown\)/);
  t.match(text, /sell_off\s+score 1\.00 x weight 0\.80 = 0\.80\s+sells 100% of the position/);
  t.match(text, /learned model\s+anomaly 0\.21 at weight 0 \(shadow: adds nothing\); driven by sell_fraction 0\.667 \(60%\)/);
  t.notOk(explanationOf(rec({ requestId: 'req-2', risk }), 'req-1'), 'another request');
  t.ok(explanationOf(rec({ botId: 'b1', trigger: { ...risk, requestId: 'req-1' } }, 'lockdown.engaged'), 'req-1'), 'the lockdown it triggered');
});
