// A lockdown whose cancels went through but whose confirming listing then
// failed (Kiwoom answering 5xx to ka10075 for every retry, as it does when
// overloaded during an incident) threw the whole account's report away: the
// incident said the account's open orders could not be listed and that 0
// orders were cancelled, though Kiwoom had just cancelled them all. The
// responder, reconciling, would look for orders that were gone and count
// none of the cancels. The account's report now keeps what was listed and
// cancelled, says the confirmation failed (so still not confirmed, and
// retried), and names the orders whose cancel failed. Through the real
// sidecar over HTTP against the simulator.
import t from 'tap';
import { RESTING_ORDER, stepsOf } from '../helpers/lockdown-steps.js';
import { CANARY, startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
t.before(async () => {
  h = await startHarness({ config: { response: { damage: { deadlineMs: 1_000 }, cancel: { retryIntervalMs: 0 } } } });
});
t.teardown(() => h.close());

interface CancelRecord {
  viaBot: string;
  listed?: number;
  cancelled?: number;
  confirmed?: boolean;
  error?: string;
}

t.test("a confirmation listing that fails after the cancels keeps the cancels' count", async (t) => {
  const ordNos: string[] = [];
  for (const price of ['60000', '60100', '60200']) {
    const placed = await h.call('kt10000', { ...RESTING_ORDER, ord_uv: price });
    t.equal(placed.json.return_code, 0, `a resting order: ${placed.text}`);
    ordNos.push(String(placed.json.ord_no));
  }
  // Kiwoom's open-order inquiry fails from the first cancel on: the first listing is answered, every later one is 5xx.
  // (The simulator's own fault state, asked per request on arrival, is told which request comes after which.)
  const faults = h.sim.faults as unknown as { failsApiId(apiId: string | undefined): boolean };
  const failsApiId = faults.failsApiId.bind(faults);
  faults.failsApiId = (apiId) => (apiId === 'ka10075' && h.sim.requestLog().some((r) => r.apiId === 'kt10003')) || failsApiId(apiId);
  t.teardown(() => {
    faults.failsApiId = failsApiId;
  });

  const admin = await h.adminToken('sec-lead', 'admin');
  const lock = await h.admin('POST', '/admin/v1/lockdown', admin, { bot: h.botId, reason: 'kiwoom overloaded' });
  t.equal(lock.status, 201, lock.text.slice(0, 300));
  const statusOf = (ordNo: string) => h.sim.orders(CANARY.account).find((o) => o.ordNo === ordNo)?.status;
  t.same(ordNos.map(statusOf), ['cancelled', 'cancelled', 'cancelled'], 'Kiwoom cancelled all three');
  const s3 = stepsOf(lock.json).find((s) => s.step.startsWith('3 '));
  t.equal(s3?.status, 'failed', 'step 3 is not confirmed: the confirming listing failed');
  t.match(s3?.errors.join('; '), /ka10075|list/i, `and says so: ${s3?.errors.join('; ')}`);
  const c = (lock.json.cancels as CancelRecord[]).find((x) => x.viaBot === h.botId);
  t.match(c, { listed: 3, cancelled: 3, confirmed: false }, `the account's record keeps the three cancels: ${JSON.stringify(c)}`);
  t.ok(c?.error, 'and says the listing failed');
  const totals = (lock.json.damage as { totals: Record<string, number> }).totals;
  t.match(totals, { ordersCancelled: 3, accountsNotListed: 1 }, 'the totals count the three cancels, and the account whose state is unknown');
});
