// Realtime across two replicas sharing Redis: three bots on one app key, one
// connected to replica A and two to B. Exactly one upstream session exists
// throughout (never R10001); pushes and fills reach the bots on both
// replicas; one bot's REMOVE leaves the others' feeds; when the owning
// replica is killed, the other takes the key over and its bots keep receiving.
import t from 'tap';
import { waitFor } from '../helpers/harness.js';
import { postJson } from '../helpers/replica-process.js';
import { realtimeReplicas } from './replica-world.js';
import { isReal, loginAtReplica, type BotSocket } from './ws-client.js';

const KEY = { appKey: 'CANARYrtAppKEY0a1b2c3d4e5f', secretKey: 'CANARYrtSecretKEY9f8e7d6c5b4a3210' };
const ACCOUNT = '5555000033';
const BOTS = ['rt-r1', 'rt-r2', 'rt-r3'].map((botId) => ({
  botId,
  account: ACCOUNT,
  ...KEY,
  allowed: ['kind:query', 'kind:account', 'kind:order', 'kind:realtime'],
}));

const { sim, A, B } = await realtimeReplicas(t, {
  name: 'replicas',
  key: KEY,
  account: ACCOUNT,
  bots: BOTS,
  realtime: { ownerTtlMs: 1500, recheckMs: 200, lingerMs: 500, peerTimeoutMs: 5000, pingIntervalMs: 1000 },
  upstream: { limits: { orderMaxWaitMs: 30_000, queryMaxWaitMs: 30_000, cancelMaxWaitMs: 30_000 } },
});
const secrets = A.botSecrets!;

const login = (replicaUrl: string, botId: string): Promise<BotSocket> => loginAtReplica(replicaUrl, botId, secrets[botId]!);

async function register(s: BotSocket, group: string, items: string[], type: string): Promise<void> {
  s.send({ trnm: 'REG', grp_no: group, refresh: '1', data: [{ item: items, type: [type] }] });
  const ack = await s.next((f) => f.trnm === 'REG', 'REG ack');
  if (ack.return_code !== 0) throw new Error(`REG refused: ${JSON.stringify(ack)}`);
}

t.test('three bots on one key through two replicas share one upstream session', async (t) => {
  const b1 = await login(A.url, 'rt-r1');
  const b2 = await login(B.url, 'rt-r2');
  const b3 = await login(B.url, 'rt-r3');
  t.teardown(() => {
    for (const s of [b1, b2, b3]) s.close();
  });
  for (const s of [b1, b2, b3]) {
    await register(s, '1', ['005930', '000660'], '0B');
    await register(s, '2', [''], '00');
  }
  await waitFor(() => sim.stats().ws.sessions === 1, 20_000, 'one upstream session');

  sim.pushQuote('005930');
  for (const [s, n] of [
    [b1, 'A'],
    [b2, 'B'],
    [b3, 'B'],
  ] as const)
    await s.next(isReal('0B', '005930'), `005930 reaches the bot on replica ${n}`);

  // A fill from an order placed through replica B reaches every bot of the account, on both replicas.
  const token = await postJson(`${B.url}/oauth2/token`, { grant_type: 'client_credentials', appkey: 'rt-r2', secretkey: secrets['rt-r2'] });
  const order = await postJson(
    `${B.url}/api/dostk/ordr`,
    { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '', trde_tp: '3' },
    { 'api-id': 'kt10000', authorization: `Bearer ${token.json.token}` },
  );
  t.equal(order.json.return_code, 0, order.text);
  for (const s of [b1, b2, b3]) await s.next(isReal('00'), 'the fill push');

  // One bot's REMOVE leaves the others' feeds.
  b3.send({ trnm: 'REMOVE', grp_no: '1', data: [{ item: ['005930'], type: ['0B'] }] });
  t.equal((await b3.next((f) => f.trnm === 'REMOVE', 'REMOVE ack')).return_code, 0);
  sim.pushQuote('005930');
  sim.pushQuote('000660');
  await b1.next(isReal('0B', '005930'), 'b1 still gets 005930');
  await b2.next(isReal('0B', '005930'), 'b2 still gets 005930');
  const next3 = await b3.next((f) => f.trnm === 'REAL', 'b3 next push');
  t.ok(isReal('0B', '000660')(next3) && !isReal('0B', '005930')(next3), 'b3 gets only what it still wants');
  t.equal(sim.stats().ws.sessions, 1, 'exactly one upstream session');
  t.equal(sim.stats().ws.replaced, 0, 'a second replica never caused R10001');

  // The owner (A: the first login) is killed; B takes the key over and its bots keep receiving.
  A.child.kill('SIGKILL');
  await A.exited;
  await b1.closed;
  const before = b2.frames.length;
  await waitFor(
    () => {
      sim.pushQuote('005930');
      return b2.frames.slice(before).some(isReal('0B', '005930'));
    },
    30_000,
    'b2 receives again after the takeover',
  );
  const before3 = b3.frames.length;
  await waitFor(
    () => {
      sim.pushQuote('000660');
      return b3.frames.slice(before3).some(isReal('0B', '000660'));
    },
    30_000,
    'b3 receives again after the takeover',
  );
  t.equal(sim.stats().ws.replaced, 0, 'the takeover caused no R10001');
  t.equal(sim.stats().ws.sessions, 1, 'one upstream session after the takeover');
});
