// risk.holidays took any YYYY-MM-DD, so a date no calendar has (2026-02-30, 2026-13-01, an exchange holiday typed
// with the day and month swapped) loaded fine and matched no day: orders on the holiday meant were never scored
// by the session detector, with nothing said at start. Such a date is now refused, naming its place.
import t from 'tap';
import { parseRiskConfig } from '../../proxy/risk/index.js';

t.test('a date no calendar has is refused at its index', async (t) => {
  for (const [i, bad] of [
    [0, '2026-02-30'],
    [1, '2026-13-01'],
    [1, '2026-00-10'],
    [1, '2027-02-29'],
    [1, '2026-04-31'],
  ] as const) {
    const holidays = i === 0 ? [bad] : ['2026-01-01', bad];
    t.throws(() => parseRiskConfig({ holidays }), new RegExp(`risk\\.holidays\\[${i}\\]: "${bad}" is not a calendar date`), bad);
  }
});

t.test('calendar dates load, a leap day included', async (t) => {
  const c = parseRiskConfig({ holidays: ['2026-01-01', '2028-02-29', '2026-12-31'] });
  t.same([...c.holidays], ['2026-01-01', '2028-02-29', '2026-12-31']);
});
