// Realtime limits and routing details on one sidecar: a bot that stops
// reading is cut off alone (close 4008), a bot that ignores PING is closed,
// per-bot caps, the :10000 mirror port, and condition search results only for the bots that started
// the search, cleared upstream only when the last of them stops.
import t from 'tap';
import path from 'node:path';
import { request } from 'undici';
import { startHarness, FIXTURES, waitFor, type Harness } from '../helpers/harness.js';
import { connectBot, isReal, type BotSocket } from './ws-client.js';

let h: Harness;
t.before(async () => {
  h = await startHarness({
    sim: { wsQuoteIntervalMs: 0, wsConditionIntervalMs: 0 },
    policyFile: path.join(FIXTURES, 'policy-realtime.yaml'),
    config: {
      realtime: {
        port: 0,
        pingIntervalMs: 2_000,
        maxMissedPings: 3,
        recheckMs: 200,
        lingerMs: 200,
        maxBufferedBytes: 64 * 1024,
        maxRegistrationsPerBot: 5,
        maxLiveSearchesPerBot: 2,
      },
    },
  });
});
t.teardown(() => h.close());

let n = 0;
async function bot(opts: { echoPing?: boolean } = {}): Promise<BotSocket> {
  const id = `rl-${++n}`;
  const token = await h.addBot(id, ['kind:query', 'kind:account', 'kind:realtime']);
  const s = await connectBot(h.sidecar.realtimeUrl, opts);
  t.teardown(() => s.close());
  const reply = await s.login(token);
  if (reply.return_code !== 0) throw new Error(`login failed: ${JSON.stringify(reply)}`);
  return s;
}

async function metric(name: string): Promise<string> {
  const text = await (await request(`${h.adminUrl}/metrics`)).body.text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .join('\n');
}

const reg = (s: BotSocket, items: string[]) => {
  s.send({ trnm: 'REG', grp_no: '1', refresh: '1', data: [{ item: items, type: ['0B'] }] });
  return s.next((f) => f.trnm === 'REG', 'REG reply');
};

t.test("realtime.port: a second port that mirrors Kiwoom's :10000 serves only the WebSocket", async (t) => {
  t.not(new URL(h.sidecar.realtimeUrl).port, new URL(h.url).port, 'the bots in this file use the mirror port');
  const plain = await request(h.sidecar.realtimeUrl.replace(/^ws/, 'http'), { method: 'GET' });
  t.equal(plain.statusCode, 426);
  await plain.body.dump();
  const other = await request(`${h.sidecar.realtimeUrl.replace(/^ws/, 'http').replace('/api/dostk/websocket', '/oauth2/token')}`, {
    method: 'POST',
    body: '{}',
  });
  t.equal(other.statusCode, 426, 'no REST on the mirror');
  await other.body.dump();
});

t.test('a bot that stops reading is disconnected alone; the others keep their feed', async (t) => {
  const slow = await bot();
  const fast = await bot();
  t.equal((await reg(slow, ['005930'])).return_code, 0);
  t.equal((await reg(fast, ['005930'])).return_code, 0);
  // The bot stops reading: its TCP socket is paused and ws may not resume it.
  const sock = (slow.ws as unknown as { _socket: import('node:net').Socket })._socket;
  const resume = sock.resume.bind(sock);
  sock.resume = () => sock;
  sock.pause();
  // The simulator skips quotes to a reader it cannot write to, so it is given time to flush between
  // bursts. Pushes go on until the cut-off is seen: how many it takes depends on the kernel's socket
  // buffers and on how busy the machine is, so only the event is waited for (deadline generous).
  // A reader that stopped also stops answering PING: on a starved machine the ping cut-off (after
  // maxMissedPings intervals) can come before the buffer fills. Either is the sidecar cutting it off.
  let pushes = 0;
  let closedFor: string | undefined;
  const deadline = Date.now() + 120_000;
  while (!closedFor && Date.now() < deadline) {
    for (let j = 0; j < 20; j++) h.sim.pushQuote('005930');
    pushes += 20;
    await new Promise((r) => setTimeout(r, 1));
    if (pushes % 2_000 !== 0) continue;
    const closes = await metric('kguard_realtime_closes_total');
    closedFor = ['slow', 'ping'].find((reason) => closes.includes(`{reason="${reason}"} 1`));
  }
  t.ok(closedFor, `the slow bot was disconnected (${closedFor ?? 'not'}, after ${pushes} pushes)`);
  const before = fast.frames.length;
  await waitFor(
    () => {
      h.sim.pushQuote('005930');
      return fast.frames.slice(before).some(isReal('0B', '005930'));
    },
    20_000,
    'the reading bot still gets pushes',
  );
  sock.resume = resume;
  sock.resume();
  const end = await slow.closed;
  t.ok([4008, 4002, 1006].includes(end.code), `closed (${end.code})`);
});

