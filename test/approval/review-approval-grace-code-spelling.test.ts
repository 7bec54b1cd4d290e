// Review regression (parser differential): the approval grace holds an order a
// size detector flags to the approved order's shares when it is the same stock
// ("less KRW but more shares of the same stock" is not what the owner saw). It
// compared the codes as the bot spelt them, while the policy, the rest of the
// risk engine and Kiwoom read 900131, A900131 and 900131_AL as one stock: the
// next order, spelt A900131, with more shares at a lower price than the one
// the owner approved, went out unheld as "owner approved".
import t from 'tap';
import type { Test } from 'tap';
import { riskContributions } from '../helpers/audit-sidecar-log.js';
import { enrolApprover } from '../helpers/approvers.js';
import { CANARY, waitFor } from '../helpers/harness.js';
import { RISK_START, warmTraderHarness } from '../helpers/risk-setups.js';

const CODE = '900131';

/** The approved order, then `spelt`: 130 shares at 770, about the approved KRW (100,100 against 100,000) but 1.3 times its shares. */
async function afterApproval(t: Test, spelt: string, venue: string): Promise<void> {
  const clock = { now: RISK_START };
  const { h, auditDir, token } = await warmTraderHarness(clock, { bought: CODE });
  t.teardown(() => h.close());
  const approvers = await enrolApprover(t, h);
  const buy = (stkCd: string, qty: number, price: number, dmst = 'KRX') => ({
    dmst_stex_tp: dmst,
    stk_cd: stkCd,
    ord_qty: String(qty),
    ord_uv: String(price),
    trde_tp: '0',
  });

  // Ten times the bot's usual 10 shares: held for the owner, approved, and sent again with the approval id.
  const big = buy(CODE, 100, 1_000);
  const held = await h.call('kt10000', big, { token });
  t.equal(held.status, 202, `the large order is held: ${held.text}`);
  const flagged = (await riskContributions(auditDir, String(held.headers['x-kguard-request-id']))).map((c) => c.detector);
  t.ok(flagged.includes('order_size'), `flagged for its size: ${flagged.join(', ')}`);
  const id = String(held.headers['x-kguard-approval-id']);
  t.equal((await approvers.approve(id)).status, 200, 'the owner approves it');
  const sent = await h.call('kt10000', big, { token, headers: { 'x-kguard-approval-id': id } });
  t.equal(sent.json.return_code, 0, `the approved order goes out: ${sent.text}`);
  // The grace opens when the approved call is learned, after the bot has its answer.
  await waitFor(async () => (await h.sidecar.parts.store.get(`risk:grace:${h.botId}`)) !== null, 10_000, 'the approval grace');

  clock.now += 60_000;
  const more = await h.call('kt10000', buy(spelt, 130, 770, venue), { token });
  const judged = await riskContributions(auditDir, String(more.headers['x-kguard-request-id']));
  t.same(
    judged.map((c) => c.detector),
    ['order_size'],
    `${spelt}: flagged for its size alone, as the approved order was: ${JSON.stringify(judged)}`,
  );
  t.notMatch(JSON.stringify(judged), /승인함|owner approved/, `${spelt}: no approval is claimed for more shares of the same stock`);
  t.equal(more.status, 202, `${spelt}: held for the owner: ${more.text}`);
  t.notOk(
    h.sim.orders(CANARY.account).some((o) => o.qty === 130),
    `${spelt}: the order did not reach the broker`,
  );
}

t.test('more shares of the approved stock spelt A900131 (as balance rows spell it) are held again, not waved through', (t) =>
  afterApproval(t, `A${CODE}`, 'KRX'),
);
t.test('more shares of the approved stock spelt 900131_AL (smart routing) are held again, not waved through', (t) => afterApproval(t, `${CODE}_AL`, 'SOR'));
t.test('the same spelling, for comparison: held by the rule the other spellings dodged', (t) => afterApproval(t, CODE, 'KRX'));
