// state.redis.readOnlyQueriesWhenDown: with Redis gone, `deny` (default) fails
// every call closed; `allow` lets quotes and account inquiries through on the
// replica's local state while orders still fail closed.
import t from 'tap';
import { request } from 'undici';
import { startHarness } from '../helpers/harness.js';
import { startRedis } from '../helpers/redis.js';

const QUOTE = { stk_cd: '005930' };
const BUY = { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '70000', trde_tp: '0' };

for (const mode of ['deny', 'allow'] as const) {
  t.test(`readOnlyQueriesWhenDown: ${mode}`, async (t) => {
    const redisProc = await startRedis();
    t.teardown(() => redisProc.cleanup());
    const h = await startHarness({
      config: { state: { backend: 'redis', redis: { url: redisProc.url, commandTimeoutMs: 200, readOnlyQueriesWhenDown: mode } } },
    });
    t.teardown(() => h.close());
    const token = await h.token();
    t.equal((await h.call('ka10001', QUOTE, { token })).json.return_code, 0, 'quote works with Redis up');
    await h.waitNoLiveTokens();
    await redisProc.kill();

    const sentBefore = h.sim.requestLog().filter((r) => r.apiId === 'kt10000').length;
    const order = await h.call('kt10000', BUY, { token });
    t.equal(order.status, 503, `order fails closed: ${order.text}`);
    t.match(String(order.json.return_msg), /KG7001/);
    t.equal(h.sim.requestLog().filter((r) => r.apiId === 'kt10000').length, sentBefore, 'no order reached the broker');

    const quote = await h.call('ka10001', QUOTE, { token });
    const balance = await h.call('kt00018', { qry_tp: '1', dmst_stex_tp: 'KRX' }, { token });
    if (mode === 'deny') {
      t.equal(quote.status, 503, quote.text);
      t.match(String(quote.json.return_msg), /KG7001/);
      t.match(String(balance.json.return_msg), /KG7001/);
    } else {
      t.equal(quote.json.return_code, 0, `quote served on local state: ${quote.text}`);
      t.equal(balance.json.return_code, 0, `balance served on local state: ${balance.text}`);
      const metrics = await (await request(`${h.adminUrl}/metrics`)).body.text();
      t.match(metrics, /kguard_state_read_only_fallbacks_total\{op="[a-zA-Z]+"\} [1-9]/, 'fallbacks counted');
    }
    // deny: red; allow: degraded but ready, or Kubernetes would drop every replica and the opt-in serve nothing
    // (state-readonly-readyz.test.ts).
    const ready = await request(`${h.adminUrl}/readyz`);
    t.equal(ready.statusCode, mode === 'deny' ? 503 : 200, `/readyz: ${mode === 'deny' ? 'red' : 'degraded, ready'}`);
    await ready.body.dump();
  });
}
