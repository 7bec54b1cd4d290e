// A bot pinned to its machines (risk.location.botCidrs): a REST call from any other address scores 1 on the cidr
// detector and locks the bot down. Its realtime socket is the same bot from the same place: a stolen sidecar token
// used from outside the range must not get the account's order and balance pushes (00, 04) without a word. The
// login from outside is judged as a REST call from there is: refused and the bot locked down; the bot's own socket
// from its pinned address logs in and registers as before.
import path from 'node:path';
import t from 'tap';
import { Agent } from 'undici';
import { CANARY, FIXTURES, startHarness, waitFor } from '../helpers/harness.js';
import { connectBot, isReal } from './ws-client.js';

const BOT = 'pinned-bot';
const PINNED = '127.0.0.2';
const h = await startHarness({
  botId: BOT,
  allowed: ['kind:query', 'kind:account', 'kind:realtime', 'kind:order'],
  policyFile: path.join(FIXTURES, 'policy-realtime.yaml'),
  sim: { wsQuoteIntervalMs: 0, wsConditionIntervalMs: 0 },
  config: { risk: { location: { botCidrs: { [BOT]: [`${PINNED}/32`] } } } },
});
const pinned = new Agent({ localAddress: PINNED });
t.teardown(async () => {
  await pinned.close();
  await h.close();
});
const ORDER = { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '60000', trde_tp: '0' };

t.test("the bot's own socket, from its pinned address, logs in and gets its account's order pushes", async (t) => {
  const token = await h.token(pinned);
  const ws = await connectBot(h.sidecar.realtimeUrl, { localAddress: PINNED });
  t.teardown(() => ws.close());
  t.equal((await ws.login(token)).return_code, 0, 'logged in');
  ws.send({ trnm: 'REG', grp_no: '2', refresh: '1', data: [{ item: [''], type: ['00'] }] });
  t.equal((await ws.next((f) => f.trnm === 'REG', 'REG ack')).return_code, 0, 'registered for order pushes');
  const order = await h.call('kt10000', ORDER, { token, dispatcher: pinned });
  t.equal(order.json.return_code, 0, order.text);
  await ws.next(isReal('00'), 'the order push');
});

t.test('a socket from outside the pinned range is refused at login and the bot locked down, as a REST call from there is', async (t) => {
  const token = await h.token(pinned);
  // The stolen token, from another machine (127.0.0.1 is outside 127.0.0.2/32).
  const ws = await connectBot(h.sidecar.realtimeUrl);
  t.teardown(() => ws.close());
  ws.send({ trnm: 'LOGIN', token });
  const login = await ws.next((f) => f.trnm === 'LOGIN', 'LOGIN reply', 10_000).catch(() => undefined);
  t.not(login?.return_code, 0, `not logged in: ${JSON.stringify(login)}`);
  if (login?.return_code === 0) {
    // What the attacker gets otherwise: the account's fills.
    ws.send({ trnm: 'REG', grp_no: '2', refresh: '1', data: [{ item: [''], type: ['00'] }] });
    await ws.next((f) => f.trnm === 'REG', 'REG ack');
    await h.call('kt10000', ORDER, { token, dispatcher: pinned });
    t.notOk(
      await ws.next(isReal('00'), 'an order push', 5_000).then(
        () => true,
        () => false,
      ),
      'no order push reaches the socket',
    );
  }
  const closed = await Promise.race([ws.closed, new Promise<undefined>((r) => setTimeout(() => r(undefined), 10_000).unref())]);
  t.ok(closed, 'the socket is closed');
  t.match(`${closed?.reason} ${JSON.stringify(ws.frames)}`, /KG3008/, `told why: an automatic lockdown (KG3008): ${closed?.reason}`);
  await waitFor(async () => (await h.sidecar.parts.responder.lockedBy(BOT, CANARY.account)) !== undefined, 10_000, 'the lock flags').catch(() => undefined);
  t.ok(await h.sidecar.parts.responder.lockedBy(BOT, CANARY.account), 'the bot is locked down');
});
