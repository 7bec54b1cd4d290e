// Kiwoom's realtime WebSocket as public clients meet it. Kiwoom sometimes sends its heartbeat as the bare text
// `PING` instead of {"trnm":"PING"}: Kiwoom's own Python client (Kiwoom-Securities/Kiwoom-REST-API,
// kiwoom/core/ws_client.py _is_ping_message) and kenshin579/kiwoom-go (internal/wstransport/conn.go readEnvelope,
// "the server sometimes sends an unquoted PING string") both take it and echo it unchanged. The sidecar's upstream
// session must too, or Kiwoom ends it for a missing heartbeat (R10002) and every bot of the key loses its stream.
import t, { type Test } from 'tap';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { startHarness, FIXTURES, waitFor } from '../helpers/harness.js';
import { issueToken } from '../helpers/sim.js';
import { connectBot, isReal } from './ws-client.js';

/** A sidecar in front of the simulator (sim and config overrides as given) and a bot on its realtime socket, logged in. */
async function loggedInBot(t: Test, opts: { sim?: Record<string, unknown>; config?: Record<string, unknown> } = {}) {
  const h = await startHarness({
    sim: { wsQuoteIntervalMs: 0, ...opts.sim } as never,
    allowed: ['kind:query', 'kind:account', 'kind:realtime'],
    policyFile: path.join(FIXTURES, 'policy-realtime.yaml'),
    ...(opts.config ? { config: opts.config } : {}),
  });
  t.teardown(() => h.close());
  const s = await connectBot(h.sidecar.realtimeUrl);
  t.teardown(() => s.close());
  const login = await s.login(await h.token());
  return { h, s, login };
}

t.test("a bare-text PING from Kiwoom is echoed unchanged and the key's session carries on", async (t) => {
  const echoes: string[] = [];
  let logins = 0;
  let heartbeatsSent = 0;
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  t.teardown(() => new Promise<void>((r) => wss.close(() => r())));
  wss.on('connection', (ws) => {
    // Kiwoom's heartbeat: a bare PING; left unanswered (here 100 in a row, generous for a loaded machine) it ends the
    // session with SYSTEM R10002, as the simulator does after three.
    let unanswered = 0;
    let timer: NodeJS.Timeout | undefined;
    ws.on('close', () => clearInterval(timer));
    ws.on('message', (d) => {
      const text = d.toString();
      if (text.trim().toUpperCase() === 'PING') {
        echoes.push(text);
        unanswered = 0;
        return;
      }
      const f = JSON.parse(text) as Record<string, unknown>;
      if (f.trnm === 'LOGIN') {
        logins++;
        ws.send(JSON.stringify({ trnm: 'LOGIN', return_code: 0, return_msg: '', sor_yn: 'Y' }));
        timer = setInterval(() => {
          if (++unanswered > 100) {
            ws.send(JSON.stringify({ trnm: 'SYSTEM', code: 'R10002', message: 'heartbeat missing' }));
            ws.close();
            return;
          }
          heartbeatsSent++;
          ws.send(heartbeatsSent % 2 ? 'PING' : ' ping\n');
        }, 50);
      } else if (f.trnm === 'REG') {
        ws.send(JSON.stringify({ trnm: 'REG', return_code: 0, return_msg: '' }));
        ws.send(JSON.stringify({ trnm: 'REAL', data: [{ type: '0B', name: '주식체결', item: '005930', values: { '10': '+60700' } }] }));
      }
    });
  });
  const port = (wss.address() as AddressInfo).port;
  const { h, s, login } = await loggedInBot(t, {
    config: { realtime: { url: `ws://127.0.0.1:${port}/api/dostk/websocket`, reconnectBaseMs: 20, reconnectMaxMs: 100 } },
  });
  t.equal(login.return_code, 0);
  s.send({ trnm: 'REG', grp_no: '1', refresh: '1', data: [{ item: ['005930'], type: ['0B'] }] });
  await s.next(isReal('0B', '005930'), 'the push after REG');
  const echoed = await waitFor(() => echoes.length >= 6, 20_000, 'six bare PINGs echoed').then(
    () => true,
    () => false,
  );
  t.ok(echoed, 'the bare PINGs are echoed');
  t.ok(echoes.includes('PING') && echoes.includes(' ping\n'), 'each echoed as it came, byte for byte');
  t.equal(logins, 1, 'one upstream login: the session was never ended for a missing heartbeat');
  t.notOk(h.logs().includes('malformed upstream frame'), 'no heartbeat taken for a malformed frame');
});

/** A bot logged in that registers `type` market-wide (item ""), taken by the sidecar and held at the simulator. */
async function marketWide(t: Test, type: string) {
  const { h, s, login } = await loggedInBot(t);
  t.equal(login.return_code, 0);
  s.send({ trnm: 'REG', grp_no: '1', refresh: '1', data: [{ item: [''], type: [type] }] });
  const reg = await s.next((f) => f.trnm === 'REG', 'the REG reply');
  t.equal(reg.return_code, 0, JSON.stringify(reg));
  await waitFor(() => h.sim.stats().ws.registrations === 1, 20_000, 'the registration held at Kiwoom');
  t.equal(h.sim.stats().ws.registrations, 1, 'registered upstream too');
  /** The reply to the next REG sent. */
  const next = async (data: unknown, grp = '1') => {
    s.send({ trnm: 'REG', grp_no: grp, refresh: '1', data });
    return s.next((f) => f.trnm === 'REG' && f !== reg, 'the second REG reply');
  };
  return { next };
}