t.test('a bot that ignores PING is closed', async (t) => {
  const silent = await bot({ echoPing: false });
  const closed = await silent.closed;
  t.equal(closed.code, 4002);
});

t.test('per-bot caps: registrations and live condition searches', async (t) => {
  const s = await bot();
  t.equal((await reg(s, ['005930', '000660', '035420'])).return_code, 0);
  const over = await reg(s, ['005380', '051910', '006400']);
  t.match(String(over.return_msg), /KG3018/, 'six registrations exceed the cap of five');
  s.send({ trnm: 'CNSRLST' });
  await s.next((f) => f.trnm === 'CNSRLST', 'list');
  for (const seq of ['0', '1']) {
    s.send({ trnm: 'CNSRREQ', seq, search_type: '1', stex_tp: 'K' });
    t.equal((await s.next((f) => f.trnm === 'CNSRREQ', 'live search')).return_code, 0);
  }
  s.send({ trnm: 'CNSRREQ', seq: '2', search_type: '1', stex_tp: 'K' });
  t.match(String((await s.next((f) => f.trnm === 'CNSRREQ', 'third live search')).return_msg), /KG3018/);
});

t.test('condition results go only to the bots that started the search; cleared upstream with the last of them', async (t) => {
  const a = await bot();
  const b = await bot();
  const c = await bot();
  for (const s of [a, b]) {
    s.send({ trnm: 'CNSRLST' });
    await s.next((f) => f.trnm === 'CNSRLST', 'list');
    s.send({ trnm: 'CNSRREQ', seq: '3', search_type: '1', stex_tp: 'K' });
    t.equal((await s.next((f) => f.trnm === 'CNSRREQ', 'live search')).return_code, 0);
  }
  t.equal((await reg(c, ['000660'])).return_code, 0);
  const ev = h.sim.triggerCondition('3', { stkCd: '005930', kind: 'I' });
  t.equal(ev.pushes, 1, 'one upstream session receives the result');
  await a.next(isReal('02'), 'A gets the result');
  await b.next(isReal('02'), 'B gets the result');
  h.sim.pushQuote('000660');
  t.notOk(isReal('02')(await c.next((f) => f.trnm === 'REAL', 'C next push')), 'C never got a result');

  a.send({ trnm: 'CNSRCLR', seq: '3' });
  await a.next((f) => f.trnm === 'CNSRCLR', 'A clear');
  t.equal(h.sim.triggerCondition('3', { stkCd: '005930', kind: 'D' }).pushes, 1, 'still live upstream for B');
  await b.next(isReal('02'), 'B still gets results');
  b.send({ trnm: 'CNSRCLR', seq: '3' });
  await b.next((f) => f.trnm === 'CNSRCLR', 'B clear');
  await waitFor(() => h.sim.triggerCondition('3', { stkCd: '005930', kind: 'I' }).pushes === 0, 10_000, 'cleared upstream with the last requester');
});
