// A lockdown, a session kill or a disable pressed on replica A ends the bot's
// realtime socket on replica B at once, not at B's next re-check: the re-check
// is set to ten minutes here, so only the immediate path can close the socket.
// Replica A owns the key's upstream session (its bot logged in first), so every
// push B relays comes to B through Redis after the event was published there:
// the ended bot must receive none of them. Two sidecars in this process, one
// real redis-server, one simulator.
import t from 'tap';
import path from 'node:path';
import { FIXTURES, startHarness, waitFor, type Harness } from '../helpers/harness.js';
import { RESTING_ORDER } from '../helpers/lockdown-steps.js';
import { startRedis } from '../helpers/redis.js';
import { connectBot, isReal, type BotSocket } from './ws-client.js';

const redis = await startRedis();
t.teardown(() => redis.cleanup());

const ALLOWED = ['kind:query', 'kind:account', 'kind:order', 'kind:cancel', 'kind:realtime'];
const replica = (name: string) => ({
  state: { backend: 'redis', redis: { url: redis.url, commandTimeoutMs: 2_000 } },
  audit: { replicaId: name, sinks: [{ type: 'file', dir: `audit-${name}` }] },
  risk: { enabled: false },
  realtime: { recheckMs: 600_000 },
});

const A: Harness = await startHarness({
  botId: 'rt-keep',
  allowed: ALLOWED,
  policyFile: path.join(FIXTURES, 'policy-realtime.yaml'),
  sim: { wsQuoteIntervalMs: 0, wsConditionIntervalMs: 0 },
  config: replica('A'),
});
// Added before B starts, so B's bot registry reads them at start.
const tokens: Record<string, string> = {};
for (const id of ['rt-locked', 'rt-killed', 'rt-disabled']) tokens[id] = await A.addBot(id, ALLOWED);
const B: Harness = await startHarness({ policyFile: path.join(FIXTURES, 'policy-realtime.yaml'), config: replica('B'), replicaOf: A });
t.teardown(async () => {
  await B.close();
  await A.close();
});
const admin = await A.adminToken('sec-lead', 'admin');

async function register(s: BotSocket, type: string, items: string[]): Promise<void> {
  s.send({ trnm: 'REG', grp_no: type === '00' ? '2' : '1', refresh: '1', data: [{ item: items, type: [type] }] });
  const ack = await s.next((f) => f.trnm === 'REG', `REG ${type} ack`);
  if (ack.return_code !== 0) throw new Error(`REG refused: ${JSON.stringify(ack)}`);
}

// The key's upstream session is opened by A: its bot logs in first and wants the same quotes and fills.
const keep = await connectBot(A.sidecar.realtimeUrl);
t.teardown(() => keep.close());
if ((await keep.login(await A.token())).return_code !== 0) throw new Error('rt-keep login failed');
await register(keep, '0B', ['005930']);
await register(keep, '00', ['']);
await waitFor(() => A.sim.stats().ws.sessions === 1, 20_000, 'the upstream session, opened by replica A');

/** The bot's socket on B, logged in and registered for 005930's quotes and the account's order pushes; both feeds seen flowing. */
async function atB(botId: string): Promise<BotSocket> {
  const s = await connectBot(B.sidecar.realtimeUrl);
  const login = await s.login(tokens[botId]!);
  if (login.return_code !== 0) throw new Error(`${botId} login at B failed: ${JSON.stringify(login)}`);
  await register(s, '0B', ['005930']);
  await register(s, '00', ['']);
  A.sim.pushQuote('005930');
  await s.next(isReal('0B', '005930'), `${botId} gets 005930 through B`);
  await keep.next(isReal('0B', '005930'), 'rt-keep gets 005930');
  return s;
}

/**
 * After the event: quotes keep coming until the socket on B closes or a push reaches it. The simulator
 * pushes only when told (no quote timer), so every REAL frame after `mark` was caused after the event.
 */
