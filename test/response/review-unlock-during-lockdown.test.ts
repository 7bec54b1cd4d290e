// An incident unlocked while its lockdown still ran (answered 202: the
// cancel-all waits on a Kiwoom that hangs) was written back as 'locked' when
// the lockdown finished: the lockdown saved the copy it had held since before
// the unlock, so the record said locked, with no unlock in its timeline, while
// the lock flags were gone and the bot was trading again. A responder reading
// the incident was told the opposite of what held. The lockdown's later saves
// now keep an unlock done meanwhile. Through the real sidecar over HTTP
// against the simulator; Kiwoom's open-order listing held at the sidecar's
// upstream client until the unlock is done.
import t from 'tap';
import { confirmRecoverySteps, holdListings, stepsOf } from '../helpers/lockdown-steps.js';
import { startHarness, waitFor, type Harness } from '../helpers/harness.js';

let h: Harness;
t.before(async () => {
  h = await startHarness({ config: { response: { damage: { deadlineMs: 1_000 }, answerWithinMs: 500 } } });
});
t.teardown(() => h.close());

t.test('an unlock done while the lockdown still runs stays in the record once the lockdown ends', async (t) => {
  const lead = await h.adminToken('sec-lead', 'admin');
  const second = await h.adminToken('sec-second', 'admin');
  const hung = holdListings(t, h);

  const lock = await h.admin('POST', '/admin/v1/lockdown', lead, { bot: h.botId, reason: 'false alarm, kiwoom slow' });
  t.equal(lock.status, 202, `the lockdown goes on: ${lock.text.slice(0, 200)}`);
  const id = String(lock.json.id);
  await hung.waiting;
  await confirmRecoverySteps(t, h, id, lead);
  for (const who of [lead, second]) t.equal((await h.admin('POST', `/admin/v1/incidents/${id}/approve-unlock`, who)).status, 200, 'unlock approved');
  const unlocked = await h.admin('POST', `/admin/v1/incidents/${id}/unlock`, lead);
  t.equal(unlocked.status, 200, unlocked.text.slice(0, 300));
  t.equal(unlocked.json.status, 'unlocked', 'the unlock answers unlocked');

  hung.release();
  const report = async () => (await h.admin('GET', `/admin/v1/incidents/${id}`, lead)).json;
  await waitFor(async () => (await report()).damage !== undefined, 30_000, 'the lockdown finished (damage assessed)');
  await waitFor(async () => stepsOf(await report()).some((s) => s.step.startsWith('4 ')), 10_000, 'step 4 recorded');
  const r = await report();
  t.equal(r.status, 'unlocked', 'the record still says unlocked after the lockdown finished');
  t.equal(r.unlockedBy, 'sec-lead', 'and who unlocked it');
  t.ok(
    (r.timeline as { event: string }[]).some((e) => e.event === 'unlocked'),
    'the timeline keeps the unlock',
  );
  t.ok(
    stepsOf(r).some((s) => s.step.startsWith('3 ')),
    "and the lockdown's own steps are there too",
  );
  const login = await h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: h.botId, secretkey: h.botSecret }));
  t.equal(login.json.return_code, 0, `the bot is indeed unlocked: ${login.text.slice(0, 200)}`);
});
