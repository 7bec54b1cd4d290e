// Review regression: a bot could hold any number of realtime sockets. Each
// one logged in costs a hub subscriber, its buffers and a connection of the
// bot port, whose cap (listen.maxConnections) REST calls share: one bot in a
// reconnect loop that never closes its old sockets (or one token in the wrong
// hands) took every connection of the replica from every other bot. Kiwoom
// itself allows one session per app key. Now a bot holds at most
// realtime.maxSessionsPerBot sockets per replica (default 5); one more LOGIN
// is refused (return_code 3, KG3018 naming the cap) and the socket closed.
import t from 'tap';
import path from 'node:path';
import { FIXTURES, startHarness } from '../helpers/harness.js';
import { connectBot, type BotSocket } from './ws-client.js';

t.test('a bot holds at most realtime.maxSessionsPerBot realtime sockets per replica', async (t) => {
  const h = await startHarness({
    sim: { wsQuoteIntervalMs: 0, wsConditionIntervalMs: 0 },
    allowed: ['kind:query', 'kind:realtime'],
    policyFile: path.join(FIXTURES, 'policy-realtime.yaml'),
  });
  t.teardown(() => h.close());
  const token = await h.token();
  const open: BotSocket[] = [];
  t.teardown(() => {
    for (const s of open) s.close();
  });
  for (let i = 0; i < 5; i++) {
    const s = await connectBot(h.sidecar.realtimeUrl);
    open.push(s);
    t.equal((await s.login(token)).return_code, 0, `socket ${i + 1} of 5 logs in`);
  }
  const extra = await connectBot(h.sidecar.realtimeUrl);
  open.push(extra);
  const refused = await extra.login(token);
  t.equal(refused.return_code, 3, `a sixth is refused: ${JSON.stringify(refused)}`);
  t.match(String(refused.return_msg), /KG3018.*at most 5 realtime sessions/);
  if (refused.return_code === 3) t.equal((await extra.closed).code, 4001);

  // Another bot is not counted with it.
  const other = await connectBot(h.sidecar.realtimeUrl);
  open.push(other);
  t.equal((await other.login(await h.addBot('cap-other', ['kind:query', 'kind:realtime'], '7777000031'))).return_code, 0, 'another bot logs in');

  // A socket closed frees its place.
  open[0]!.close();
  await open[0]!.closed;
  const again = await connectBot(h.sidecar.realtimeUrl);
  open.push(again);
  const reply = await (async () => {
    // The sidecar ends the closed socket's session in its own turn: try until its place is free.
    for (let i = 0; i < 100; i++) {
      const s = i === 0 ? again : await connectBot(h.sidecar.realtimeUrl);
      if (i > 0) open.push(s);
      const r = await s.login(token);
      if (r.return_code === 0) return r;
      await s.closed;
    }
    return { return_code: -1 };
  })();
  t.equal(reply.return_code, 0, 'a place freed by a closed socket is taken');
});
