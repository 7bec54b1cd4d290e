// Kiwoom refusing or unreachable for revokes: a token's revoke is retried
// (fast, then every revokeMaxDelayMs until the token expires) and each attempt
// logged "broker token revoke failed; retrying", so an outage of an hour wrote
// a line every 10 s per token. Now the first failure, the end of the fast
// retries, a reminder at most every log.outageReminderMs and the outcome are
// logged per app key, across the sweeps that retry it every sweepIntervalMs; kguard_broker_token_revoke_failures_total still counts every attempt.
import t from 'tap';
import { request } from 'undici';
import { startHarness, waitFor } from '../helpers/harness.js';

const count = (logs: string, msg: string) => logs.split('\n').filter((l) => l.includes(`"msg":"${msg}`)).length;

t.test("a token whose revoke keeps failing: a few lines, not one per attempt; one when it's revoked", async (t) => {
  const h = await startHarness({
    config: { brokerTokens: { idleRevokeMs: 200, revokeAttempts: 3, revokeBaseDelayMs: 20, revokeMaxDelayMs: 50 } },
  });
  t.teardown(() => h.close());
  const failures = async () => {
    const text = await (await request(`${h.adminUrl}/metrics`)).body.text();
    return [...text.matchAll(/^kguard_broker_token_revoke_failures_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
  };
  const token = await h.token();
  h.sim.faults.set({ revokeFailNext: 1_000_000 });
  t.equal((await h.call('ka10001', { stk_cd: '005930' }, { token })).json.return_code, 0, 'a call: its token lingers, then is revoked');
  await waitFor(async () => (await failures()) >= 12, 60_000, 'many failed revoke attempts');
  const attempts = await failures();
  const during = h.logs();
  t.equal(count(during, 'broker token revoke failed; retrying'), 1, `the first failure logged once (${attempts} attempts)`);
  t.ok(count(during, 'broker token revoke failed every fast attempt') <= 1, 'the end of the fast retries at most once');
  t.ok(count(during, 'broker token revoke still failing') < attempts / 4, 'reminders, not a line per attempt');

  h.sim.faults.clear();
  await waitFor(() => h.sim.liveTokens() === 0, 60_000, 'the token revoked once Kiwoom revokes again');
  await waitFor(() => count(h.logs(), 'broker token revoked after failed attempts') === 1, 10_000, 'the outcome logged');
  t.match(h.logs(), /"attempts":\d+,"downForMs":\d+,"failures":\d+,"msg":"broker token revoked after failed attempts"/, 'with the attempts and how long');
});
