// A bot's frames are handled one at a time, so its PING echo waits behind a
// condition search that waits on Kiwoom. Counted only once handled, the echo
// came too late: a live bot was closed "PING not answered" whenever Kiwoom
// took longer than pingIntervalMs x (maxMissedPings + 1) to answer. A frame
// now proves the bot alive when it arrives. Kiwoom's answers reach the
// sidecar through a proxy that holds them, so the search takes about 4 s
// while the sidecar PINGs every 500 ms and closes after 2 missed (1.5 s: a
// loaded machine may stall a tick, not three).
import path from 'node:path';
import t from 'tap';
import { startSimulator } from '../../proxy/sim/index.js';
import { FIXTURES, startHarness, waitFor } from '../helpers/harness.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { connectBot } from './ws-client.js';

const sim = await startSimulator({ wsQuoteIntervalMs: 0, wsConditionIntervalMs: 0 });
t.teardown(() => sim.close());
const proxy = await startTcpProxy(Number(new URL(sim.url).port));
t.teardown(() => proxy.close());
const h = await startHarness({
  simulator: sim,
  allowed: ['kind:query', 'kind:realtime'],
  policyFile: path.join(FIXTURES, 'policy-realtime.yaml'),
  config: {
    realtime: {
      url: `ws://127.0.0.1:${proxy.port}/api/dostk/websocket`,
      pingIntervalMs: 500,
      maxMissedPings: 2,
      requestTimeoutMs: 30_000,
    },
  },
});
t.teardown(() => h.close());

t.test('a bot that echoes every PING stays connected while its condition search waits on Kiwoom', async (t) => {
  const ws = await connectBot(h.sidecar.realtimeUrl);
  t.teardown(() => ws.close());
  t.equal((await ws.login(await h.token())).return_code, 0, 'logged in');
  await waitFor(() => sim.stats().ws.sessions === 1, 20_000, 'the upstream session');
  proxy.setLatency(1_000);
  ws.send({ trnm: 'CNSRREQ', seq: '1', search_type: '1', stex_tp: 'K' });
  const answer = await ws.next((f) => f.trnm === 'CNSRREQ' || f.trnm === 'SYSTEM', 'the search answer', 60_000);
  t.equal(answer.trnm, 'CNSRREQ', `answered, not closed: ${JSON.stringify(answer)}`);
  t.equal(answer.return_code, 0, 'the search runs');
  t.ok(
    ws.frames.filter((f) => f.trnm === 'PING').length > 2,
    'the sidecar PINGed the bot meanwhile (more than maxMissedPings + 1 times), and the bot echoed each',
  );
  t.equal(ws.ws.readyState, ws.ws.OPEN, 'the socket is still open');
  proxy.setLatency(0);
});
