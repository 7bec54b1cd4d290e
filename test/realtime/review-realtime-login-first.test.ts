// Kiwoom's clients read the LOGIN answer before anything else on the socket: kenshin579/kiwoom-go
// (internal/wstransport/conn.go connectOnce) fails the connection when another frame comes first ("로그인 응답 전에
// 다른 메시지가 왔다"), and Kiwoom's own Python client (kiwoom/core/ws_client.py _await_login_ack) raises on any
// frame but a PING. The sidecar started PINGing a socket once its session was open, before the LOGIN answer was
// sent (that waits on the login's audit record), so a PING could reach the bot first. Here the login's audit
// record is held while a second, logged-in socket of the same sidecar sees three PINGs (so the first socket's
// PING timer, on the same interval, has fired meanwhile): the first socket's first frame must be its LOGIN answer.
import path from 'node:path';
import t from 'tap';
import { FIXTURES, startHarness } from '../helpers/harness.js';
import { latch } from '../helpers/gates.js';
import { connectBot } from './ws-client.js';

t.test('a PING never reaches a bot before the answer to its LOGIN', async (t) => {
  const h = await startHarness({
    sim: { wsQuoteIntervalMs: 0 } as never,
    allowed: ['kind:query', 'kind:realtime'],
    policyFile: path.join(FIXTURES, 'policy-realtime.yaml'),
    config: { realtime: { pingIntervalMs: 50, maxMissedPings: 100 } },
  });
  t.teardown(() => h.close());
  const watcher = await connectBot(h.sidecar.realtimeUrl);
  t.teardown(() => watcher.close());
  t.equal((await watcher.login(await h.token())).return_code, 0, 'the watching socket is logged in');

  const auditor = h.sidecar.parts.auditor as unknown as { append: (r: Record<string, unknown>, o?: unknown) => Promise<unknown> };
  const realAppend = auditor.append;
  const held = latch();
  let holding = true;
  auditor.append = async (r, o) => {
    if (holding && r.type === 'realtime.login') {
      holding = false;
      held.reached();
      await held.passed;
    }
    return realAppend.call(auditor, r, o);
  };
  t.teardown(() => {
    auditor.append = realAppend;
    held.release();
  });

  const s = await connectBot(h.sidecar.realtimeUrl);
  t.teardown(() => s.close());
  s.send({ trnm: 'LOGIN', token: await h.token() });
  await held.waiting;
  // The session is open and its LOGIN answer waits on the audit record: three PING ticks go by.
  const pingsBefore = watcher.frames.filter((f) => f.trnm === 'PING').length;
  for (let i = 1; i <= 3; i++) await watcher.next((f) => f.trnm === 'PING', `the watcher's PING ${pingsBefore + i}`);
  held.release();

  const first = await s.next(() => true, 'the first frame on the socket');
  t.equal(first.trnm, 'LOGIN', `the first frame is the LOGIN answer: ${JSON.stringify(first)}`);
  t.equal(first.return_code, 0, 'and it logged in');
  await s.next((f) => f.trnm === 'PING', 'a PING after the LOGIN answer');
  t.pass('PINGs follow once the LOGIN is answered');
});
