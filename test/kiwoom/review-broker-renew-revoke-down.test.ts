// A key's token due for renewal (within renewBeforeMs of expires_dt) is revoked
// before a fresh one is issued, since Kiwoom would hand the same token back.
// When that revoke fails, the token is still live at Kiwoom for minutes: the
// key's calls go on with it, rather than waiting out the revoke's retries and
// failing with the revoke's error.
import t from 'tap';
import { startHarness, sleep, waitFor } from '../helpers/harness.js';

const QUOTE = { stk_cd: '005930' };

t.test("a token due for renewal whose revoke fails: the key's calls go on with it", async (t) => {
  // A 60 s token, due for renewal once under 57 s are left (after 3 s); kept between calls.
  const h = await startHarness({
    sim: { tokenTtlMs: 60_000 },
    config: { brokerTokens: { idleRevokeMs: 60_000, renewBeforeMs: 57_000, revokeAttempts: 3, revokeBaseDelayMs: 20, revokeMaxDelayMs: 200 } },
  });
  t.teardown(() => h.close());
  const token = await h.token();
  t.equal((await h.call('ka10001', QUOTE, { token })).json.return_code, 0, 'the first call');
  t.equal(h.sim.stats().tokensIssued, 1);
  await sleep(3_500); // the token is due for renewal
  h.sim.faults.set({ revokeFailNext: 1_000_000 });
  const results = [];
  for (let i = 0; i < 3; i++) results.push(await h.call('ka10001', QUOTE, { token }));
  for (const r of results) t.equal(r.json.return_code, 0, `served with the still-live token: ${r.text.slice(0, 200)}`);
  t.equal(h.sim.stats().tokensIssued, 1, 'no other token was issued (Kiwoom would refuse nothing, but it has none to give)');
  t.equal(h.sim.stats().refusals['8005'] ?? 0, 0, 'no call met a dead token');
  // Once Kiwoom revokes again, the token is renewed.
  h.sim.faults.clear();
  await waitFor(async () => (await h.call('ka10001', QUOTE, { token })).json.return_code === 0 && h.sim.stats().tokensIssued === 2, 10_000, 'a fresh token');
  t.pass('renewed once the revoke went through');
});
