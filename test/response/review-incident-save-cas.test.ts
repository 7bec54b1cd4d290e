// An unlock saved between the lockdown's read of the incident record and its
// write of it (the lockdown still running: answered 202, its damage assessment
// just done) was overwritten: the lockdown wrote back the copy it had read, which
// said locked, so the record said locked, with no unlock in its timeline, while
// the lock flags were gone and the bot traded again. The two saves are now
// compare-and-set (the Store's setIfUnchanged): a write over a record changed
// since it was read reads it again and keeps the other writer's change. Through
// the real sidecar over HTTP against the simulator; the lockdown's last save held
// (after its read) until the unlock is saved.
import t from 'tap';
import { confirmRecoverySteps } from '../helpers/lockdown-steps.js';
import { latch } from '../helpers/gates.js';
import { startHarness, waitFor, type Harness } from '../helpers/harness.js';

let h: Harness;
t.before(async () => {
  h = await startHarness({ config: { response: { damage: { deadlineMs: 1_000 }, answerWithinMs: 300 } } });
});
t.teardown(() => h.close());

t.test('an unlock saved while the lockdown writes its record back is kept', async (t) => {
  const lead = await h.adminToken('sec-lead', 'admin');
  const second = await h.adminToken('sec-second', 'admin');
  const store = h.sidecar.parts.store;
  const held = latch();
  let holding = true;
  // The lockdown's last save (damage assessed), held once it has read the record, whichever write it uses.
  const hold = async (key: string, value: string) => {
    if (holding && /^response:incident:[0-9a-f-]{36}$/.test(key) && value.includes('"damage"') && value.includes('"status":"locked"')) {
      holding = false;
      held.reached();
      await held.passed;
    }
  };
  const set = store.set.bind(store);
  const setIfUnchanged = store.setIfUnchanged.bind(store);
  store.set = async (key, value, ttlMs) => {
    await hold(key, value);
    return set(key, value, ttlMs);
  };
  store.setIfUnchanged = async (key, expected, value, ttlMs) => {
    await hold(key, value);
    return setIfUnchanged(key, expected, value, ttlMs);
  };
  t.teardown(() => {
    store.set = set;
    store.setIfUnchanged = setIfUnchanged;
    held.release();
  });

  const lock = await h.admin('POST', '/admin/v1/lockdown', lead, { bot: h.botId, reason: 'false alarm' });
  t.ok(lock.status === 201 || lock.status === 202, lock.text.slice(0, 200));
  const id = String(lock.json.id);
  await held.waiting;
  await confirmRecoverySteps(t, h, id, lead);
  for (const who of [lead, second]) t.equal((await h.admin('POST', `/admin/v1/incidents/${id}/approve-unlock`, who)).status, 200, 'unlock approved');
  const unlocked = await h.admin('POST', `/admin/v1/incidents/${id}/unlock`, lead);
  t.equal(unlocked.status, 200, unlocked.text.slice(0, 300));

  held.release();
  const report = async () => (await h.admin('GET', `/admin/v1/incidents/${id}`, lead)).json;
  await waitFor(async () => (await report()).damage !== undefined, 30_000, 'the lockdown saved its damage assessment');
  const r = await report();
  t.equal(r.status, 'unlocked', 'the record says unlocked');
  t.equal(r.unlockedBy, 'sec-lead', 'by whom');
  t.ok(
    (r.timeline as { event: string }[]).some((e) => e.event === 'unlocked'),
    'the timeline keeps the unlock',
  );
  t.ok(
    (r.timeline as { event: string }[]).some((e) => e.event === 'damage assessment'),
    "and the lockdown's damage assessment",
  );
});
