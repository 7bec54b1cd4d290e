// A real Kiwoom app key presented at the token exchange raises a CRITICAL
// alert to owners and admins. The exchange is unauthenticated: a peer that
// sends many different key-shaped values (no secret needed) must not page
// the security team once per value. Every presentation is still refused,
// counted and audited by fingerprint; the alert goes out once per source
// address per alert cool-down.
import t from 'tap';
import { Agent } from 'undici';
import { startHarness } from '../helpers/harness.js';
import { startWebhookServer } from '../helpers/webhook-server.js';

const FAKES = 6;
/** Key-shaped (long, mixed case, digits) and different each time. */
const fake = (i: number) => `FakeKiwoomAppKEY${i}x2Qm7Lp4Vt8Zr1Nc6Hs3Wd5Jf0Bg`;

t.test('many key-shaped app keys from one address raise one alert, not one each', async (t) => {
  const hooks = await startWebhookServer();
  const h = await startHarness({
    config: { response: { webhooks: [{ url: `${hooks.url}/json`, kind: 'json' }], webhook: { backoffMs: 20, timeoutMs: 2000 } } },
  });
  const elsewhere = new Agent({ localAddress: '127.0.0.2' });
  t.teardown(async () => {
    await elsewhere.close();
    await h.close();
    await hooks.close();
  });
  for (let i = 0; i < FAKES; i++) {
    const r = await h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: fake(i), secretkey: 'S'.repeat(40) }));
    t.match(String(r.json.return_msg), /\[KG2013/, `key ${i} refused (KG2013)`);
  }
  const other = await h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: fake(99), secretkey: 'S'.repeat(40) }), {}, elsewhere);
  t.match(String(other.json.return_msg), /\[KG2013/, 'from another address: refused too');
  await h.sidecar.parts.responder.flush();
  const alerts = hooks.received.filter((x) => x.json.event === 'real_key_presented');
  t.equal(alerts.length, 2, `one alert for 127.0.0.1's ${FAKES} keys and one for 127.0.0.2's (got ${alerts.length})`);
  const counted = (await h.sidecar.parts.registry.getSingleMetricAsString('kguard_real_key_presented_total')).match(/ (\d+)$/m)?.[1];
  t.equal(Number(counted), FAKES + 1, 'every presentation is counted');
});
