// An incident unlocked while its lockdown's cancel-all still ran (answered 202:
// Kiwoom slow to answer the open-order listing) went on cancelling after the
// unlock: the listing Kiwoom answered once it caught up held the order the bot
// had placed since it was unlocked, and the cancel-all cancelled it. The bot,
// trading again, lost an order nobody meant to cancel. An unlock now stops every
// cancel-all of its incident before the bot can trade (a marker in the shared
// Store, read before each listing and each cancel), and the incident says so.
// Through the real sidecar over HTTP against the simulator; the listing held at
// the sidecar's upstream client until the bot's new order is placed.
import t from 'tap';
import { confirmRecoverySteps, holdListings, RESTING_ORDER, stepsOf } from '../helpers/lockdown-steps.js';
import { CANARY, startHarness, waitFor, type Harness } from '../helpers/harness.js';
import { startRedis } from '../helpers/redis.js';

let h: Harness;
t.before(async () => {
  h = await startHarness({ config: { response: { damage: { deadlineMs: 1_000 }, answerWithinMs: 500 } } });
});
t.teardown(() => h.close());

t.test("a cancel-all still running at the unlock does not cancel the bot's orders placed after it", async (t) => {
  const lead = await h.adminToken('sec-lead', 'admin');
  const second = await h.adminToken('sec-second', 'admin');
  const hung = holdListings(t, h, true);

  const lock = await h.admin('POST', '/admin/v1/lockdown', lead, { bot: h.botId, reason: 'false alarm, kiwoom slow' });
  t.equal(lock.status, 202, `the lockdown goes on: ${lock.text.slice(0, 200)}`);
  const id = String(lock.json.id);
  await hung.waiting;
  await confirmRecoverySteps(t, h, id, lead);
  for (const who of [lead, second]) t.equal((await h.admin('POST', `/admin/v1/incidents/${id}/approve-unlock`, who)).status, 200, 'unlock approved');
  const unlocked = await h.admin('POST', `/admin/v1/incidents/${id}/unlock`, lead);
  t.equal(unlocked.status, 200, unlocked.text.slice(0, 300));

  const placed = await h.call('kt10000', RESTING_ORDER);
  t.equal(placed.json.return_code, 0, `the bot trades again after the unlock: ${placed.text.slice(0, 200)}`);
  const ordNo = String(placed.json.ord_no);

  hung.release();
  const report = async () => (await h.admin('GET', `/admin/v1/incidents/${id}`, lead)).json;
  await waitFor(async () => (await report()).damage !== undefined, 30_000, 'the lockdown finished (damage assessed)');
  const statusOf = (n: string) => h.sim.orders(CANARY.account).find((o) => o.ordNo === n)?.status;
  t.not(statusOf(ordNo), 'cancelled', "the bot's order placed after the unlock is still open at Kiwoom");
  const cancels = h.sim.requestLog().filter((r) => r.apiId === 'kt10003');
  t.equal(cancels.length, 0, 'no cancel was sent after the unlock');
  const r = await report();
  const s3 = stepsOf(r).find((s) => s.step.startsWith('3 '));
  t.equal(s3?.status, 'failed', 'step 3 is not confirmed');
  t.match(s3?.errors.join('; '), /unlocked/, `and says the unlock stopped it: ${s3?.errors.join('; ')}`);
  t.ok(
    (r.timeline as { event: string }[]).some((e) => e.event === 'cancel-all stopped by the unlock'),
    'the timeline says the unlock stopped the cancel-all',
  );
});

t.test('the unlock on another replica stops the cancel-all (replicas on one real redis-server)', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.cleanup());
  const replica = (name: string) => ({
    state: { backend: 'redis', redis: { url: redis.url, commandTimeoutMs: 1_000 } },
    audit: { replicaId: name, sinks: [{ type: 'file', dir: `audit-${name}` }] },
    risk: { enabled: false },
    response: { damage: { deadlineMs: 1_000 }, answerWithinMs: 500 },
  });
  const A = await startHarness({ config: replica('A') });
  t.teardown(() => A.close());
  const B = await startHarness({ config: replica('B'), replicaOf: A });
  t.teardown(() => B.close());
  const lead = await A.adminToken('sec-lead', 'admin');
  const second = await A.adminToken('sec-second', 'admin');
  const hung = holdListings(t, A, true);

  const lock = await A.admin('POST', '/admin/v1/lockdown', lead, { bot: A.botId, reason: 'false alarm, kiwoom slow' });
  t.equal(lock.status, 202, `replica A's lockdown goes on: ${lock.text.slice(0, 200)}`);
  const id = String(lock.json.id);
  await hung.waiting;
  await confirmRecoverySteps(t, B, id, lead);
  for (const who of [lead, second]) t.equal((await B.admin('POST', `/admin/v1/incidents/${id}/approve-unlock`, who)).status, 200, 'unlock approved');
  const unlocked = await B.admin('POST', `/admin/v1/incidents/${id}/unlock`, lead);
  t.equal(unlocked.status, 200, `unlocked on replica B: ${unlocked.text.slice(0, 300)}`);

  const placed = await B.call('kt10000', RESTING_ORDER);
  t.equal(placed.json.return_code, 0, `the bot trades again through replica B: ${placed.text.slice(0, 200)}`);
  const ordNo = String(placed.json.ord_no);
  hung.release();
  const report = async () => (await B.admin('GET', `/admin/v1/incidents/${id}`, lead)).json;
  await waitFor(async () => (await report()).damage !== undefined, 30_000, 'the lockdown finished on replica A');
  t.not(A.sim.orders(CANARY.account).find((o) => o.ordNo === ordNo)?.status, 'cancelled', "the bot's order placed after the unlock is still open at Kiwoom");
  t.equal(A.sim.requestLog().filter((r) => r.apiId === 'kt10003').length, 0, 'no cancel was sent after the unlock');
});
