// Review regression: every text frame a bot socket sent was queued behind the
// one being handled, without bound and even once the socket was ending. A
// client with no valid token could pipeline hundreds of LOGIN frames in one
// write: each was verified, counted and audited (realtime.login_refused) after
// the first had already closed the socket; and a logged-in bot could queue
// frames faster than they are judged (store round trips, audit) until the
// sidecar's memory ran out. Now a socket that is ending handles nothing more,
// and a bot with too many frames waiting is closed (4002) with a clear message.
import t from 'tap';
import path from 'node:path';
import { request } from 'undici';
import { startHarness, FIXTURES, type Harness } from '../helpers/harness.js';
import { connectBot } from './ws-client.js';

let h: Harness;
t.before(async () => {
  h = await startHarness({
    sim: { wsQuoteIntervalMs: 0, wsConditionIntervalMs: 0 } as never,
    allowed: ['kind:query', 'kind:realtime'],
    policyFile: path.join(FIXTURES, 'policy-realtime.yaml'),
  });
});
t.teardown(() => h.close());

async function metric(line: RegExp): Promise<number> {
  const text = await (await request(`${h.adminUrl}/metrics`)).body.text();
  const m = line.exec(text);
  return m ? Number(m[1]) : 0;
}

t.test('LOGIN frames pipelined after a refused one are not handled', async (t) => {
  const before = await metric(/^kguard_realtime_logins_total\{outcome="refused"\} (\d+)/m);
  const s = await connectBot(h.sidecar.realtimeUrl);
  const frame = JSON.stringify({ trnm: 'LOGIN', token: 'eyJhbGciOiJIUzI1NiJ9.e30.forged' });
  // One write: every frame is in the sidecar's buffer before the first is refused.
  const sock = (s.ws as unknown as { _socket: import('node:net').Socket })._socket;
  sock.cork();
  for (let i = 0; i < 50; i++) s.send(frame);
  sock.uncork();
  t.equal((await s.closed).code, 4001);
  const refused = (await metric(/^kguard_realtime_logins_total\{outcome="refused"\} (\d+)/m)) - before;
  t.equal(refused, 1, `one refused login handled, not ${refused}`);
});

t.test('a bot that queues frames faster than they are handled is closed', async (t) => {
  const s = await connectBot(h.sidecar.realtimeUrl);
  t.teardown(() => s.close());
  t.equal((await s.login(await h.token())).return_code, 0);
  const frame = JSON.stringify({ trnm: 'REG', grp_no: '1', refresh: '1', data: [{ item: ['005930'], type: ['0D'] }] });
  const n = 2_000;
  const sock = (s.ws as unknown as { _socket: import('node:net').Socket })._socket;
  sock.cork();
  for (let i = 0; i < n; i++) s.send(frame);
  sock.uncork();
  // Either every frame is answered (nothing bounds the queue) or the socket is closed.
  await s.next((f) => f.trnm === 'SYSTEM' || s.frames.filter((x) => x.trnm === 'REG').length >= n, 'a close or every reply', 120_000).catch(() => undefined);
  const replies = s.frames.filter((f) => f.trnm === 'REG').length;
  t.ok(replies < n, `not every queued frame was handled (${replies} of ${n})`);
  const sys = s.frames.find((f) => f.trnm === 'SYSTEM');
  t.match(String(sys?.message ?? ''), /KG3005.*waiting/, `the close says why: ${JSON.stringify(sys)}`);
  if (sys) t.equal((await s.closed).code, 4002);
});

t.test('the bound on waiting frames is realtime.maxWaitingFrames', async (t) => {
  const small = await startHarness({
    sim: { wsQuoteIntervalMs: 0, wsConditionIntervalMs: 0 },
    allowed: ['kind:query', 'kind:realtime'],
    policyFile: path.join(FIXTURES, 'policy-realtime.yaml'),
    config: { realtime: { maxWaitingFrames: 5 } },
  });
  t.teardown(() => small.close());
  const s = await connectBot(small.sidecar.realtimeUrl);
  t.teardown(() => s.close());
  t.equal((await s.login(await small.token())).return_code, 0);
  const frame = JSON.stringify({ trnm: 'REG', grp_no: '1', refresh: '1', data: [{ item: ['005930'], type: ['0D'] }] });
  const sock = (s.ws as unknown as { _socket: import('node:net').Socket })._socket;
  sock.cork();
  for (let i = 0; i < 50; i++) s.send(frame);
  sock.uncork();
  const sys = await s.next((f) => f.trnm === 'SYSTEM', 'the close');
  t.match(String(sys.message), /KG3005.*more than 5 realtime frames waiting/, JSON.stringify(sys));
  t.equal((await s.closed).code, 4002);
});
