// Review regression: the raw /oauth2/token and /oauth2/revoke body holds the
// bot secret; it must be zero-filled once the exchange is done, on success and
// on failure, not left for the garbage collector.
import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { BotRegistry, Sessions, exchangeToken, revokeToken } from '../../proxy/auth/index.js';
import { createMemoryStore } from '../../proxy/state/index.js';

t.test('token exchange and revoke wipe the raw body holding the bot secret', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kguard-review-'));
  const bots = await BotRegistry.open(dir);
  const store = createMemoryStore();
  t.teardown(async () => {
    bots.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const sessions = new Sessions(randomBytes(32), store, { ttlSeconds: 60, issuer: 'i', audience: 'a', clockToleranceSeconds: 0 });
  const { secret } = await bots.add({ id: 'bot-wipe', owner: 'o', account: '1' });
  const secretText = secret.toString('latin1');

  const ok = Buffer.from(JSON.stringify({ grant_type: 'client_credentials', appkey: 'bot-wipe', secretkey: secretText }));
  const { response } = await exchangeToken(ok, bots, sessions, 'ok');
  t.equal(ok.indexOf(secretText), -1, 'secret gone from the raw body after a successful exchange');

  const bad = Buffer.from(JSON.stringify({ grant_type: 'password', appkey: 'bot-wipe', secretkey: secretText }));
  await t.rejects(exchangeToken(bad, bots, sessions, 'ok'));
  t.equal(bad.indexOf(secretText), -1, 'secret gone from the raw body after a refused exchange');

  const rv = Buffer.from(JSON.stringify({ appkey: 'bot-wipe', secretkey: secretText, token: response.token }));
  await revokeToken(rv, bots, sessions);
  t.equal(rv.indexOf(secretText), -1, 'secret gone from the raw body after a revoke');
});
