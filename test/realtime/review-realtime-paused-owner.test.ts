// Review regression: the upstream link timed a control request out with a
// timer. After the replica that owns a key's session is paused (SIGSTOP, a
// frozen container) Node runs the timers that fell due before it reads the
// sockets, so a REG that Kiwoom had answered during the pause was declared
// unanswered: the bot was refused (KG5002) and the link logged in afresh to
// resync, replaying every registration of the key. The time-out now lets the
// socket deliver an answer that is already there before it decides.
// Kiwoom's answers reach the replica through a proxy that holds them 300 ms,
// so the pause always lands with the REG answered and its answer on the way.
import t from 'tap';
import { chmod, copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startSimulator } from '../../proxy/sim/index.js';
import { FIXTURES, waitFor } from '../helpers/harness.js';
import { startReplica } from '../helpers/replica-process.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { loginAtReplica } from './ws-client.js';

const KEY = { appKey: 'CANARYrtPausedKEY0a1b2c3d4e5', secretKey: 'CANARYrtPausedSECRET9f8e7d6c5b4' };
const ACCOUNT = '5555000091';

t.test('a REG answered while the owner was paused is answered to the bot; the upstream session stays', async (t) => {
  const sim = await startSimulator({ wsQuoteIntervalMs: 0, wsConditionIntervalMs: 0 });
  t.teardown(() => sim.close());
  sim.registerApp({ appKey: KEY.appKey, secretKey: KEY.secretKey, accountNo: ACCOUNT });
  const proxy = await startTcpProxy(Number(new URL(sim.url).port));
  t.teardown(() => proxy.close());
  const dataDir = await mkdtemp(path.join(tmpdir(), 'kguard-rt-paused-'));
  await chmod(dataDir, 0o700);
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const policyFile = path.join(dataDir, 'policy.yaml');
  await copyFile(path.join(FIXTURES, 'policy-realtime.yaml'), policyFile);
  const A = await startReplica(
    'A',
    {
      dataDir,
      listen: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0, enabled: true },
      upstream: { target: 'custom', url: sim.url },
      policy: { file: policyFile },
      demo: { enabled: false },
      realtime: { url: `ws://127.0.0.1:${proxy.port}/api/dostk/websocket`, requestTimeoutMs: 1_000, pingIntervalMs: 600_000 },
    },
    [{ botId: 'rt-paused', account: ACCOUNT, ...KEY, allowed: ['kind:query', 'kind:realtime'] }],
  );
  t.teardown(() => A.stop());
  const bot = await loginAtReplica(A.url, 'rt-paused', A.botSecrets!['rt-paused']!);
  t.teardown(() => bot.close());
  await waitFor(() => sim.stats().ws.sessions === 1, 20_000, 'the upstream session');
  const logins = sim.stats().ws.logins;

  proxy.setLatency(300);
  bot.send({ trnm: 'REG', grp_no: '1', refresh: '1', data: [{ item: ['005930'], type: ['0B'] }] });
  await waitFor(() => sim.stats().ws.registrations === 1, 20_000, 'Kiwoom took the REG');
  // Kiwoom has answered; the answer reaches A while it is stopped, for longer than the request time-out.
  A.child.kill('SIGSTOP');
  try {
    await new Promise((r) => setTimeout(r, 2_000));
  } finally {
    A.child.kill('SIGCONT');
  }
  const reply = await bot.next((f) => f.trnm === 'REG' || f.trnm === 'SYSTEM', 'the REG reply');
  t.equal(reply.return_code, 0, `the REG is acknowledged: ${JSON.stringify(reply)}`);
  proxy.setLatency(0);
  t.equal(sim.stats().ws.logins, logins, 'no fresh upstream login to resync');
});
