// The price collar (and the KRW of a market order) is judged against a
// reference price. An NXT order was judged against the KRX quote (ka10001 of
// 005930), which outside KRX hours (NXT's 08:00-08:50 and 15:30-20:00) is
// the KRX close while NXT trades on: after news, an honest NXT order at
// NXT's price was refused and a fat finger near the stale KRX close passed.
// The reference is now the quote of the order's own venue: 005930_NX for
// NXT, 005930_AL for SOR, as Kiwoom spells them.
import t from 'tap';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startHarness, FIXTURES } from '../helpers/harness.js';

const order = (venue: string, price: number) => ({ dmst_stex_tp: venue, stk_cd: '005930', ord_qty: '1', ord_uv: String(price), trde_tp: '0' });

t.test("a limit order is collared against its own venue's price", async (t) => {
  const policyFile = path.join(FIXTURES, '..', '..', 'tmp', `venue-reference-${process.pid}.yaml`);
  await mkdir(path.dirname(policyFile), { recursive: true });
  await writeFile(
    policyFile,
    `${await readFile(path.join(FIXTURES, 'policy-open.yaml'), 'utf8')}  - { id: collar, type: price-collar, maxDeviationPercent: 5 }\n`,
  );
  t.teardown(() => rm(policyFile, { force: true }));
  const h = await startHarness({ policyFile });
  t.teardown(() => h.close());
  // KRX closed at 74,100; NXT's after-hours market has moved to 80,000 (+8%).
  h.sim.setVenueQuote('005930_NX', 80_000);
  t.equal(h.sim.quote('005930_NX'), 80_000);
  t.equal(h.sim.quote('005930'), 74_100, 'the KRX quote is unchanged');

  const nxt = await h.call('kt10000', order('NXT', 80_000));
  t.equal(nxt.json.return_code, 0, `an NXT buy at NXT's price goes out: ${nxt.text}`);
  const stale = await h.call('kt10000', order('NXT', 74_100));
  t.equal(stale.status, 403, 'an NXT buy at the stale KRX close is 7.4% off NXT');
  t.match(String(stale.json.return_msg), /KG3001:rule=collar .*NXT 기준가 80,000원/, 'names the rule and the NXT reference');
  const krx = await h.call('kt10000', order('KRX', 80_000));
  t.equal(krx.status, 403, 'a KRX buy at 80,000 is still 8% off the KRX price');
  t.match(String(krx.json.return_msg), /KG3001:rule=collar.*74,100/);
  // SOR routes between both: judged against its own code's quote (005930_AL).
  h.sim.setVenueQuote('005930_AL', 77_000);
  const sor = await h.call('kt10000', order('SOR', 80_000));
  t.equal(sor.json.return_code, 0, `an SOR buy 3.9% off the SOR quote (8% off KRX) goes out: ${sor.text}`);
});
