// The per-bot realtime caps across two replicas sharing Redis: one bot (rt-d,
// capped at 2 registrations by the policy) with a socket on each replica. The
// key's hub, on the owning replica, counts both sockets; a refusal reached
// through pub/sub still names the cap.
import t from 'tap';
import { waitFor } from '../helpers/harness.js';
import { realtimeReplicas } from './replica-world.js';
import { loginAtReplica, type BotSocket } from './ws-client.js';

const KEY = { appKey: 'CANARYrtAppKEY0a1b2c3d4e5f', secretKey: 'CANARYrtSecretKEY9f8e7d6c5b4a3210' };
const ACCOUNT = '5555000033';
const BOTS = [{ botId: 'rt-d', account: ACCOUNT, ...KEY, allowed: ['kind:query', 'kind:realtime'] }];

const { sim, A, B } = await realtimeReplicas(t, {
  name: 'caps',
  key: KEY,
  account: ACCOUNT,
  bots: BOTS,
  realtime: { ownerTtlMs: 1500, recheckMs: 200, lingerMs: 500, peerTimeoutMs: 5000, pingIntervalMs: 1000 },
});

async function ask(s: BotSocket, frame: Record<string, unknown>): Promise<Record<string, unknown>> {
  s.send(frame);
  return s.next((f) => f.trnm === frame.trnm, `${String(frame.trnm)} reply`);
}
const reg = (items: string[]) => ({ trnm: 'REG', grp_no: '1', refresh: '1', data: [{ item: items, type: ['0B'] }] });

t.test("a bot's sockets on two replicas share its registration cap", async (t) => {
  const a = await loginAtReplica(A.url, 'rt-d', A.botSecrets!['rt-d']!);
  t.teardown(() => a.close());
  await waitFor(() => sim.stats().ws.sessions === 1, 10_000, 'the upstream session (owned by A)');
  const b = await loginAtReplica(B.url, 'rt-d', A.botSecrets!['rt-d']!);
  t.teardown(() => b.close());
  t.equal((await ask(a, reg(['005930', '000660']))).return_code, 0, 'two on A: at the cap');
  const over = await ask(b, reg(['005380']));
  t.match(String(over.return_msg), /KG3018:at most 2 registrations/, `the socket on B is refused, naming the cap: ${JSON.stringify(over)}`);
  t.equal(sim.stats().ws.registrations, 2, 'nothing over the cap reached Kiwoom');
  t.equal(sim.stats().ws.sessions, 1, 'one upstream session');
});