t.test('Kiwoom\'s own 0s (장시작시간) registration, item "", is taken by the sidecar and the simulator alike', async (t) => {
  // Kiwoom-Securities/Kiwoom-REST-API examples/국내주식/실시간시세/subscribe_domestic_market_open_time_async.py:
  // items=[''], types=['0s'] — a market-wide type, no stock.
  const { next } = await marketWide(t, '0s');
  t.not((await next([{ item: [''], type: ['0B'] }])).return_code, 0, 'a stock type without a stock is still refused');
});

// Later review (a bot author's): Kiwoom's VI example registers 1h market-wide the same way
// (examples/국내주식/실시간시세/subscribe_domestic_vi_event_async.py: items=[''], types=['1h']); the sidecar refused it
// (bad item code), so a bot following Kiwoom's example got no VI events.
t.test('Kiwoom\'s own 1h (VI발동/해제) registration, item "", is taken; so is 1h for one stock', async (t) => {
  const { next } = await marketWide(t, '1h');
  const one = await next([{ item: ['005930'], type: ['1h'] }], '2');
  t.equal(one.return_code, 0, JSON.stringify(one));
});

t.test("Kiwoom's realtime answers: a text return_code '0' is success, a blank or missing one is not", async (t) => {
  // Number('') and Number(null) are 0: read that way, an answer that says nothing was taken for an acceptance.
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  t.teardown(() => new Promise<void>((r) => wss.close(() => r())));
  const codes: Record<string, unknown> = { '005930': '0', '000660': '', '035420': null };
  wss.on('connection', (ws) => {
    ws.on('message', (d) => {
      const f = JSON.parse(d.toString()) as Record<string, unknown>;
      if (f.trnm === 'LOGIN') ws.send(JSON.stringify({ trnm: 'LOGIN', return_code: '0', return_msg: '' }));
      else if (f.trnm === 'REG') {
        const item = String((f.data as Array<{ item: string[] }>)[0]!.item[0]);
        ws.send(JSON.stringify({ trnm: 'REG', return_code: codes[item], return_msg: '' }));
      }
    });
  });
  const port = (wss.address() as AddressInfo).port;
  const { s, login } = await loggedInBot(t, {
    config: { realtime: { url: `ws://127.0.0.1:${port}/api/dostk/websocket`, reconnectBaseMs: 20, reconnectMaxMs: 100 } },
  });
  t.equal(login.return_code, 0, 'a LOGIN answered with the text "0" logs the key in');
  for (const [item, expected] of [
    ['005930', 'accepted'],
    ['000660', 'refused'],
    ['035420', 'refused'],
  ] as const) {
    s.send({ trnm: 'REG', grp_no: '1', refresh: '1', data: [{ item: [item], type: ['0B'] }] });
    const reg = await s.next((f) => f.trnm === 'REG', `the REG reply for ${item}`);
    if (expected === 'accepted') t.equal(reg.return_code, 0, `return_code "0" is success: ${JSON.stringify(reg)}`);
    else t.match(String(reg.return_msg), /KG5009/, `return_code ${JSON.stringify(codes[item])} is not success: ${JSON.stringify(reg)}`);
  }
});

