// brokerTokens.sessionWaitMs bounds how long a call waits for its key's token,
// whatever it waits on: an issue in flight (Kiwoom's au10001 slow to answer) as
// well as a revoke. Past it the call is refused KG5008 and nothing of it goes
// out; the token issued after every waiting call left is not kept held.
import t from 'tap';
import { startHarness, waitFor } from '../helpers/harness.js';

const BUY = { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '70000', trde_tp: '0' };

t.test('a token issue slower than sessionWaitMs: the order is refused, never sent, and the token issued after it left is revoked', async (t) => {
  // The issue takes 1.5 s: the harness's 2 s upstream time-outs would cut it short on a loaded machine (no token issued).
  const h = await startHarness({
    config: {
      brokerTokens: { sessionWaitMs: 300, idleRevokeMs: 0, cadenceLingerMs: 0 },
      upstream: { headersTimeoutMs: 30_000, bodyTimeoutMs: 30_000 },
    },
  });
  t.teardown(() => h.close());
  const token = await h.token();
  h.sim.faults.set({ latencyMs: 1_500 });
  const r = await h.call('kt10000', BUY, { token });
  t.match(String(r.json.return_msg), /KG5008/, `refused for the wait: ${r.text}`);
  await waitFor(() => h.sim.stats().tokensIssued === 1, 20_000, 'the issue to complete');
  h.sim.faults.clear();
  await h.waitNoLiveTokens(20_000);
  t.pass('no token left live');
  t.equal(h.sim.requestLog().filter((x) => x.apiId === 'kt10000').length, 0, 'the order never reached Kiwoom');
});
