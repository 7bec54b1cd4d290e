// Review regression: Kiwoom allows one WebSocket session per app key, and a
// second LOGIN with the key ends the first (SYSTEM R10001). When something
// other than the sidecar logged in with the key's token (the app key used
// outside the sidecar, a second deployment on the same key), the sidecar's
// upstream session was replaced and it only wrote a warn line naming a SYSTEM
// code, then logged in again at once and kicked the other side, which did the
// same: nothing an operator watches said the key was in use elsewhere. Now a
// replacement is counted (kguard_realtime_upstream_events_total{event=
// "replaced"}) and logged as an error, and the link's reconnect backs off
// while replacements follow one another instead of starting from the base
// delay after each successful LOGIN.
import t from 'tap';
import path from 'node:path';
import { request } from 'undici';
import { CANARY, FIXTURES, startHarness, waitFor } from '../helpers/harness.js';
import { connectBot } from './ws-client.js';

async function replacedCount(adminUrl: string): Promise<number> {
  const text = await (await request(`${adminUrl}/metrics`)).body.text();
  const m = /^kguard_realtime_upstream_events_total\{event="replaced"\} (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

t.test("another LOGIN with the key's token replacing the upstream session is counted", async (t) => {
  const h = await startHarness({
    sim: { wsQuoteIntervalMs: 0, wsConditionIntervalMs: 0 },
    allowed: ['kind:query', 'kind:realtime'],
    policyFile: path.join(FIXTURES, 'policy-realtime.yaml'),
  });
  t.teardown(() => h.close());
  const bot = await connectBot(h.sidecar.realtimeUrl);
  t.teardown(() => bot.close());
  t.equal((await bot.login(await h.token())).return_code, 0);
  await waitFor(() => h.sim.stats().ws.sessions === 1, 20_000, "the sidecar's upstream session");

  // The same app key used outside the sidecar: Kiwoom hands it the same token, and its LOGIN replaces ours.
  const issued = await request(`${h.sim.url}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json;charset=UTF-8' },
    body: JSON.stringify({ grant_type: 'client_credentials', appkey: CANARY.appKey, secretkey: CANARY.secretKey }),
  });
  const { token } = (await issued.body.json()) as { token: string };
  const intruder = await connectBot(h.sim.wsUrl);
  t.teardown(() => intruder.close());
  t.equal((await intruder.login(token)).return_code, 0);
  await waitFor(async () => (await replacedCount(h.adminUrl)) === 1, 20_000, 'the replacement counted').catch((err: Error) => t.fail(err.message));
  t.match(h.logs(), /R10001/, 'and logged');
});
