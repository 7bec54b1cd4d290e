// state.redis.readOnlyQueriesWhenDown: allow, under Kubernetes. With Redis
// down, /readyz went red on every replica, so the Service dropped them all and
// the opt-in served nothing. With `allow` the state check now reports degraded
// but ready (HTTP 200, the check named with why) on a replica that has read
// from Redis (its last-read session and lock flags judge the call), while
// orders stay refused; a replica that never reached Redis stays unready (it
// could serve nothing: every call's flags were never read there); with `deny`
// nothing changes. Real redis-server killed under real sidecars.
import t from 'tap';
import { request } from 'undici';
import { startHarness, waitFor, type Harness } from '../helpers/harness.js';
import { startRedis } from '../helpers/redis.js';

const QUOTE = { stk_cd: '005930' };
const BUY = { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '70000', trde_tp: '0' };
const readyz = async (h: Harness) => {
  const r = await request(`${h.adminUrl}/readyz`);
  return {
    status: r.statusCode,
    json: (await r.body.json()) as { ready: boolean; checks: Record<string, { ok: boolean; reason?: string; severity?: string; degraded?: boolean }> },
  };
};

for (const mode of ['deny', 'allow'] as const) {
  t.test(`readOnlyQueriesWhenDown: ${mode}, /readyz with Redis down`, async (t) => {
    const redis = await startRedis();
    t.teardown(() => redis.cleanup());
    const replica = (name: string) => ({
      state: { backend: 'redis', redis: { url: redis.url, commandTimeoutMs: 300, maxReconnectDelayMs: 200, readOnlyQueriesWhenDown: mode } },
      audit: { replicaId: name, sinks: [{ type: 'file', dir: `audit-${name}` }] },
      risk: { enabled: false },
    });
    const A = await startHarness({ config: replica('A') });
    t.teardown(() => A.close());
    const token = await A.token();
    t.equal((await A.call('ka10001', QUOTE, { token })).json.return_code, 0, 'a quote with Redis up');
    t.same((await readyz(A)).json.checks.clock, { ok: true }, "with Redis up, this replica's clock is compared with Redis'");
    const skew = /^kguard_clock_skew_seconds (\S+)$/m.exec(await (await request(`${A.adminUrl}/metrics`)).body.text())?.[1];
    t.ok(Number.isFinite(Number(skew)), `and the gauge reads it (${skew} s)`);
    await A.waitNoLiveTokens();
    await redis.kill();

    const orders = () => A.sim.requestLog().filter((r) => r.apiId === 'kt10000').length;
    const before = orders();
    const order = await A.call('kt10000', BUY, { token });
    t.match(String(order.json.return_msg), /KG7001/, 'an order fails closed');
    t.equal(orders(), before, 'no order reached the broker');

    const ready = await readyz(A);
    if (mode === 'deny') {
      t.equal(ready.status, 503, 'deny: /readyz red');
      t.match(ready.json.checks.state, { ok: false, reason: /KG7001/ }, 'naming the state store');
      t.notOk(ready.json.checks.state?.severity, 'not degraded: failed');
      return;
    }
    t.equal(ready.status, 200, 'allow: /readyz stays ready, so the Service keeps the replica');
    t.match(
      ready.json.checks.state,
      { ok: false, degraded: true, severity: 'warn', reason: /KG7001.*read-only/ },
      `the state check named as degraded, and why: ${ready.json.checks.state?.reason}`,
    );
    const quote = await A.call('ka10001', QUOTE, { token });
    t.equal(quote.json.return_code, 0, `a quote is served meanwhile: ${quote.text.slice(0, 120)}`);
    const metrics = await (await request(`${A.adminUrl}/metrics`)).body.text();
    t.match(metrics, /^kguard_ready 1$/m, 'kguard_ready agrees');

    // A replica that never reached Redis has nothing to judge a call on: it stays out of the Service.
    const B = await startHarness({ config: replica('B'), replicaOf: A });
    t.teardown(() => B.close());
    const bReady = await readyz(B);
    t.equal(bReady.status, 503, 'a replica started during the outage stays unready');
    t.match(bReady.json.checks.state, { ok: false }, 'naming the state store');
    t.notOk(bReady.json.checks.state?.degraded, 'not degraded: it never read from Redis');

    await redis.restart();
    await waitFor(async () => (await readyz(A)).json.checks.state?.ok === true, 30_000, 'A: state check ok once Redis is back');
    t.pass('the degraded mark goes once Redis answers');
  });
}
