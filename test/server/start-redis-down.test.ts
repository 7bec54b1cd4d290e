// A replica (re)started while Redis is unreachable (a rollout or node drain
// during a Redis failover, Redis starting after the pods): the sidecar must
// start, serve /healthz, show /readyz red naming the state store, refuse calls
// (KG7001), and come good on its own once Redis answers, as a replica whose
// Redis drops while it runs does. Exiting instead puts the pod in a crash loop
// whose back-off (up to 5 minutes) outlasts the outage. Once back it must also
// hear what peers push (lockdowns, sessions ended): those channels were asked
// for while Redis was down.
import t from 'tap';
import { request } from 'undici';
import { startHarness, waitFor, type Harness } from '../helpers/harness.js';
import { redisCli, startRedis } from '../helpers/redis.js';

const redis = await startRedis();
t.teardown(() => redis.cleanup());
const replica = (name: string) => ({
  state: { backend: 'redis', redis: { url: redis.url, commandTimeoutMs: 2_000, maxReconnectDelayMs: 200 } },
  audit: { replicaId: name, sinks: [{ type: 'file', dir: `audit-${name}` }] },
  risk: { enabled: false },
});
const A: Harness = await startHarness({ config: replica('A') });
t.teardown(() => A.close());

const get = async (url: string) => {
  const r = await request(url);
  return { status: r.statusCode, json: (await r.body.json()) as Record<string, unknown> };
};
const numsub = async (channel: string) => Number((await redisCli(redis.port, 'PUBSUB', 'NUMSUB', `kguard:${channel}`)).split('\n')[1]);

t.test('a replica started while Redis is down starts unready, then serves once Redis is back', async (t) => {
  await redis.kill();
  let B: Harness | undefined;
  try {
    B = await startHarness({ config: replica('B'), replicaOf: A });
  } catch (err) {
    t.fail(`the replica did not start with Redis down: ${(err as Error).message}`);
    return;
  }
  t.teardown(() => B.close());
  t.equal((await get(`${B.adminUrl}/healthz`)).status, 200, '/healthz: the process serves (no restart by liveness)');
  const ready = await get(`${B.adminUrl}/readyz`);
  t.equal(ready.status, 503, '/readyz red');
  t.match(ready.json, { checks: { state: { ok: false } } }, 'naming the state store');
  const login = await B.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: B.botId, secretkey: B.botSecret }));
  t.match(String(login.json.return_msg), /KG7001/, `a login fails closed: ${login.text.slice(0, 120)}`);

  await redis.restart();
  await waitFor(async () => (await get(`${B.adminUrl}/readyz`)).status === 200, 30_000, 'B ready once Redis is back');
  // The test's redis-server comes back empty: A, which knew it, reports the loss; an operator confirms it.
  await waitFor(() => B.sidecar.parts.store.flushDetected(), 30_000, 'the empty Redis noticed');
  await B.sidecar.parts.store.confirmFlush();
  const token = await B.token();
  const quote = await B.call('ka10001', { stk_cd: '005930' }, { token });
  t.equal(quote.json.return_code, 0, `a quote goes through B: ${quote.text.slice(0, 160)}`);
  // Both replicas hear lockdowns and ended sessions pushed by peers (B asked while Redis was down).
  for (const channel of ['response:lockdown', 'auth:sessions-ended']) {
    await waitFor(async () => (await numsub(channel)) === 2, 30_000, `two subscribers of ${channel}`);
    t.pass(`${channel}: both replicas subscribed`);
  }
});
