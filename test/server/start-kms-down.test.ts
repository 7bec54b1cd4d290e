// A replica (re)started while AWS KMS does not answer (a rollout or node drain
// during a KMS or network outage): it must start, serve /healthz, show /readyz
// red naming the vault, decrypt and forward nothing (a Kiwoom-shaped KG4001),
// and serve on its own once KMS answers. Exiting instead put the pod in a
// crash loop whose back-off (up to 5 minutes) outlasts the outage, with no
// admin listener (lockdown, /metrics). A KMS that answers no (no such key,
// access denied) still stops the start with its reason. Real SDK against the
// KMS-wire test server; real redis-server shared by the replicas.
import t from 'tap';
import { request } from 'undici';
import { startHarness, waitFor, type Harness } from '../helpers/harness.js';
import { startFakeKms, useFakeAwsCredentials } from '../helpers/fake-kms.js';
import { startRedis } from '../helpers/redis.js';

const kms = await startFakeKms();
t.teardown(() => kms.close());
kms.createKey({ alias: 'alias/kguard-start' });
useFakeAwsCredentials(t);
const redis = await startRedis();
t.teardown(() => redis.cleanup());
const replica = (name: string, keyId = 'alias/kguard-start') => ({
  // /readyz asks KMS every 500 ms here (default 10 s), so the end of the outage shows at once.
  vault: { provider: 'aws-kms', awsKms: { keyId, region: kms.region, endpoint: kms.url, maxAttempts: 1 }, healthProbeMs: 500 },
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
const sent = () => A.sim.requestLog().filter((r) => r.apiId === 'ka10001').length;

t.test('a replica started while KMS does not answer starts unready, refuses calls, then serves once KMS answers', async (t) => {
  await kms.stop();
  t.teardown(() => kms.start());
  let B: Harness | undefined;
  try {
    B = await startHarness({ config: replica('B'), replicaOf: A });
  } catch (err) {
    t.fail(`the replica did not start with KMS down: ${(err as Error).message}`);
    return;
  }
  t.teardown(() => B.close());
  t.equal((await get(`${B.adminUrl}/healthz`)).status, 200, '/healthz: the process serves (no restart by liveness)');
  const ready = await get(`${B.adminUrl}/readyz`);
  t.equal(ready.status, 503, '/readyz red');
  t.match(ready.json, { checks: { vault: { ok: false, reason: /KG4001.*kms DescribeKey: ECONNREFUSED/ } } }, 'naming the key provider and why');
  const metrics = await request(`${B.adminUrl}/metrics`);
  t.match(await metrics.body.text(), /kguard_kms_requests_total\{op="DescribeKey",outcome="error"\}/, '/metrics serves and shows KMS failing');

  const before = sent();
  const token = await B.token();
  const quote = await B.call('ka10001', { stk_cd: '005930' }, { token });
  t.not(quote.json.return_code, 0, 'a call is refused');
  t.match(String(quote.json.return_msg), /KG4001/, `Kiwoom-shaped, naming the key provider: ${quote.text.slice(0, 160)}`);
  t.equal(sent(), before, 'nothing reached Kiwoom');

  await kms.start();
  await waitFor(async () => (await get(`${B.adminUrl}/readyz`)).status === 200, 60_000, 'B ready once KMS answers');
  const ok = await B.call('ka10001', { stk_cd: '005930' }, { token });
  t.equal(ok.json.return_code, 0, `a quote goes through B: ${ok.text.slice(0, 160)}`);
});

t.test('one process on memory state (its ledger in a file) started while KMS does not answer: the same', async (t) => {
  await kms.stop();
  t.teardown(() => kms.start());
  const { state: _shared, ...local } = replica('E');
  let E: Harness | undefined;
  try {
    E = await startHarness({ config: local, replicaOf: A });
  } catch (err) {
    t.fail(`the sidecar did not start with KMS down: ${(err as Error).message}`);
    return;
  }
  t.teardown(() => E.close());
  t.match((await get(`${E.adminUrl}/readyz`)).json, { checks: { vault: { ok: false } } }, '/readyz names the vault');
  const before = sent();
  const token = await E.token();
  const refused = await E.call('ka10001', { stk_cd: '005930' }, { token });
  t.match(String(refused.json.return_msg), /KG4001/, `refused, Kiwoom-shaped: ${refused.text.slice(0, 120)}`);
  t.equal(sent(), before, 'nothing reached Kiwoom');
  await kms.start();
  await waitFor(async () => (await get(`${E.adminUrl}/readyz`)).status === 200, 60_000, 'E ready once KMS answers');
  const ok = await E.call('ka10001', { stk_cd: '005930' }, { token });
  t.equal(ok.json.return_code, 0, `a quote goes through: ${ok.text.slice(0, 120)}`);
});

t.test('a KMS that answers no still stops the start, with its reason', async (t) => {
  const refused = async (config: Record<string, unknown>) => {
    try {
      const h = await startHarness({ config, replicaOf: A });
      await h.close();
      return 'started';
    } catch (err) {
      return (err as Error).message;
    }
  };
  t.match(await refused(replica('C', 'alias/kguard-no-such-key')), /KG4001.*NotFoundException/, 'no such key');
  kms.denyAll = true;
  t.teardown(() => {
    kms.denyAll = false;
  });
  t.match(await refused(replica('D')), /KG4001.*AccessDeniedException/, 'access denied');
});