async function pushUntilClosed(s: BotSocket, mark: number): Promise<{ code: number; reason: string }> {
  await waitFor(
    async () => {
      if (s.ws.readyState === s.ws.CLOSED || s.frames.slice(mark).some((f) => f.trnm === 'REAL')) return true;
      A.sim.pushQuote('005930');
      await keep.next(isReal('0B', '005930'), 'rt-keep gets 005930');
      return false;
    },
    30_000,
    'the socket on B closed or a push reaching it',
  );
  // A push first (the socket still open): the close code is not waited for, the test fails on the push.
  return s.ws.readyState === s.ws.CLOSED ? s.closed : { code: -1, reason: 'still open' };
}

const real = (frames: Record<string, unknown>[]) => frames.filter((f) => f.trnm === 'REAL').map((f) => (f.data as { type: string }[])[0]?.type);

t.test('a lockdown on A closes the locked bot realtime socket on B before any later push', async (t) => {
  const locked = await atB('rt-locked');
  t.teardown(() => locked.close());
  // An open order for the lockdown's cancel-all: its push is one B relays after the lockdown was published.
  const order = await B.call('kt10000', RESTING_ORDER, { token: tokens['rt-locked']! });
  t.equal(order.json.return_code, 0, order.text);
  await locked.next(isReal('00'), 'the order push reaches rt-locked');
  await keep.next(isReal('00'), 'the order push reaches rt-keep');

  const mark = locked.frames.length;
  const lock = await A.admin('POST', '/admin/v1/lockdown', admin, { bot: 'rt-locked', reason: 'realtime replica drill' });
  t.equal(lock.status, 201, lock.text.slice(0, 200));
  await keep.next(isReal('00'), "the cancel-all's order push reaches rt-keep");
  const closed = await pushUntilClosed(locked, mark);

  t.same(real(locked.frames.slice(mark)), [], 'no push reached the locked bot after the lockdown (quotes nor the cancel push)');
  t.equal(closed.code, 4003, 'closed as ended');
  t.match(closed.reason, `KG3008:incident ${String(lock.json.id)}`, 'naming the incident, as the re-check does');
  const sys = locked.frames.slice(mark).find((f) => f.trnm === 'SYSTEM');
  t.equal(sys?.code, 'KG-LOCKDOWN', 'the lockdown message came before the close');
  t.equal(locked.frames.at(-1), sys, 'and nothing after it');
});

t.test('a session kill on A closes the bot realtime socket on B before any later push', async (t) => {
  const killed = await atB('rt-killed');
  t.teardown(() => killed.close());
  const mark = killed.frames.length;
  const kill = await A.admin('POST', '/admin/v1/bots/rt-killed/kill-sessions', admin);
  t.equal(kill.status, 200, kill.text.slice(0, 200));
  const closed = await pushUntilClosed(killed, mark);

  t.same(real(killed.frames.slice(mark)), [], 'no push reached the bot after its sessions were killed');
  t.equal(closed.code, 4003, 'closed as ended');
  t.match(closed.reason, 'KG2007', 'as a terminated session, as the re-check says');
  t.equal(killed.frames.slice(mark).find((f) => f.trnm === 'SYSTEM')?.code, 'KG-REVOKED');
});

t.test('a disable on A closes the bot realtime socket on B before any later push', async (t) => {
  const disabled = await atB('rt-disabled');
  t.teardown(() => disabled.close());
  const mark = disabled.frames.length;
  const r = await A.admin('POST', '/admin/v1/bots/rt-disabled/disable', admin);
  t.equal(r.status, 200, r.text.slice(0, 200));
  const closed = await pushUntilClosed(disabled, mark);

  t.same(real(disabled.frames.slice(mark)), [], 'no push reached the bot after it was disabled');
  t.equal(closed.code, 4003, 'closed as ended');
  t.match(closed.reason, 'KG2006', 'as a disabled bot, as the re-check says');
  t.equal(disabled.frames.slice(mark).find((f) => f.trnm === 'SYSTEM')?.code, 'KG-DISABLED');
});

t.test('rt-keep, on A and never locked, still receives', async () => {
  A.sim.pushQuote('005930');
  await keep.next(isReal('0B', '005930'), 'rt-keep gets 005930');
});
