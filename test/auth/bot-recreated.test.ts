// A bot id that is removed and registered again is a new bot (another owner,
// another account, another secret): a session token issued to the earlier
// bot of that id must not work for the new one, over HTTP or the realtime
// LOGIN, though it is unexpired and its epoch is still current.
import t from 'tap';
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import { CANARY, startHarness, waitFor } from '../helpers/harness.js';
import { connectBot } from '../realtime/ws-client.js';

t.test("a removed bot's token does not work for a new bot registered under the same id", async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const bots = h.sidecar.parts.bots;
  const first = await bots.add({ id: 'reborn', owner: 'alice', account: CANARY.account, allowed: ['kind:query'] });
  const ex = (secret: Buffer) =>
    h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: 'reborn', secretkey: secret.toString('latin1') }));
  const old = String((await ex(first.secret)).json.token);
  first.secret.fill(0);

  await unlink(path.join(h.dataDir, 'bots', 'reborn.json'));
  await waitFor(() => bots.get('reborn') === undefined, 10_000, 'the registry to drop the removed bot');
  const second = await bots.add({ id: 'reborn', owner: 'bob', account: CANARY.account, allowed: ['kind:query'] });
  t.teardown(() => second.secret.fill(0));
  await h.sidecar.parts.vault.importCredentials({
    botId: 'reborn',
    account: CANARY.account,
    appKey: Buffer.from(CANARY.appKey),
    secretKey: Buffer.from(CANARY.secretKey),
  });

  const before = h.sim.stats().requests;
  const r = await h.call('ka10001', { stk_cd: '005930' }, { token: old });
  t.equal(r.status, 401, `the earlier bot's token is refused: ${r.text}`);
  t.match(String(r.json.return_msg), /\[KG2007/, 'as an ended session (KG2007)');
  t.equal(h.sim.stats().requests, before, 'nothing reached the simulator');

  const ws = await connectBot(h.sidecar.realtimeUrl);
  t.teardown(() => ws.close());
  const login = await ws.login(old);
  t.equal(login.return_code, 3, `realtime LOGIN with the earlier bot's token is refused: ${JSON.stringify(login)}`);
  t.match(String(login.return_msg), /KG2007/, 'as an ended session');

  const fresh = await ex(second.secret);
  t.equal(fresh.json.return_code, 0, 'the new bot logs in with its own secret');
  const ok = await h.call('ka10001', { stk_cd: '005930' }, { token: String(fresh.json.token) });
  t.equal(ok.json.return_code, 0, `and its token works: ${ok.text}`);
});
