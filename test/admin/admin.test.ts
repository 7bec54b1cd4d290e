// The admin listener: health endpoints without auth, the admin API with
// roles, bot disable/enable taking effect at once, and Kiwoom-shaped errors.
import t from 'tap';
import { request } from 'undici';
import { AdminTokens } from '../../proxy/admin/tokens.js';
import { startHarness, waitFor, type Harness } from '../helpers/harness.js';

let h: Harness;
let adminToken: string;
let viewerToken: string;
t.before(async () => {
  h = await startHarness();
  const tokens = AdminTokens.forDataDir(h.dataDir);
  adminToken = (await tokens.create('alice', 'admin')).toString('latin1');
  viewerToken = (await tokens.create('victor', 'viewer')).toString('latin1');
});
t.teardown(() => h.close());

async function admin(method: 'GET' | 'POST', path: string, token?: string, body?: unknown) {
  const res = await request(h.adminUrl + path, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
    body: method === 'POST' ? JSON.stringify(body ?? {}) : undefined,
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: JSON.parse(text) as Record<string, unknown>, text };
}

t.test('health endpoints', async (t) => {
  t.equal((await admin('GET', '/healthz')).status, 200);
  const ready = await admin('GET', '/readyz');
  t.equal(ready.status, 200);
  t.equal(ready.json.ready, true);
  const metrics = await request(`${h.adminUrl}/metrics`);
  t.equal(metrics.statusCode, 200);
  const text = await metrics.body.text();
  for (const name of ['kguard_requests_total', 'kguard_broker_tokens_outstanding', 'kguard_ready', 'kguard_policy_decisions_total']) {
    t.match(text, new RegExp(`^# HELP ${name}`, 'm'), `exports ${name}`);
  }
});

t.test('the admin API needs a token and the right role', async (t) => {
  t.equal((await admin('GET', '/admin/v1/bots')).status, 401);
  t.equal((await admin('GET', '/admin/v1/bots', `kga_${'x'.repeat(43)}`)).status, 401);
  const list = await admin('GET', '/admin/v1/bots', viewerToken);
  t.equal(list.status, 200);
  t.ok((list.json.bots as { id: string }[]).some((b) => b.id === h.botId));
  t.notMatch(list.text, /scrypt|salt|hash/, 'no secret hashes in the listing');
  const denied = await admin('POST', `/admin/v1/bots/${h.botId}/disable`, viewerToken);
  t.equal(denied.status, 403);
  t.match(String(denied.json.return_msg), /KG2009/);
  t.equal((await admin('GET', '/admin/v1/nope', adminToken)).status, 404);
});

t.test('disabling a bot ends its sessions at once; enabling restores it', async (t) => {
  const token = await h.token();
  t.equal((await h.call('ka10001', { stk_cd: '005930' }, { token })).json.return_code, 0);
  const off = await admin('POST', `/admin/v1/bots/${h.botId}/disable`, adminToken);
  t.equal(off.status, 200, off.text);
  const refused = await h.call('ka10001', { stk_cd: '005930' }, { token });
  t.equal(refused.status, 403);
  t.match(String(refused.json.return_msg), /KG2006/);
  const exchange = await h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: h.botId, secretkey: h.botSecret }));
  t.match(String(exchange.json.return_msg), /KG2006/, 'no new token for a disabled bot');
  t.equal((await admin('POST', `/admin/v1/bots/${h.botId}/enable`, adminToken)).status, 200);
  const fresh = await h.token();
  t.equal((await h.call('ka10001', { stk_cd: '005930' }, { token: fresh })).json.return_code, 0);
});

t.test('policy and broker-token views', async (t) => {
  const p = await admin('GET', '/admin/v1/policy', viewerToken);
  t.match((p.json.current as { version: string }).version, /^[0-9a-f]+$/);
  const reload = await admin('POST', '/admin/v1/policy/reload', adminToken);
  t.equal(reload.status, 200, reload.text);
  await h.waitNoLiveTokens();
  // The simulator forgets the token a moment before the sidecar's session marks it gone: wait for that too.
  await waitFor(async () => (await admin('GET', '/admin/v1/broker-tokens', viewerToken)).json.outstanding === 0, 20_000, 'no outstanding broker token');
  const bt = await admin('GET', '/admin/v1/broker-tokens', viewerToken);
  t.equal(bt.json.outstanding, 0);
});