t.test("KiwoomRestApi.Net's UnsubscribeAllAsync (REG, refresh 0, no data) releases the bot's group, in the sidecar and the simulator", async (t) => {
  // dongbin300/KiwoomRestApi.Net KiwoomRestApiClientDomesticStockWebSocket.UnsubscribeAllAsync sends
  // {"trnm":"REG","grp_no":"1","refresh":"0","data":[]} (KiwoomWebSocketSendMessage.Data defaults to []). Kiwoom's spec
  // marks data optional (grp_no, refresh, trnm required) and says refresh 0 releases what was registered.
  const unsubscribeAll = { trnm: 'REG', grp_no: '1', refresh: '0', data: [] };
  const { h, s, login } = await loggedInBot(t);
  t.equal(login.return_code, 0);
  s.send({ trnm: 'REG', grp_no: '1', refresh: '1', data: [{ item: ['005930', '000660'], type: ['0B'] }] });
  t.equal((await s.next((f) => f.trnm === 'REG', 'the REG answer')).return_code, 0);
  s.send({ trnm: 'REG', grp_no: '2', refresh: '1', data: [{ item: ['035420'], type: ['0B'] }] });
  t.equal((await s.next((f) => f.trnm === 'REG', 'the group 2 REG answer')).return_code, 0);
  await waitFor(() => h.sim.stats().ws.registrations === 3, 20_000, 'three registrations at Kiwoom');

  s.send({ trnm: 'REG', grp_no: '1', refresh: '1' });
  const keep = await s.next((f) => f.trnm === 'REG', 'the answer to a REG without data, refresh 1');
  t.equal(keep.return_code, 0, `refresh 1 without data is taken and changes nothing: ${JSON.stringify(keep)}`);
  s.send(unsubscribeAll);
  const cleared = await s.next((f) => f.trnm === 'REG', 'the UnsubscribeAllAsync answer');
  t.equal(cleared.return_code, 0, `taken: ${JSON.stringify(cleared)}`);
  await waitFor(() => h.sim.stats().ws.registrations === 1, 20_000, "group 1's registrations released at Kiwoom");
  t.equal(h.sim.stats().ws.registrations, 1, "group 1 released upstream, the bot's group 2 kept");
  s.send({ trnm: 'REMOVE', grp_no: '2', data: [] });
  const remove = await s.next((f) => f.trnm === 'REMOVE', 'the answer to a REMOVE without data');
  t.not(remove.return_code, 0, 'a REMOVE must still name what it removes');

  // The simulator, as Kiwoom: the same frame straight to it.
  const direct = await connectBot(h.sim.wsUrl);
  t.teardown(() => direct.close());
  // Another app key than the sidecar's: its upstream session is left alone (one session per app key).
  const app = { appKey: 'compat-direct-app', secretKey: 'compat-direct-secret', accountNo: '5020000001' };
  h.sim.registerApp(app);
  t.equal((await direct.login(await issueToken(h.sim.url, app.appKey, app.secretKey))).return_code, 0);
  direct.send({ trnm: 'REG', grp_no: '7', refresh: '1', data: [{ item: ['005930'], type: ['0B'] }] });
  t.equal((await direct.next((f) => f.trnm === 'REG', 'the simulator REG answer')).return_code, 0);
  direct.send({ trnm: 'REG', grp_no: '7', refresh: '1' });
  t.equal((await direct.next((f) => f.trnm === 'REG', 'the simulator answer to refresh 1 without data')).return_code, 0);
  direct.send(unsubscribeAll);
  t.equal((await direct.next((f) => f.trnm === 'REG', 'the simulator UnsubscribeAllAsync answer')).return_code, 0, 'the simulator takes it');
  direct.send({ trnm: 'REMOVE', grp_no: '7', data: [] });
  t.not((await direct.next((f) => f.trnm === 'REMOVE', 'the simulator REMOVE answer')).return_code, 0, 'the simulator refuses a REMOVE without data');
});

t.test("Kiwoom's own 0I (국제금환산가격) registration, item 'MGD', is taken by the sidecar and the simulator alike", async (t) => {
  // Kiwoom-Securities/Kiwoom-REST-API examples/국내주식/실시간시세/subscribe_domestic_international_gold_converted_price_async.py:
  // items=['MGD'], types=['0I'] — an international gold price, not a stock code.
  const { h, s, login } = await loggedInBot(t);
  t.equal(login.return_code, 0);
  s.send({ trnm: 'REG', grp_no: '1', refresh: '1', data: [{ item: ['MGD'], type: ['0I'] }] });
  const reg = await s.next((f) => f.trnm === 'REG', 'the REG answer');
  t.equal(reg.return_code, 0, JSON.stringify(reg));
  t.equal(h.sim.stats().ws.registrations, 1, 'registered at Kiwoom too');
  s.send({ trnm: 'REG', grp_no: '1', refresh: '1', data: [{ item: ['MGD'], type: ['0B'] }] });
  const refused = await s.next((f) => f.trnm === 'REG', 'the 0B REG answer');
  t.not(refused.return_code, 0, 'a stock type still takes stock codes only');
});

t.test('a condition search the sidecar refuses is answered with its seq, as Kiwoom answers one, so a client waiting on that seq hears it', async (t) => {
  // A public client waits for `trnm == "CNSRREQ" and str(seq).strip() == condition_id` (Kiwoom's answers, the
  // simulator's too, echo seq): an answer without seq was skipped and the client sat out its 15 s time-out.
  const { s, login } = await loggedInBot(t, { sim: { wsConditionIntervalMs: 0 }, config: { realtime: { maxLiveSearchesPerBot: 1 } } });
  t.equal(login.return_code, 0);
  const answerTo = (seq: string) => (f: Record<string, unknown>) => f.trnm === 'CNSRREQ' && String(f.seq ?? '').trim() === seq;
  s.send({ trnm: 'CNSRLST' });
  await s.next((f) => f.trnm === 'CNSRLST', 'the condition list');
  s.send({ trnm: 'CNSRREQ', seq: '1', search_type: '1', stex_tp: 'K' });
  t.equal((await s.next(answerTo('1'), 'the answer for seq 1')).return_code, 0, 'the first live search runs');
  s.send({ trnm: 'CNSRREQ', seq: '2', search_type: '1', stex_tp: 'K' });
  const refused = await s.next(answerTo('2'), 'the answer for seq 2, found by its seq');
  t.not(refused.return_code, 0, 'over the per-bot cap: refused');
  t.match(String(refused.return_msg), /KG3018/, 'by the sidecar, naming the cap');
});
