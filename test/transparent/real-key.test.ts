// Credentials in every mode are the bot id and bot secret. A bot that sends a
// real Kiwoom app key (here a canary that looks like one) is refused with a
// clear message, the key is never forwarded (the simulator issues nothing),
// never logged, never in a response or an audit record (only a keyed
// fingerprint), and a security alert goes out with kguard_real_key_presented_total counted.
import path from 'node:path';
import t from 'tap';
import { ProxyAgent, request } from 'undici';
import { hmacString } from '../../proxy/audit/keys.js';
import { readAuditRecords } from '../helpers/audit-sidecar-log.js';
import { waitFor } from '../helpers/harness.js';
import { startWebhookServer, type WebhookServer } from '../helpers/webhook-server.js';
import { kiwoomBot, startTransparent, type TransparentHarness } from './helpers.js';

// Shaped like a Kiwoom app key / secret key: long, mixed case, digits.
const REAL = { appKey: 'RealKiwoomAppKEY9x2Qm7Lp4Vt8Zr1Nc6Hs3Wd5Jf0Bg', secretKey: 'RealKiwoomSecretKEY7y3Pn8Kq2Xw6Mv1Tc9Ls4Hd0Rb5Gz' };

let th: TransparentHarness;
let hooks: WebhookServer;
t.before(async () => {
  hooks = await startWebhookServer();
  th = await startTransparent({
    config: { response: { webhooks: [{ url: `${hooks.url}/json`, kind: 'json' }], webhook: { backoffMs: 20, timeoutMs: 2000 } } },
  });
});
t.teardown(async () => {
  await th.close();
  await hooks.close();
});

t.test('a real Kiwoom app key is refused on the base-URL path and through the proxy, and raises one alert', async (t) => {
  const { h, ca } = th;
  const issuedBefore = h.sim.stats().tokensIssued;
  const direct = await h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: REAL.appKey, secretkey: REAL.secretKey }));
  t.equal(direct.status, 401);
  t.equal(direct.json.return_code, 3);
  t.match(String(direct.json.return_msg), /실제 키움 앱키는 사용할 수 없습니다.*봇 ID와 봇 시크릿.*\[KG2013\]/, 'a clear message (Korean by default)');

  const agent = new ProxyAgent({ uri: h.url, requestTls: { ca: ca.certPem } });
  t.teardown(() => agent.close());
  const bot = kiwoomBot(agent);
  const proxied = await bot.token(REAL.appKey, REAL.secretKey);
  t.equal(proxied.json.return_code, 3);
  t.match(String(proxied.json.return_msg), 'KG2013');
  const revoke = await bot.post('/oauth2/revoke', JSON.stringify({ appkey: REAL.appKey, secretkey: REAL.secretKey, token: 'x' }));
  t.match(String(revoke.json.return_msg), 'KG2013', 'the revoke path refuses it too');

  t.equal(h.sim.stats().tokensIssued, issuedBefore, 'never forwarded: Kiwoom issued nothing');
  const hook = await hooks.waitFor(1, 10_000, (x) => x.json.event === 'real_key_presented');
  t.match(hook[0]!.json, { event: 'real_key_presented', severity: 'CRITICAL' });
  const fp = hmacString(REAL.appKey, th.h.sidecar.parts.auditor.fingerprintKey);
  t.match(JSON.stringify(hook[0]!.json), fp, 'the alert names the key by its keyed fingerprint');
  await new Promise((r) => setTimeout(r, 200));
  t.equal(hooks.received.filter((x) => x.json.event === 'real_key_presented').length, 1, 'one alert per key per cooldown');

  const metrics = await (await request(`${h.adminUrl}/metrics`)).body.text();
  const n = metrics
    .split('\n')
    .filter((l) => l.startsWith('kguard_real_key_presented_total{'))
    .reduce((a, l) => a + Number(l.split(' ').at(-1)), 0);
  t.equal(n, 3, 'kguard_real_key_presented_total counts every refusal');

  const dir = path.join(h.dataDir, 'audit');
  await waitFor(async () => (await readAuditRecords(dir)).filter((r) => r.type === 'security.real_key_presented').length === 3, 10_000, 'audited');
  const records = await readAuditRecords(dir);
  t.ok(
    records.filter((r) => r.type === 'security.real_key_presented').every((r) => r.data.keyFingerprint === fp),
    'the audit record carries the fingerprint',
  );

  // The canary: the real key and its secret appear nowhere.
  const everywhere = [h.logs(), direct.text, proxied.text, revoke.text, JSON.stringify(records), hooks.received.map((x) => x.raw).join('\n'), metrics].join(
    '\n',
  );
  for (const v of [REAL.appKey, REAL.secretKey]) t.notOk(everywhere.includes(v), 'the real key is in no log, response, audit record, alert or metric');
});

t.test("a bot's own id and secret still work; an unknown lower-case id is an ordinary auth failure", async (t) => {
  const { h } = th;
  t.ok(await h.token(), 'bot id and secret exchange');
  const unknown = await h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: 'no-such-bot', secretkey: 'x' }));
  t.match(String(unknown.json.return_msg), 'KG2005');
});
