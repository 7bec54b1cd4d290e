// A key's upstream realtime session is opened by whichever bot logged in
// first, and logs in again after every drop. Once that bot is locked down (its
// credential record disabled) or removed, its credentials can no longer issue
// the key's token: the session must log in again with a bot still on it, or
// every other bot of the key silently loses its feed at the next drop.
import t from 'tap';
import path from 'node:path';
import { FIXTURES, startHarness, waitFor } from '../helpers/harness.js';
import { connectBot, isReal } from './ws-client.js';

t.test("the bot that opened a key's upstream session is locked down: after a drop the others' feed comes back", async (t) => {
  const h = await startHarness({
    sim: { wsQuoteIntervalMs: 3_600_000, wsPingIntervalMs: 200 },
    allowed: ['kind:query', 'kind:account', 'kind:realtime'],
    policyFile: path.join(FIXTURES, 'policy-realtime.yaml'),
    config: { realtime: { pingIntervalMs: 200, recheckMs: 100, lingerMs: 200, reconnectBaseMs: 50, reconnectMaxMs: 500 } },
  });
  t.teardown(() => h.close());
  const allowed = ['kind:query', 'kind:account', 'kind:realtime'];
  const opener = await connectBot(h.sidecar.realtimeUrl);
  t.teardown(() => opener.close());
  t.equal((await opener.login(await h.addBot('rt-opener', allowed))).return_code, 0);
  await waitFor(() => h.sim.stats().ws.sessions === 1, 10_000, 'the upstream session, opened for rt-opener');
  const other = await connectBot(h.sidecar.realtimeUrl);
  t.teardown(() => other.close());
  t.equal((await other.login(await h.addBot('rt-other', allowed))).return_code, 0);
  other.send({ trnm: 'REG', grp_no: '1', refresh: '1', data: [{ item: ['005930'], type: ['0B'] }] });
  t.equal((await other.next((f) => f.trnm === 'REG', 'REG ack')).return_code, 0);

  const admin = await h.adminToken('ops', 'admin');
  const r = await h.admin('POST', '/admin/v1/lockdown', admin, { bot: 'rt-opener', reason: 'drill' });
  t.ok(r.status < 300, r.status < 300 ? 'lockdown issued' : r.text);
  t.equal((await opener.closed).code, 4003, "the locked bot's session is closed");

  // Kiwoom ends the key's token (and with it the upstream session): a fresh token must be issued.
  const logins = h.sim.stats().ws.logins;
  h.sim.revokeAll();
  await waitFor(() => h.sim.stats().ws.logins > logins && h.sim.stats().ws.sessions === 1, 20_000, 'the upstream session logged in again');
  await waitFor(() => h.sim.pushQuote('005930') > 0, 20_000, 'registration replayed upstream');
  await other.next(isReal('0B', '005930'), 'rt-other gets its feed again');
});
