// An order still waiting for its turn (a governor slot, the key's broker
// token) when the bot hangs up must not go out afterwards: the bot was told
// nothing, and a bot whose client timed out retries, placing it twice. Once
// written to Kiwoom an order is never aborted (its outcome is audited); before
// that, it stops. The request deadline aborts the same signal.
import t from 'tap';
import { holdTokenIssues, orderThenHangUp } from '../helpers/gates.js';
import { CANARY, startHarness, waitFor, type Harness } from '../helpers/harness.js';

const ORDER = JSON.stringify({ dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '70000', trde_tp: '0' });

let h: Harness;
t.before(async () => {
  h = await startHarness();
});
t.teardown(() => h.close());

function orderLines(): { code?: string }[] {
  return h
    .logs()
    .split('\n')
    .filter((l) => l.includes('"msg":"request"') && l.includes('"apiId":"kt10000"'))
    .map((l) => JSON.parse(l) as { code?: string });
}

t.test('an order still waiting for its broker token when the bot hangs up is not sent', async (t) => {
  const token = await h.token();
  await h.waitNoLiveTokens();
  const { waiting, release } = holdTokenIssues(t, h);
  const bot = await orderThenHangUp(t, h, token, ORDER);
  await waiting;
  await bot.hangUp();
  await new Promise((r) => setImmediate(r));
  const before = h.sim.requestLog().filter((r) => r.path === '/api/dostk/ordr').length;
  release();
  // The listener logs the request once the pipeline is done with it.
  await waitFor(() => orderLines().length > 0, 10_000, "the order's request line");
  t.equal(orderLines()[0]?.code, 'KG5002', 'the call ended as the bot left it: not forwarded');
  t.equal(h.sim.requestLog().filter((r) => r.path === '/api/dostk/ordr').length, before, 'the order never reached Kiwoom');
  t.equal(h.sim.orders(CANARY.account).length, 0, 'no order placed');
  await h.waitNoLiveTokens(10_000); // the token issued for nobody is not left live
});

t.test('an order whose bot stays gets its answer', async (t) => {
  const r = await h.call('kt10000', ORDER);
  t.equal(r.json.return_code, 0, r.text);
  t.equal(h.sim.orders(CANARY.account).length, 1);
});
