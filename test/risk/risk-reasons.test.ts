// The detectors' reasons in both languages: every reason exists in Korean and
// English (the type makes a missing one a compile error; here each is called),
// the Korean one is Korean, the English one has no Hangul, and both carry the
// figures they were given. An engine without a language speaks Korean, as the
// sidecar does by default.
import pino from 'pino';
import { Registry } from 'prom-client';
import t from 'tap';
import { createRiskEngine, parseRiskConfig } from '../../proxy/risk/index.js';
import { REASONS, type Reasons } from '../../proxy/risk/reasons.js';
import { createMemoryStore } from '../../proxy/state/index.js';
import { RISK_START, riskInput } from '../helpers/risk-setups.js';

/** Arguments for every reason; each carries 37 (a count, minutes or a score) so both texts must show it. */
const SAMPLES: { [K in keyof Reasons]: Parameters<Reasons[K]> } = {
  quietHour: [{ week: { how: 37, weekday: 2 }, hour: 3, seen: 1, expected: 9 }],
  holiday: ['2026-01-37'],
  offSession: ['2026-01-05', '03:37'],
  outsideCidrs: ['203.0.113.37'],
  youngSource: ['203.0.113.37', 5, true],
  newSource: ['203.0.113.37', 2, false],
  newNetwork: [{ network: '203.0.0.0/16', minutes: 37, known: 2, knownClient: true }],
  newClient: [37],
  volume: [{ what: 'krw', x: 37_000_000, times: 12, median: 3_000_000, z: 5.5, zWarn: 3 }],
  newApi: ['ka10037'],
  freshSymbolOrder: ['000037', 4],
  newSymbol: ['000037', true],
  dormantSymbolBuy: [{ symbol: '000037', days: 60, atLeast: true, within: 1, buyDays: 37, dormant: 2 }],
  burstCap: [370, 300],
  burst: [37, 2],
  cancelStorm: [{ count: 37, usual: 1, rejected: 12, rejectedMin: 10 }],
  modeSwitch: [0.37],
  drainSymbols: [37, 5, 5],
  drainKrw: [37_000_000, 1_000_000],
  drainPosition: [100, 37],
  drainDay: [37, 1.94, 3],
  drainDayParts: [37, 4, 3],
  illiquidBuy: [37, 2.5],
  sharedSource: ['203.0.113.37', 5, 60, 3],
  herdRefused: [{ accounts: 37, side: 'sell', symbol: '000660', from: 10, to: 20, threshold: 2 }],
  herdNew: [{ accounts: 37, side: 'buy', symbol: '000660', from: 10, to: 20, scoresFrom: 3, fullAt: 5 }],
  firstSell: [37, 20, 100],
  sellShare: [{ pct: 100, beyond: { qty: 200, upper: 160 }, inBand: 1, total: 37, band: 3, rarePct: 5 }],
  closerPart: [{ pct: 30.1, wholes: 37, min: 2 }],
  sliver: [{ qty: 1, pct: 2, smallest: 37, orders: 9 }],
  sellFloor: [{ pct: 0.8, floorPct: 3.3, belowPct: 1.1, total: 37 }],
  sellCeiling: [{ pct: 30, ceilingPct: 13, abovePct: 26, partial: 37 }],
  sizeZ: [{ side: 'buy', krw: 37_000_000, usual: 1_000_000, z: 6 }],
  envelope: [{ measure: { by: 'qty', qty: 227, max: 150 }, times: 1.5, learned: 37, factor: 1.5, nthToday: 2 }],
  condition: [{ live: true, seq: '7', known: ['1'], breadth: { n: 37, minutes: 60, min: 3 } }],
  accountReads: [37, 10, 20],
  apiBreadth: [37, 60, 3],
  sequence: [
    {
      kind: 'order',
      lead: { kind: 'account', within: 60, from: 5, same: undefined },
      calls: 37,
      days: 9,
      rate: 0.1,
      max: 0.2,
      usual: [{ lead: { kind: 'query', within: 5, same: true }, pct: 97 }],
    },
  ],
  stuffingSource: ['198.51.100.4', 37, 10, 3],
  stuffingWave: [37, 10, 12],
  model: [0.37, 0.2, [{ feature: 'hour', value: 3, share: 0.6 }]],
  warmupCap: ['<reason 37>', 0.7],
  graced: ['<reason 37>', { detectors: ['new_symbol'], at: RISK_START, minutes: 30 }],
  followUp: [37, 60],
  escalationHot: [37, 0.7, 72, 3],
  escalationRefused: [37, 0.7, 72, 1],
  afterRefusal: [37, 24],
};

