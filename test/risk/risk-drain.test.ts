// drain's count of whole positions sold in a Seoul day: a liquidation paced
// over hours (one position every 15 to 25 minutes) never sells many symbols
// within one drain window, but it sells more whole positions in a day than
// the bot ever did. On the engine with a memory Store.
import t from 'tap';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createRiskEngine, parseRiskConfig, type RiskAssessment, type RiskInput } from '../../proxy/risk/index.js';
import { RISK_START, riskEngineSetup, riskInput } from '../helpers/risk-setups.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
/** The nth symbol: every position sold in a test is another one. */
const symbol = (n: number): string => String(100_000 + n);

const read = (now: number): RiskInput => riskInput({ now, apiId: 'kt00018', kind: 'account', stkCd: undefined });
/** The balance inquiry that shows 100 shares of the nth symbol, and the sell of all of them a second later. */
const close = (now: number, n: number): RiskInput[] => [
  read(now - 1_000),
  riskInput({ now, apiId: 'kt10001', kind: 'order', side: 'sell', stkCd: symbol(n), qty: 100, price: 10_000, holdingQty: 100 }),
];
const dayRule = (a: RiskAssessment) => a.contributions.find((c) => c.detector === 'drain' && /whole position, \d+ today/.test(c.reason));
const partsRule = (a: RiskAssessment) => a.contributions.find((c) => c.detector === 'drain' && /part of a position/.test(c.reason));
/** The balance inquiry that shows 100 shares of the nth symbol, and the sell of `qty` of them a second later. */
const sellPart = (now: number, n: number, qty = 30): RiskInput[] => [
  read(now - 1_000),
  riskInput({ now, apiId: 'kt10001', kind: 'order', side: 'sell', stkCd: symbol(n), qty, price: 10_000, holdingQty: 100 }),
];

type Setup = ReturnType<typeof riskEngineSetup>;

/** Judges `input` at its time (the Store's clock too, so what expires there expires). */
function assess(s: Setup, input: RiskInput): Promise<RiskAssessment> {
  s.at(Number(input.now));
  return s.engine.assess(input);
}

/** Learns `inputs` as calls that went out, each judged first (as the pipeline does: one held went out approved). */
async function learn(s: Setup, inputs: RiskInput[]): Promise<void> {
  for (const i of inputs) {
    const a = await assess(s, i);
    await s.engine.learn(i, { allowed: true, completed: true, approved: a.level !== 'none' && a.level !== 'alert' });
  }
}

/**
 * A swing trader's days, learned: quotes every 10 minutes from 09:00 and, on day d, `closesOn[d]` whole positions
 * sold an hour apart from 10:00. Returns the start (09:00) of the day after.
 */
async function swingDays(s: Setup, closesOn: readonly number[]): Promise<number> {
  let sold = 0;
  for (const [d, closes] of closesOn.entries()) {
    const start = RISK_START + d * DAY;
    const calls: RiskInput[] = [];
    for (let k = 0; k < 36; k++) calls.push(riskInput({ now: start + k * 600_000 + 1 }));
    for (let c = 0; c < closes; c++) calls.push(...close(start + (1 + c) * HOUR, sold++));
    await learn(
      s,
      calls.sort((a, b) => Number(a.now) - Number(b.now)),
    );
  }
  return RISK_START + closesOn.length * DAY;
}

t.test('the third whole position of a day from a bot that never sold more than two is held; the first two are not', async (t) => {
  const s = riskEngineSetup();
  t.teardown(s.close);
  const day = await swingDays(s, [1, 1, 1, 2]);
  for (const n of [0, 1]) {
    const [r, sell] = close(day + (1 + n) * 1.5 * HOUR, 10 + n);
    await learn(s, [r!]);
    const a = await assess(s, sell!);
    t.notOk(dayRule(a), `whole position ${n + 1} of the day`);
    // Held (a symbol it never traded) and approved by its owner.
    await s.engine.learn(sell!, { allowed: true, completed: true, approved: a.level === 'step_up' });
  }
  const [r, third] = close(day + 5 * HOUR, 12);
  await learn(s, [r!]);
  const a = await assess(s, third!);
  const hit = dayRule(a);
  t.ok(hit, 'the third');
  t.equal(hit!.score, 0.8);
  t.equal(hit!.reason, 'sells a whole position, 3 today; its busiest learned day sold 2 (threshold 3)');
  t.ok(a.score > 0.7, `held for approval (score ${a.score})`);
  t.equal(a.level === 'lockdown', false, 'not locked down on this alone');
  // Twice the threshold scores 1.
  let last = a;
  for (let n = 4; n <= 6; n++) last = await assess(s, close(day + (2 + n) * HOUR, 10 + n)[1]!);
  t.equal(dayRule(last)!.score, 1, 'the sixth scores 1');
});

