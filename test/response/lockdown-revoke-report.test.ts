// The lockdown's step 2 (kill sessions + revoke broker tokens) reports what
// the broker did, not that a revoke was asked for: pending until Kiwoom
// confirms the key's token revoked (or it is known dead), failed with the
// reason code while Kiwoom refuses, and done once a retry succeeds. Through
// the real sidecar over HTTP, against the simulator told to fail revokes.
import t from 'tap';
import path from 'node:path';
import { RESTING_ORDER, revokeStep } from '../helpers/lockdown-steps.js';
import { startHarness, waitFor, type Harness } from '../helpers/harness.js';
import { readAuditRecords } from '../helpers/audit-sidecar-log.js';

let h: Harness;
t.before(async () => {
  h = await startHarness({
    // A failed revoke is retried by the sweep: short here, so the retry comes soon.
    config: {
      brokerTokens: { revokeAttempts: 2, sweepIntervalMs: 200, leaseTtlMs: 1_000, issueLockTtlMs: 1_000 },
      response: { damage: { deadlineMs: 1_000 }, revokeCheckMs: 100 },
    },
  });
});
t.teardown(() => h.close());

t.test('step 2 is not done while Kiwoom refuses the revoke, and becomes done when a retry succeeds', async (t) => {
  const admin = await h.adminToken('sec-lead', 'admin');
  const placed = await h.call('kt10000', RESTING_ORDER);
  t.equal(placed.json.return_code, 0, `a resting order: ${placed.text}`);
  await h.waitNoLiveTokens();
  // Every revoke fails from now on: the token the lockdown's cancel-all uses cannot be revoked.
  h.sim.faults.set({ revokeFailNext: 1_000_000 });

  const lock = await h.admin('POST', '/admin/v1/lockdown', admin, { bot: h.botId, reason: 'revoke report drill' });
  t.equal(lock.status, 201, lock.text.slice(0, 200));
  const id = String(lock.json.id);
  t.equal(h.sim.liveTokens(), 1, "the broker still holds the key's token");
  const atReturn = revokeStep(lock.json);
  t.notOk(atReturn.ok, `the lockdown's answer does not say the token is revoked: ${JSON.stringify(atReturn)}`);
  t.not(atReturn.status, 'done');

  const report = async () => (await h.admin('GET', `/admin/v1/incidents/${id}`, admin)).json;
  await waitFor(async () => revokeStep(await report()).status === 'failed', 10_000, 'step 2 reported failed');
  const failed = revokeStep(await report());
  t.notOk(failed.ok);
  t.match(failed.errors.join('; '), /KG5001/, `the reason code is named: ${failed.errors.join('; ')}`);
  t.equal(h.sim.liveTokens(), 1, 'and indeed the token is still live');
  const md = await h.admin('GET', `/admin/v1/incidents/${id}?format=md`, admin);
  t.match(md.text, /\| 2 kill sessions \+ revoke broker tokens \|[^\n]*실패[^\n]*KG5001/, 'the incident view (kguard incidents show) says so');

  h.sim.faults.clear();
  await waitFor(async () => revokeStep(await report()).status === 'done', 20_000, 'step 2 done after the retry');
  await h.waitNoLiveTokens();
  const done = await report();
  t.ok(revokeStep(done).ok, 'done once Kiwoom confirmed the revoke');
  t.same(revokeStep(done).errors, [], 'no error left once revoked');
  const events = (done.timeline as { event: string }[]).map((e) => e.event);
  t.ok(
    events.some((e) => /broker token revoke FAILED/.test(e)),
    'the timeline keeps the failure',
  );
  t.ok(
    events.some((e) => /broker token revoked/.test(e)),
    'and the revoke',
  );
});

t.test('a lockdown whose revoke goes through reports step 2 done at once', async (t) => {
  const admin = await h.adminToken('sec-lead-2', 'admin');
  const bot = 'bot-revoke-ok';
  const token = await h.addBot(bot, ['kind:query', 'kind:order', 'kind:account', 'kind:cancel']);
  t.equal((await h.call('kt10000', RESTING_ORDER, { token })).json.return_code, 0);
  const lock = await h.admin('POST', '/admin/v1/lockdown', admin, { bot, reason: 'revoke report drill 2' });
  t.equal(lock.status, 201);
  const s2 = revokeStep(lock.json);
  t.equal(s2.status, 'done', JSON.stringify(s2));
  t.ok(s2.ok);
  t.equal(h.sim.liveTokens(), 0, 'no live token at the broker');
});

t.test('a revoke Kiwoom answers [8005] (the token is already invalid) counts as done: not retried, step 2 done', async (t) => {
  const admin = await h.adminToken('sec-lead-3', 'admin');
  const bot = 'bot-revoke-8005';
  const token = await h.addBot(bot, ['kind:query', 'kind:order', 'kind:account', 'kind:cancel']);
  t.equal((await h.call('kt10000', RESTING_ORDER, { token })).json.return_code, 0);
  await h.waitNoLiveTokens();
  const metrics = async () => (await fetch(`${h.adminUrl}/metrics`)).text();
  const count = (text: string, series: string) =>
    text
      .split('\n')
      .filter((l) => l.startsWith(series))
      .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
  const failuresBefore = count(await metrics(), 'kguard_broker_token_revoke_failures_total');
  // Every revoke from now on finds its token already invalid at Kiwoom, which answers [8005].
  h.sim.faults.set({ revokeInvalidNext: 1_000_000 });

  const lock = await h.admin('POST', '/admin/v1/lockdown', admin, { bot, reason: 'revoke 8005 drill' });
  t.equal(lock.status, 201, lock.text.slice(0, 200));
  const report = async () => (await h.admin('GET', `/admin/v1/incidents/${String(lock.json.id)}`, admin)).json;
  await waitFor(async () => revokeStep(await report()).status !== 'pending', 10_000, 'step 2 settled');
  const s2 = revokeStep(await report());
  t.equal(s2.status, 'done', `step 2: ${JSON.stringify(s2)}`);
  t.same(s2.errors, [], 'no error: the token cannot be used any more');
  t.equal(h.sim.liveTokens(), 0, 'no live token at the broker');
  const after = await metrics();
  t.equal(count(after, 'kguard_broker_token_revoke_failures_total') - failuresBefore, 0, 'no revoke attempt counted as failed, none retried');
  t.ok(count(after, 'kguard_broker_tokens_revoked_total{outcome="invalid"}') >= 1, 'counted as ended by an [8005] answer');
  const invalid = async () =>
    (await readAuditRecords(path.join(h.dataDir, 'audit'))).filter((r) => r.type === 'broker_token.revoked' && r.data.invalid === true);
  await waitFor(async () => (await invalid()).length >= 1, 20_000, 'the revoke audit record');
  t.ok((await invalid()).length >= 1, 'its audit record says Kiwoom found the token invalid');
  h.sim.faults.clear();
});