const HANGUL = /[\uac00-\ud7a3]/;

t.test('every reason in Korean and English, each with its figures', async (t) => {
  for (const key of Object.keys(SAMPLES) as (keyof Reasons)[]) {
    const args = SAMPLES[key] as unknown[];
    const say = (lang: 'ko' | 'en') => (REASONS[lang][key] as (...a: unknown[]) => string)(...args);
    const ko = say('ko');
    const en = say('en');
    t.match(ko, HANGUL, `${key}: Korean (${ko})`);
    t.notMatch(en, HANGUL, `${key}: English (${en})`);
    for (const text of [ko, en]) t.match(text, /37/, `${key}: carries its figure (${text})`);
    t.notMatch(`${ko}${en}`, /undefined|NaN|\[object/, `${key}: nothing unformatted`);
  }
  t.equal(Object.keys(SAMPLES).length, Object.keys(REASONS.ko).length, 'the samples cover every reason');
});

t.test("sequence's one-off past oneOffDays says how long ago and for how long, in both languages", async (t) => {
  const p = { ...SAMPLES.sequence[0], once: { daysAgo: 41, oneOffDays: 30 } };
  const [ko, en] = [REASONS.ko.sequence(p), REASONS.en.sequence(p)];
  t.match(en, /came after that on one day only, 41 days ago \(a one-off is routine for 30 days\)/);
  t.notMatch(en, /none of this bot/, 'not said to be new');
  t.match(ko, /이런 순서는 41일 전 하루뿐 \(하루만 나온 순서는 30일 동안만 평소로 봄\)/);
  t.notMatch(ko, /없음/, 'not said to be new');
});

t.test("sell_off's closer floor for a bot that sells a steady share says so, in both languages", async (t) => {
  const p = { pct: 30, floorPct: 50, belowPct: 35, total: 37, steadyPct: 51.5 };
  t.equal(
    REASONS.en.sellFloor(p),
    'sells 30% of the position; all but two of 37 learned sells sold 50% or more and all but two of its partial sells 51.5% or less (a steady share) (scores under 35%)',
  );
  t.equal(
    REASONS.ko.sellFloor(p),
    '보유 수량의 30% 매도; 학습된 매도 37건 중 두 건을 빼고는 모두 50% 이상, 일부 매도는 두 건을 빼고 모두 51.5% 이하 (일정한 비율) (35% 미만이면 점수)',
  );
});

t.test('an engine without a language explains in Korean; language en in English', async (t) => {
  const store = createMemoryStore({ now: () => RISK_START });
  t.teardown(() => store.close());
  const mk = (language?: 'en') =>
    createRiskEngine({
      config: parseRiskConfig({}),
      store,
      registry: new Registry(),
      logger: pino({ level: 'silent' }),
      now: () => RISK_START,
      ...(language ? { language } : {}),
    });
  // An order outside market sessions scores on the session detector from the first call.
  const night = riskInput({ now: RISK_START - 8 * 3_600_000, apiId: 'kt10000', kind: 'order', side: 'buy', qty: 1, price: 70_000 });
  const reasonOf = async (e: ReturnType<typeof mk>) => (await e.assess(night)).contributions.find((c) => c.detector === 'session')?.reason;
  t.match(await reasonOf(mk()), /^장 운영 시간 밖의 주문 \(서울 2026-01-05 01:00\)$/);
  t.match(await reasonOf(mk('en')), /^order outside market sessions \(2026-01-05 01:00 Seoul\)$/);
});