t.test("a bot's busiest learned day raises the threshold (1.5 times it)", async (t) => {
  const s = riskEngineSetup();
  t.teardown(s.close);
  const day = await swingDays(s, [4, 1, 1, 1]);
  // Decayed once a day after the busiest: 4, 3.88, 3.76 → ceil(1.5 x 3.76) = 6.
  for (let n = 0; n < 5; n++) {
    const a = await assess(s, close(day + (1 + n) * HOUR, 10 + n)[1]!);
    t.notOk(dayRule(a), `whole position ${n + 1}`);
  }
  const sixth = dayRule(await assess(s, close(day + 7 * HOUR, 20)[1]!));
  t.match(sixth?.reason, /6 today; its busiest learned day sold 3\.76 \(threshold 6\)/);
});

t.test('counted when judged: closes held or refused count, and every replica counts the same day', async (t) => {
  const s = riskEngineSetup();
  t.teardown(s.close);
  const day = await swingDays(s, [1, 1, 1, 1]);
  // A second engine on the same Store: another replica.
  const replica = createRiskEngine({
    config: parseRiskConfig({}),
    store: s.store,
    registry: new Registry(),
    logger: pino({ level: 'silent' }),
    now: () => day,
    language: 'en',
  });
  t.notOk(dayRule(await assess(s, close(day + HOUR, 0)[1]!)), 'the first, judged and never sent');
  t.notOk(dayRule(await replica.assess(close(day + 2 * HOUR, 1)[1]!)), 'the second, on the other replica');
  const third = close(day + 3 * HOUR, 2)[1]!;
  t.match(dayRule(await assess(s, third))?.reason, /3 today/, 'the third');
  // Held, approved, and sent again with its approval id: the same sell, not a fourth.
  t.match(dayRule(await assess(s, { ...third, approvalRetry: true }))?.reason, /3 today/, 'its approval retry is still the third');
  t.match(dayRule(await assess(s, close(day + 4 * HOUR, 20)[1]!))?.reason, /4 today/, 'the next sell is the fourth');
});

t.test('not judged in warm-up, nor for a partial sell; drainDayCloses 0 turns it off, 1 is refused', async (t) => {
  const fresh = riskEngineSetup();
  t.teardown(fresh.close);
  for (let n = 0; n < 3; n++) {
    const [r, sell] = close(RISK_START + (1 + n) * HOUR, n);
    await learn(fresh, [r!]);
    t.notOk(dayRule(await assess(fresh, sell!)), `a bot seen for ${n + 1} hours: whole position ${n + 1}`);
  }

  const off = riskEngineSetup({ pattern: { drainDayCloses: 0 } });
  t.teardown(off.close);
  const day = await swingDays(off, [1, 1, 1, 1]);
  for (let n = 0; n < 4; n++) t.notOk(dayRule(await assess(off, close(day + (1 + n) * HOUR, n)[1]!)), `off: whole position ${n + 1}`);

  const s = riskEngineSetup();
  t.teardown(s.close);
  const d = await swingDays(s, [1, 1, 1, 1]);
  const half = (n: number) =>
    riskInput({ now: d + n * HOUR, apiId: 'kt10001', kind: 'order', side: 'sell', stkCd: symbol(n), qty: 50, price: 10_000, holdingQty: 100 });
  for (let n = 1; n <= 4; n++) t.notOk(dayRule(await assess(s, half(n))), `half of a position, ${n} today`);

  t.throws(() => parseRiskConfig({ pattern: { drainDayCloses: 1 } }), /drainDayCloses: must be 0 \(off\) or at least 2/);
  t.throws(() => parseRiskConfig({ pattern: { drainDayFactor: 0.5 } }), /drainDayFactor/);
});

