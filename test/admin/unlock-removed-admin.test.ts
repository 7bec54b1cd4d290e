// Review (red team): an admin-triggered lockdown is unlocked only after two
// distinct admins approve (four eyes). Removing an admin (`kguard admins
// remove`, e.g. a token that leaked) stops their token — and must void the
// unlock approval they already gave, as a removed approver's votes are voided
// for held calls; adding an admin of the same name again does not revive it.
import t, { type Test } from 'tap';
import { AdminTokens } from '../../proxy/admin/tokens.js';
import { startHarness } from '../helpers/harness.js';

/** A harness with three admins (sec-lead, mallory, sec-two) and its bot locked down by sec-lead. */
async function lockedDrill(t: Test) {
  const h = await startHarness();
  t.teardown(() => h.close());
  const lead = await h.adminToken('sec-lead', 'admin');
  const mallory = await h.adminToken('mallory', 'admin');
  const second = await h.adminToken('sec-two', 'admin');
  const lock = await h.admin('POST', '/admin/v1/lockdown', lead, { reason: 'drill', bot: h.botId });
  t.equal(lock.status, 201, lock.text.slice(0, 160));
  return { h, lead, mallory, second, lock, id: String(lock.json.id) };
}

t.test("a removed admin's unlock approval no longer counts", async (t) => {
  const { h, lead, mallory, second, lock, id } = await lockedDrill(t);
  for (const step of lock.json.checklist as { id: string; required: boolean }[]) {
    if (!step.required) continue;
    const c = await h.admin('POST', `/admin/v1/incidents/${id}/steps/${step.id}/confirm`, lead, {});
    t.equal(c.status, 200, `step ${step.id} confirmed`);
  }
  t.equal((await h.admin('POST', `/admin/v1/incidents/${id}/approve-unlock`, mallory, {})).status, 200, 'mallory approves the unlock');

  await AdminTokens.forDataDir(h.dataDir).remove('mallory');
  const shown = await h.admin('GET', `/admin/v1/incidents/${id}`, lead);
  t.same(
    (shown.json.unlockApprovals as { approver: string }[]).map((a) => a.approver),
    [],
    "the removed admin's approval is not listed",
  );

  t.equal((await h.admin('POST', `/admin/v1/incidents/${id}/approve-unlock`, second, {})).status, 200, 'a second admin approves');
  const early = await h.admin('POST', `/admin/v1/incidents/${id}/unlock`, second, {});
  t.equal(early.status, 409, `one remaining approval is not enough: ${early.text.slice(0, 200)}`);
  t.equal(early.json.code, 'KG3012');

  // The name back, with a new token: what the removed admin approved stays void.
  await h.adminToken('mallory', 'admin');
  const again = await h.admin('POST', `/admin/v1/incidents/${id}/unlock`, second, {});
  t.equal(again.json.code, 'KG3012', 'a new admin of the same name does not revive the old approval');

  t.equal((await h.admin('POST', `/admin/v1/incidents/${id}/approve-unlock`, lead, {})).status, 200, 'the lead approves');
  const ok = await h.admin('POST', `/admin/v1/incidents/${id}/unlock`, second, {});
  t.equal(ok.status, 200, `two admins still enrolled approved: unlocked (${ok.text.slice(0, 160)})`);
});

t.test("a removed admin's recovery-step confirmations no longer count", async (t) => {
  const { h, lead, mallory, second, lock, id } = await lockedDrill(t);
  const required = (lock.json.checklist as { id: string; required: boolean }[]).filter((s) => s.required);
  for (const step of required) {
    const c = await h.admin('POST', `/admin/v1/incidents/${id}/steps/${step.id}/confirm`, mallory, {});
    t.equal(c.status, 200, `mallory confirms ${step.id}`);
  }
  await AdminTokens.forDataDir(h.dataDir).remove('mallory');
  const shown = await h.admin('GET', `/admin/v1/incidents/${id}`, lead);
  t.same(
    (shown.json.checklist as { id: string; confirmedBy?: string }[]).filter((s) => s.confirmedBy !== undefined).map((s) => s.id),
    [],
    "the removed admin's confirmations are not shown as done",
  );
  for (const who of [lead, second]) t.equal((await h.admin('POST', `/admin/v1/incidents/${id}/approve-unlock`, who, {})).status, 200);
  const early = await h.admin('POST', `/admin/v1/incidents/${id}/unlock`, second, {});
  t.not(early.status, 200, `the recovery steps are not done: ${early.text.slice(0, 200)}`);
  for (const step of required) await h.admin('POST', `/admin/v1/incidents/${id}/steps/${step.id}/confirm`, lead, {});
  const ok = await h.admin('POST', `/admin/v1/incidents/${id}/unlock`, second, {});
  t.equal(ok.status, 200, `confirmed again by an admin still enrolled: unlocked (${ok.text.slice(0, 160)})`);
});
