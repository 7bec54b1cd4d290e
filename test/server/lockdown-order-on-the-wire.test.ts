// An order already written to Kiwoom when a lockdown is pressed (past every
// check of the sidecar, on this replica or another, on the wire or in
// Kiwoom's intake) cannot be stopped; if Kiwoom places it after the
// lockdown's cancel-all listed the account, the listing came back empty, the
// cancel-all said "confirmed", and the order stays live while the bot is
// locked down. The sidecar that forwarded it sees Kiwoom's answer: an order
// accepted for a bot that is locked down by then is cancelled at once, and the
// incident records it. Here the order is held in the sidecar's Kiwoom client
// (written, not yet at the simulator) until the lockdown has returned.
import t, { type Test } from 'tap';
import type { Latch } from '../helpers/gates.js';
import { holdUpstreamCalls, RESTING_ORDER } from '../helpers/lockdown-steps.js';
import { CANARY, startHarness, waitFor, type Harness } from '../helpers/harness.js';

let h: Harness;
t.before(async () => {
  h = await startHarness({ config: { response: { damage: { deadlineMs: 1_000 } } } });
});
t.teardown(() => h.close());

/** Holds every kt10000 in the sidecar's Kiwoom client (written, not yet at the simulator) until released. */
function holdOrdersOnTheWire(t: Test, on: Harness): Latch {
  return holdUpstreamCalls(t, on, 'kt10000');
}

t.test('an order Kiwoom places after the lockdown listed the account is cancelled when its answer comes back', async (t) => {
  const admin = await h.adminToken('sec-lead', 'admin');
  const onWire = holdOrdersOnTheWire(t, h);

  const answer = h.call('kt10000', RESTING_ORDER);
  await onWire.waiting; // written: past the pre-send re-check, not yet at Kiwoom
  const lock = await h.admin('POST', '/admin/v1/lockdown', admin, { bot: h.botId, reason: 'order on the wire' });
  t.equal(lock.status, 201, lock.text.slice(0, 300));
  t.equal(h.sim.orders(CANARY.account).length, 0, 'the lockdown listed an account with no order yet');

  onWire.release();
  const placed = await answer;
  t.equal(placed.json.return_code, 0, `Kiwoom placed it: ${placed.text}`);
  const ordNo = String(placed.json.ord_no);
  const order = () => h.sim.orders(CANARY.account).find((o) => o.ordNo === ordNo);
  await waitFor(() => order()?.status === 'cancelled', 15_000, 'the late order cancelled').catch(() => undefined);
  t.equal(order()?.status, 'cancelled', `the order is not left live while the bot is locked: ${JSON.stringify(order())}`);
  const timeline = async () =>
    (await h.admin('GET', `/admin/v1/incidents/${String(lock.json.id)}`, admin)).json.timeline as { event: string; detail?: string }[];
  await waitFor(async () => (await timeline()).some((e) => /accepted after the lockdown/.test(e.event)), 10_000, 'the timeline entry').catch(() => undefined);
  const late = (await timeline()).find((e) => /accepted after the lockdown/.test(e.event));
  t.match(late, { event: `order ${ordNo} accepted after the lockdown`, detail: /confirmed/ }, `the incident records it: ${JSON.stringify(late)}`);
  t.notMatch(JSON.stringify(await timeline()), CANARY.account, 'the account is masked');
});

t.test('an order whose answer is lost after the lockdown listed the account is cancelled too: it may be live', async (t) => {
  const w = await startHarness({ config: { response: { damage: { deadlineMs: 1_000 } } } });
  t.teardown(() => w.close());
  const admin = await w.adminToken('sec-lead', 'admin');
  const onWire = holdOrdersOnTheWire(t, w);

  const answer = w.call('kt10000', RESTING_ORDER);
  await onWire.waiting;
  const lock = await w.admin('POST', '/admin/v1/lockdown', admin, { bot: w.botId, reason: 'answer lost' });
  t.equal(lock.status, 201, lock.text.slice(0, 300));
  t.equal(w.sim.orders(CANARY.account).length, 0, 'the lockdown listed an account with no order yet');

  // Kiwoom places the order, and its answer never comes back.
  w.sim.faults.set({ dropAnswerNext: 1 });
  onWire.release();
  const lost = await answer;
  // The lockdown ended the call; the bot hears that and that its order may have been placed, so it neither sends
  // it again nor takes it for never placed.
  t.match(
    String(lost.json.return_msg),
    /\[KG3008:incident [0-9a-f-]+; the order was written to Kiwoom before it and may be placed \(KG5011\)\]$/,
    `the bot hears both: ${lost.text}`,
  );
  const order = () => w.sim.orders(CANARY.account)[0];
  t.ok(order(), 'Kiwoom placed it');
  await waitFor(() => order()?.status === 'cancelled', 15_000, 'the order cancelled').catch(() => undefined);
  t.equal(order()?.status, 'cancelled', `the order is not left live while the bot is locked: ${JSON.stringify(order())}`);
  const timeline = async () =>
    (await w.admin('GET', `/admin/v1/incidents/${String(lock.json.id)}`, admin)).json.timeline as { event: string; detail?: string }[];
  await waitFor(async () => (await timeline()).some((e) => /answer lost/.test(e.event)), 10_000, 'the timeline entry').catch(() => undefined);
  t.match(
    (await timeline()).find((e) => /answer lost/.test(e.event)),
    { event: /^order answer lost after the lockdown \(request [0-9a-f-]+\)$/, detail: /confirmed/ },
    'the incident records it, naming the request',
  );
});