t.test('a bot that only ever sold whole positions selling parts of three in a day: the third is held', async (t) => {
  const s = riskEngineSetup();
  t.teardown(s.close);
  // Four learned sells, each of a whole position: under the five sell_off needs to judge a share.
  const day = await swingDays(s, [1, 1, 1, 1]);
  for (const n of [0, 1]) {
    const [r, sell] = sellPart(day + (1 + n) * HOUR, 10 + n);
    await learn(s, [r!]);
    t.notOk(partsRule(await assess(s, sell!)), `part ${n + 1} of the day`);
    // It goes out and is learned: today's parts do not make the bot one that sells parts.
    await s.engine.learn(sell!, { allowed: true, completed: true });
  }
  const [r, third] = sellPart(day + 3 * HOUR, 12);
  await learn(s, [r!]);
  const a = await assess(s, third!);
  const hit = partsRule(a);
  t.equal(hit?.score, 0.8, 'the third');
  t.equal(hit?.reason, 'sells part of a position, 3 today; each of its 4 learned sells sold a whole position (threshold 3)');
  t.ok(a.score > 0.7, `held for approval (score ${a.score})`);
  t.notOk(dayRule(a), 'a part is not a whole position');
});

t.test('parts sold by a bot that ever sold a part are judged by sell_off, not counted here; drainDayParts 0 turns it off', async (t) => {
  const s = riskEngineSetup();
  t.teardown(s.close);
  const day = await swingDays(s, [1, 1, 1]);
  const [r0, part] = sellPart(day - DAY + 5 * HOUR, 9, 50);
  await learn(s, [r0!, part!]);
  for (let n = 1; n <= 4; n++) {
    const [r, sell] = sellPart(day + n * HOUR, 10 + n);
    await learn(s, [r!]);
    t.notOk(partsRule(await assess(s, sell!)), `part ${n} of the day`);
  }

  const off = riskEngineSetup({ pattern: { drainDayParts: 0 } });
  t.teardown(off.close);
  const d = await swingDays(off, [1, 1, 1, 1]);
  for (let n = 1; n <= 4; n++) t.notOk(partsRule(await assess(off, sellPart(d + n * HOUR, 10 + n)[1]!)), `off: part ${n}`);
  t.throws(() => parseRiskConfig({ pattern: { drainDayParts: 1 } }), /drainDayParts: must be 0 \(off\) or at least 2/);
});

t.test('a baseline written before whole positions were counted per day: not judged until a day of them is counted', async (t) => {
  const s = riskEngineSetup();
  t.teardown(s.close);
  // A scalper-like history of whole closes (six a day), then its day counts taken out as an older version wrote it.
  const day = await swingDays(s, [6, 6, 6, 6]);
  const raw = JSON.parse((await s.store.get('risk:baseline:b1'))!) as Record<string, unknown>;
  t.ok(raw.closes, 'the day count is kept in the baseline');
  delete raw.closes;
  delete raw.parts;
  await s.store.set('risk:baseline:b1', JSON.stringify(raw));
  for (let n = 1; n <= 4; n++) {
    const [r, sell] = close(day + n * HOUR, 30 + n);
    await learn(s, [r!]);
    t.notOk(dayRule(await assess(s, sell!)), `upgraded baseline: whole position ${n} of the day`);
    await s.engine.learn(sell!, { allowed: true, completed: true });
  }
  // The next day has one counted day behind it (four), so its threshold is 6.
  const next = day + DAY;
  for (let n = 1; n <= 6; n++) {
    const [r, sell] = close(next + n * HOUR, 40 + n);
    await learn(s, [r!]);
    const hit = dayRule(await assess(s, sell!));
    if (n < 6) t.notOk(hit, `next day: whole position ${n}`);
    else t.match(hit?.reason, /6 today; its busiest learned day sold 4 \(threshold 6\)/, 'next day: the sixth');
    await s.engine.learn(sell!, { allowed: true, completed: true });
  }
});
