// Review regression (red team): the approval grace must not turn one approved
// outsized order into a licence for any size. A trader's bot buys ten shares
// at 1,000 KRW; the owner approves a buy of twenty (held by order_size alone).
// Within the grace the same buy again goes out, but a buy of two thousand, or
// of twenty at a higher price, flagged by nothing but order_size again (whose
// score saturates), is a decision the owner never saw: held, not waved through.
import t from 'tap';
import { riskContributions } from '../helpers/audit-sidecar-log.js';
import { enrolApprover } from '../helpers/approvers.js';
import { CANARY, waitFor } from '../helpers/harness.js';
import { RISK_START, warmTraderHarness } from '../helpers/risk-setups.js';

const CODE = '900121';
const buy = (qty: number, price: number) => ({ dmst_stex_tp: 'KRX', stk_cd: CODE, ord_qty: String(qty), ord_uv: String(price), trde_tp: '0' });

for (const [what, qty, price] of [
  ['a hundred times the approved quantity', 2000, 1000],
  ['the approved quantity at a higher price (more KRW)', 20, 1500],
] as const) {
  t.test(`within the approval grace, ${what}, flagged by the same detector, is held again`, async (t) => {
    const clock = { now: RISK_START };
    const { h, auditDir, token } = await warmTraderHarness(clock, { bought: CODE });
    t.teardown(() => h.close());
    const { approve } = await enrolApprover(t, h);
    const flags = async (r: { headers: Record<string, unknown> }) =>
      (await riskContributions(auditDir, String(r.headers['x-kguard-request-id']))).map((c) => c.detector);

    const held = await h.call('kt10000', buy(20, 1000), { token });
    t.equal(held.status, 202, `twice the usual buy is held: ${held.text}`);
    t.same(await flags(held), ['order_size'], 'by order_size alone');
    const id = String(held.headers['x-kguard-approval-id']);
    t.equal((await approve(id)).status, 200, 'the owner approves twenty shares at 1,000 KRW');
    const retry = await h.call('kt10000', buy(20, 1000), { token, headers: { 'x-kguard-approval-id': id } });
    t.equal(retry.json.return_code, 0, `the approved buy goes out: ${retry.text}`);
    // The grace opens when the approved call is learned, after the bot has its answer.
    await waitFor(async () => (await h.sidecar.parts.store.get(`risk:grace:${h.botId}`)) !== null, 10_000, 'the approval grace');

    clock.now += 60_000;
    const same = await h.call('kt10000', buy(20, 1000), { token });
    t.equal(same.json.return_code, 0, `the approved buy again, within the grace, goes out: ${same.text}`);

    clock.now += 60_000;
    const larger = await h.call('kt10000', buy(qty, price), { token });
    t.same(await flags(larger), ['order_size'], 'flagged by order_size alone, as the approved buy was');
    t.equal(larger.status, 202, `held again: ${larger.text}`);
    t.notOk(
      h.sim.orders(CANARY.account).some((o) => o.stkCd === CODE && o.qty === qty && o.price === price),
      'the larger order did not reach the broker',
    );
  });
}
