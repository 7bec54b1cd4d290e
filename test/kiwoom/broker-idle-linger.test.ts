// brokerTokens.idleRevokeMs keeps a key's token that long after its last
// call, and then it is revoked. The linger used to re-arm itself for another
// idleRevokeMs each time it ran out, so with any idleRevokeMs > 0 an idle
// token stayed live at Kiwoom until the process stopped or Kiwoom's own
// expiry, however long nobody called.
import t from 'tap';
import { startHarness, waitFor } from '../helpers/harness.js';

const QUOTE = { stk_cd: '005930' };

t.test('an idle token is revoked once idleRevokeMs has passed since the last call', async (t) => {
  const h = await startHarness({ config: { brokerTokens: { idleRevokeMs: 1_500, cadenceLingerMs: 0 } } });
  t.teardown(() => h.close());
  const token = await h.token();
  t.equal((await h.call('ka10001', QUOTE, { token })).json.return_code, 0, 'a call went through');
  t.equal(h.sim.liveTokens(), 1, 'its token lingers after the call');
  const revoked = h.sim.stats().tokensRevoked;
  await waitFor(() => h.sim.liveTokens() === 0, 20_000, 'the idle token revoked');
  t.equal(h.sim.stats().tokensRevoked, revoked + 1, 'revoked by the sidecar, not expired');
  // A later call issues afresh and lingers again; the next linger ends too.
  t.equal((await h.call('ka10001', QUOTE, { token })).json.return_code, 0, 'the next call issues afresh');
  t.equal(h.sim.liveTokens(), 1, 'and its token lingers');
  await waitFor(() => h.sim.liveTokens() === 0, 20_000, 'that token revoked too');
  t.pass('no broker token left live while nobody calls');
});
