// The average daily volume learned from daily charts: completed days only
// (today's row is partial), at least advMinDays of them, shared through the
// Store for advTtlHours, and read by the engine for buys only.
import t from 'tap';
import { averageDailyVolume } from '../../proxy/risk/market-volume.js';
import { RISK_START, riskEngineSetup, riskInput } from '../helpers/risk-setups.js';

const HOUR = 3_600_000;
// RISK_START is 2026-01-05 09:00 Seoul.
const days = (n: number, shares: (i: number) => number) =>
  Array.from({ length: n }, (_, i) => ({ day: `202512${String(31 - i).padStart(2, '0')}`, shares: shares(i) }));

t.test('averageDailyVolume: completed days, the 20 most recent, at least advMinDays', async (t) => {
  const today = { day: '20260105', shares: 1 };
  t.equal(averageDailyVolume([today, ...days(5, () => 1000)], RISK_START, 5), 1000, "today's partial row left out");
  t.equal(
    averageDailyVolume(
      days(4, () => 1000),
      RISK_START,
      5,
    ),
    undefined,
    'fewer completed days than advMinDays',
  );
  t.equal(
    averageDailyVolume(
      days(30, (i) => (i < 20 ? 100 : 1_000_000)),
      RISK_START,
      5,
    ),
    100,
    'the 20 most recent days',
  );
  t.equal(
    averageDailyVolume([...days(5, () => 10), { day: 'x', shares: 5 }, { day: '20251201', shares: Number.NaN }], RISK_START, 5),
    10,
    'malformed rows ignored',
  );
  const june = Array.from({ length: 20 }, (_, i) => ({ day: `202506${String(30 - i).padStart(2, '0')}`, shares: 1_000_000 }));
  t.equal(averageDailyVolume(june, RISK_START, 5), undefined, "a chart of a past base_dt is not today's market");
  t.equal(averageDailyVolume([...days(5, () => 100), ...june], RISK_START, 5), 100, 'days over 45 days old left out');
});

t.test('the engine judges a buy against the learned volume, for advTtlHours; sells and bad codes are not', async (t) => {
  const s = riskEngineSetup({ pattern: { advTtlHours: 2 } });
  t.teardown(() => s.close());
  const order = (side: 'buy' | 'sell', qty: number, now = RISK_START) =>
    riskInput({ now, apiId: side === 'buy' ? 'kt10000' : 'kt10001', kind: 'order', side, stkCd: '900107', qty, price: 1_000 });
  const drain = async (i: ReturnType<typeof order>) => (await s.engine.assess(i)).contributions.find((c) => c.detector === 'drain');
  t.equal(await drain(order('buy', 2_000)), undefined, 'nothing learned: not judged');
  t.equal(
    await s.engine.noteDailyVolume(
      'junk!',
      days(20, () => 20_000),
      RISK_START,
    ),
    undefined,
    'not a stock code: nothing stored',
  );
  t.equal(
    await s.engine.noteDailyVolume(
      '900107_NX',
      days(20, () => 20_000),
      RISK_START,
    ),
    20_000,
    'learned under the base code',
  );
  t.match(await drain(order('buy', 2_000)), { score: 1, reason: /buy of 2000 is 10% of the symbol's daily volume \(illiquid\)/ });
  t.equal(await drain(order('buy', 500)), undefined, '2.5% is within illiquidAdvFraction (5%)');
  t.equal(await drain(order('sell', 2_000)), undefined, 'sells are judged on the position, not the volume');
  s.at(RISK_START + 3 * HOUR);
  t.equal(await drain(order('buy', 2_000, RISK_START + 3 * HOUR)), undefined, 'after advTtlHours the volume is forgotten');
});
