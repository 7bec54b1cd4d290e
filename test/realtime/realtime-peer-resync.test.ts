// The replica that owns a key's upstream session drops a peer replica's bot
// it has not heard from for peerTimeoutMs (its registrations go upstream as
// REMOVE). A peer that was only paused (a stalled VM, a long GC, a CPU-starved
// pod, Redis out for a while) comes back with the bot still connected and
// still believing it is registered: the owner must have it replay what it
// had, or the bot's feed stops with nothing telling it.
//
// Under load this failed now and then: B was often paused with a Redis
// command in flight (its bot socket's re-check runs every 200 ms), and on
// SIGCONT Node runs the timers that fell due before it reads the socket, so
// the command's time-out fired ahead of the answer that had come meanwhile;
// the re-check took that for a failure and closed rt-peer's socket (as
// "revoked", KG7001). The pause now always lands with one in flight (Redis is
// held while B is stopped), and B must ask again rather than end the session.
import t from 'tap';
import { waitFor } from '../helpers/harness.js';
import { realtimeReplicas } from './replica-world.js';
import { isReal, loginAtReplica, type BotSocket } from './ws-client.js';

const KEY = { appKey: 'CANARYrtResyncKEY0a1b2c3d4e', secretKey: 'CANARYrtResyncSECRET9f8e7d6c5b4a' };
const ACCOUNT = '5555000077';
const BOTS = ['rt-own', 'rt-peer'].map((botId) => ({ botId, account: ACCOUNT, ...KEY, allowed: ['kind:query', 'kind:account', 'kind:realtime'] }));

const { redis, sim, A, B } = await realtimeReplicas(t, {
  name: 'resync',
  key: KEY,
  account: ACCOUNT,
  bots: BOTS,
  realtime: { ownerTtlMs: 1500, recheckMs: 200, lingerMs: 500, peerTimeoutMs: 1500, pingIntervalMs: 60_000 },
});
const secrets = A.botSecrets!;

const login = (replicaUrl: string, botId: string): Promise<BotSocket> => loginAtReplica(replicaUrl, botId, secrets[botId]!);

t.test("a paused peer replica's bot gets its registrations back once the peer is heard from again", async (t) => {
  // rt-own on A opens (and A owns) the key's upstream session; rt-peer is on B.
  const own = await login(A.url, 'rt-own');
  await waitFor(() => sim.stats().ws.sessions === 1, 20_000, 'the upstream session, owned by A');
  const peer = await login(B.url, 'rt-peer');
  t.teardown(() => {
    own.close();
    peer.close();
  });
  peer.send({ trnm: 'REG', grp_no: '1', refresh: '1', data: [{ item: ['005930'], type: ['0B'] }] });
  t.equal((await peer.next((f) => f.trnm === 'REG', 'REG ack')).return_code, 0);
  await waitFor(() => sim.stats().ws.registrations === 1, 10_000, "rt-peer's registration upstream");

  // B stalls with a store command in flight (Redis held until B is stopped); A stops hearing from rt-peer and
  // drops it (REMOVE upstream). Redis answers while B is stopped: the answer waits in B's socket.
  redis.pause();
  try {
    await new Promise((r) => setTimeout(r, 400));
    B.child.kill('SIGSTOP');
  } finally {
    redis.resume();
  }
  try {
    await waitFor(() => sim.stats().ws.registrations === 0, 20_000, "A dropped the silent peer's bot");
  } finally {
    B.child.kill('SIGCONT');
  }
  await waitFor(
    () => {
      sim.pushQuote('005930');
      return peer.frames.some(isReal('0B', '005930'));
    },
    20_000,
    'rt-peer gets 005930 again once B is back',
  );
  t.equal(sim.stats().ws.sessions, 1, 'one upstream session throughout');
  t.notOk(
    peer.frames.some((f) => f.trnm === 'SYSTEM'),
    `rt-peer's socket was never ended: ${JSON.stringify(peer.frames.filter((f) => f.trnm === 'SYSTEM'))}`,
  );
});
