// Shutdown (SIGTERM: sidecar.close()) with bots on realtime: every bot socket,
// on the bot port and on the :10000 mirror port alike, is closed with a clear
// code (1001 "going away", "sidecar shutting down"), so a bot reconnects to
// another replica at once instead of guessing from a dropped TCP connection.
import path from 'node:path';
import t from 'tap';
import { FIXTURES, startHarness } from '../helpers/harness.js';
import { connectBot } from './ws-client.js';

t.test('realtime sockets on both ports are closed 1001 on shutdown', async (t) => {
  const h = await startHarness({ policyFile: path.join(FIXTURES, 'policy-realtime.yaml'), config: { realtime: { port: 0 } } });
  t.teardown(() => h.close().catch(() => undefined));
  const token = await h.token();
  const main = await connectBot(h.sidecar.realtimeUrl.replace(/:\d+\//, `:${new URL(h.url).port}/`));
  const mirror = await connectBot(h.sidecar.realtimeUrl);
  t.not(new URL(h.sidecar.realtimeUrl).port, new URL(h.url).port, 'two ports');
  for (const s of [main, mirror]) t.equal((await s.login(token)).return_code, 0, 'logged in');
  await h.sidecar.close();
  const [a, b] = await Promise.all([main.closed, mirror.closed]);
  t.same(a, { code: 1001, reason: 'sidecar shutting down' }, `bot port: ${JSON.stringify(a)}`);
  t.same(b, { code: 1001, reason: 'sidecar shutting down' }, `mirror port: ${JSON.stringify(b)}`);
});
