// A lockdown pressed while Kiwoom does not answer its open-order listing
// cannot cancel anything: step 3 fails and the bot's resting orders stay live
// at the broker, where they can still fill while the bot is locked. The
// cancel-all is tried again in the background until Kiwoom confirms, and the
// incident (step 3, the account's cancel record, /metrics) says where it
// stands. Through the real sidecar over HTTP against the simulator; default
// retry interval.
import t from 'tap';
import { RESTING_ORDER, stepsOf } from '../helpers/lockdown-steps.js';
import { CANARY, startHarness, waitFor, type Harness } from '../helpers/harness.js';

let h: Harness;
t.before(async () => {
  h = await startHarness({ config: { response: { damage: { deadlineMs: 1_000 } } } });
});
t.teardown(() => h.close());

const cancelStep = (report: Record<string, unknown>) => stepsOf(report).find((s) => s.step.startsWith('3 '))!;

t.test('a cancel-all that failed while Kiwoom was down is retried, and the incident says when it went through', async (t) => {
  const admin = await h.adminToken('sec-lead', 'admin');
  const placed = await h.call('kt10000', RESTING_ORDER);
  t.equal(placed.json.return_code, 0, `a resting order: ${placed.text}`);
  const ordNo = String(placed.json.ord_no);
  const orderNow = () => h.sim.orders(CANARY.account).find((o) => o.ordNo === ordNo);

  // Kiwoom's open-order inquiry fails for the whole lockdown.
  h.sim.faults.set({ fail5xxApiIds: ['ka10075'] });
  const lock = await h.admin('POST', '/admin/v1/lockdown', admin, { bot: h.botId, reason: 'kiwoom down during lockdown' });
  t.equal(lock.status, 201, lock.text.slice(0, 300));
  const id = String(lock.json.id);
  const s3 = cancelStep(lock.json);
  t.equal(s3.status, 'failed', `step 3 failed: ${JSON.stringify(s3)}`);
  t.equal(orderNow()?.status, 'open', 'the order is still live at the broker');
  const totals = (r: Record<string, unknown>) => (r.damage as { totals: Record<string, number> }).totals;
  t.match(
    totals(lock.json),
    { ordersCancelled: 0, ordersNotCancelled: 0, accountsNotListed: 1 },
    'the account whose orders could not be listed is counted as such, not as one order',
  );
  const md = (await h.admin('GET', `/admin/v1/incidents/${id}?format=md`, admin)).text;
  t.match(md, /조회하지 못한 계좌: 1/, `the report says so: ${md.slice(0, 0)}`);
  const metric = async () => (await (await fetch(`${h.adminUrl}/metrics`)).text()).match(/^kguard_lockdown_cancels_unconfirmed (\d+)/m)?.[1];
  t.equal(await metric(), '1', 'the account whose orders are not confirmed cancelled is counted');

  h.sim.faults.clear();
  await waitFor(() => orderNow()?.status === 'cancelled', 30_000, 'the order cancelled by a retry');
  const report = async () => (await h.admin('GET', `/admin/v1/incidents/${id}`, admin)).json;
  await waitFor(async () => cancelStep(await report()).status === 'done', 10_000, 'step 3 done');
  const r = await report();
  const c = (r.cancels as { viaBot: string; confirmed?: boolean; cancelled?: number; retries?: number; error?: string }[]).find((x) => x.viaBot === h.botId);
  t.ok(c?.confirmed, `the account's cancel record is confirmed: ${JSON.stringify(c)}`);
  t.equal(c?.cancelled, 1, 'one order cancelled');
  t.notOk(c?.error, 'the earlier error is gone with the confirmation');
  t.ok((c?.retries ?? 0) >= 1, 'the record says it took a retry');
  t.ok(
    (r.timeline as { event: string }[]).some((e) => /cancel-all retried/.test(e.event)),
    'the timeline records the retry that confirmed it',
  );
  t.match(totals(r), { ordersCancelled: 1, ordersNotCancelled: 0, accountsNotListed: 0 }, 'the totals follow the retry');
  await waitFor(async () => (await metric()) === '0', 10_000, 'the gauge back to 0');
  const s = await h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: h.botId, secretkey: h.botSecret }));
  t.match(String(s.json.return_msg), /KG3008/, 'the bot is still locked down');
});
