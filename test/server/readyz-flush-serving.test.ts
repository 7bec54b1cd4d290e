// Redis restarted empty: every bot call is refused KG7003 until an operator
// confirms the flush. /readyz stays 200 on purpose (taking every replica out
// of the Service would turn a clear Kiwoom-shaped refusal into connection
// errors for the bots, and stall any rollout), but it must not look healthy:
// before, its body said `ready: true` with the flush only as one warning among
// the checks, and kguard_ready was 1. Now the body says `serving: false` and
// names the check that refuses calls, and kguard_serving is 0 until confirmed.
import t from 'tap';
import { request } from 'undici';
import { startHarness, waitFor } from '../helpers/harness.js';
import { startRedis } from '../helpers/redis.js';

const redis = await startRedis();
t.teardown(() => redis.cleanup());
const h = await startHarness({
  config: { state: { backend: 'redis', redis: { url: redis.url, commandTimeoutMs: 2_000, maxReconnectDelayMs: 100 } }, risk: { enabled: false } },
});
t.teardown(() => h.close());

const readyz = async () => {
  const r = await request(`${h.adminUrl}/readyz`);
  return { status: r.statusCode, body: (await r.body.json()) as Record<string, unknown> };
};
const gauge = async (name: string) => {
  const text = await (await request(`${h.adminUrl}/metrics`)).body.text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
};

t.test('an unconfirmed flush: /readyz 200 but serving: false, kguard_serving 0; both back once confirmed', async (t) => {
  const token = await h.token();
  t.equal((await h.call('ka10001', { stk_cd: '005930' }, { token })).json.return_code, 0, 'a quote goes through');
  t.match(await readyz(), { status: 200, body: { ready: true, serving: true } }, 'healthy: ready and serving');
  t.equal(await gauge('kguard_serving'), 1, 'kguard_serving 1');

  await redis.restart(); // no persistence: back empty
  await waitFor(() => h.sidecar.parts.store.flushDetected(), 30_000, 'the flush detected');
  const quote = await h.call('ka10001', { stk_cd: '005930' }, { token });
  t.match(String(quote.json.return_msg), /KG7003/, 'calls are refused KG7003');
  const r = await readyz();
  t.equal(r.status, 200, '/readyz stays 200: the pod stays in the Service and bots get the KG7003 refusal');
  t.match(r.body, { ready: true, serving: false }, 'but the body says plainly that calls are not served');
  t.match(r.body, { checks: { 'state-flush': { ok: false, severity: 'warn', refusesCalls: true, reason: /KG7003.*confirm-flush/ } } }, 'naming why');
  t.equal(await gauge('kguard_ready'), 1, 'kguard_ready 1 (no NotReady page for a flush: its own alert fires)');
  t.equal(await gauge('kguard_serving'), 0, 'kguard_serving 0');

  await h.sidecar.parts.store.confirmFlush();
  t.match(await readyz(), { status: 200, body: { ready: true, serving: true } }, 'confirmed: serving again');
  t.equal(await gauge('kguard_serving'), 1, 'kguard_serving 1');
  t.equal((await h.call('ka10001', { stk_cd: '005930' }, { token })).json.return_code, 0, 'a quote goes through again');
});

t.test('Redis down: neither ready nor serving', async (t) => {
  await redis.kill();
  await waitFor(async () => (await readyz()).status === 503, 30_000, '/readyz red');
  t.match((await readyz()).body, { ready: false, serving: false, checks: { state: { ok: false } } });
  t.equal(await gauge('kguard_serving'), 0);
  await redis.restart();
});
