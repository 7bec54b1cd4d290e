// A bot locked down gets no new sidecar token: a lockdown ends its sessions,
// and a token issued afterwards (its stolen secret still works at the token
// exchange) started a new session the incident had just ended — audited as
// session.issued during the incident, its secret confirmed good to whoever
// holds it, its realtime socket carried on under the newest token. The
// exchange now refuses it with the lockdown's own error (KG3008 naming the
// incident), after the secret is checked (an unknown caller learns nothing);
// revoking a token stays open, and the bot gets tokens again after the unlock.
import t from 'tap';
import { startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
t.before(async () => {
  h = await startHarness({ config: { response: { damage: { deadlineMs: 1_000 } } } });
});
t.teardown(() => h.close());

const exchange = (secret: string) => h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: h.botId, secretkey: secret }));

t.test('the token exchange refuses a locked-down bot, naming the incident', async (t) => {
  const before = await exchange(h.botSecret);
  t.equal(before.json.return_code, 0, 'a token before the lockdown');
  const admin = await h.adminToken('sec-lead', 'admin');
  const lock = await h.admin('POST', '/admin/v1/lockdown', admin, { bot: h.botId, reason: 'stolen secret' });
  t.equal(lock.status, 201, lock.text.slice(0, 200));
  const id = String(lock.json.id);

  const after = await exchange(h.botSecret);
  t.not(after.json.return_code, 0, `no token for a locked-down bot: ${after.text}`);
  t.notOk(after.json.token, 'no token in the answer');
  t.match(String(after.json.return_msg), /KG3008/, 'the lockdown error');
  t.match(String(after.json.return_msg), id, 'naming the incident');

  const wrong = await exchange('not-the-secret');
  t.notMatch(String(wrong.json.return_msg), /KG3008/, 'a wrong secret is told only that');
});
