// A kill switch cancels open orders even while Kiwoom's revoke endpoint is
// down: a token whose revoke failed is still live at Kiwoom (one token per
// app key), so the lockdown's cancel-all uses it instead of waiting for a
// revoke that will not come (KG5008). The revoke is retried, and once Kiwoom
// accepts it the token is gone. Through the real sidecar over HTTP, against
// the simulator told to fail every revoke; default session wait and revoke
// retries.
import t from 'tap';
import { RESTING_ORDER, stepsOf, revokeStep } from '../helpers/lockdown-steps.js';
import { CANARY, startHarness, waitFor, type Harness } from '../helpers/harness.js';

let h: Harness;
t.before(async () => {
  h = await startHarness({
    // The sweep that retries a failed revoke comes soon; the damage step is not what this test is about.
    config: { brokerTokens: { sweepIntervalMs: 200 }, response: { damage: { deadlineMs: 1_000 }, revokeCheckMs: 100 } },
  });
});
t.teardown(() => h.close());

t.test("a lockdown cancels the bot's open orders while every revoke fails, and the token is revoked once Kiwoom accepts", async (t) => {
  const admin = await h.adminToken('sec-lead', 'admin');
  // Every revoke fails from now on: the token the order was placed with cannot be revoked.
  h.sim.faults.set({ revokeFailNext: 1_000_000 });
  const placed = await h.call('kt10000', RESTING_ORDER);
  t.equal(placed.json.return_code, 0, `a resting order: ${placed.text}`);
  const ordNo = String(placed.json.ord_no);
  t.equal(h.sim.liveTokens(), 1, "the broker holds the key's token");

  const lock = await h.admin('POST', '/admin/v1/lockdown', admin, { bot: h.botId, reason: 'revoke endpoint down' });
  t.equal(lock.status, 201, lock.text.slice(0, 300));
  const steps = stepsOf(lock.json);
  const s3 = steps.find((s) => s.step.startsWith('3 '))!;
  t.ok(s3.ok, `step 3 cancelled and confirmed: ${JSON.stringify(s3)}`);
  const order = h.sim.orders(CANARY.account).find((o) => o.ordNo === ordNo);
  t.equal(order?.status, 'cancelled', `the simulator shows the order cancelled: ${JSON.stringify(order)}`);
  t.equal(h.sim.liveTokens(), 1, 'the revokes still fail: the token is live');

  h.sim.faults.clear();
  await h.waitNoLiveTokens(30_000);
  t.equal(h.sim.liveTokens(), 0, 'revoked once Kiwoom accepted the revoke');
  const report = async () => (await h.admin('GET', `/admin/v1/incidents/${String(lock.json.id)}`, admin)).json;
  await waitFor(async () => revokeStep(await report())?.status === 'done', 10_000, 'step 2 done');
});
