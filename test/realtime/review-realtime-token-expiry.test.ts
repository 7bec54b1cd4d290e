// Review regression: a bot's realtime socket outlived its sidecar token. The
// token was checked at LOGIN, and the re-check read revocation, the session
// epoch and the bot record, but never the token's own `exp`: a socket logged
// in with a 10-second token kept its registrations and its pushes for as long
// as it stayed open, where every REST call with that token is refused KG2003.
// Now the session ends when its token does (SYSTEM naming KG2003, close 4003,
// no push after it), and a bot that LOGINs again on the open socket with a
// fresh token of its own carries the session on to that token's expiry.
import t from 'tap';
import path from 'node:path';
import { request } from 'undici';
import { FIXTURES, startHarness, type Harness } from '../helpers/harness.js';
import { connectBot, isReal, type BotSocket } from './ws-client.js';

let h: Harness;
t.before(async () => {
  h = await startHarness({
    sim: { wsQuoteIntervalMs: 0, wsConditionIntervalMs: 0 },
    allowed: ['kind:query', 'kind:realtime'],
    policyFile: path.join(FIXTURES, 'policy-realtime.yaml'),
    config: { tokens: { ttlSeconds: 10, clockToleranceSeconds: 0 }, realtime: { pingIntervalMs: 600_000 } },
  });
});
t.teardown(() => h.close());

const expOf = (token: string): number => Number(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).exp) * 1000;
const REG = { trnm: 'REG', grp_no: '1', refresh: '1', data: [{ item: ['005930'], type: ['0B'] }] };

async function closedMetric(reason: string): Promise<number> {
  const text = await (await request(`${h.adminUrl}/metrics`)).body.text();
  const m = new RegExp(`^kguard_realtime_closes_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** Pushes a 005930 trade every 100 ms until the socket closes: a push after the session ended would reach the bot. */
function keepPushing(s: BotSocket): () => void {
  const timer = setInterval(() => h.sim.pushQuote('005930'), 100);
  void s.closed.finally(() => clearInterval(timer));
  return () => clearInterval(timer);
}

t.test('the session ends with its token: SYSTEM naming KG2003, close 4003, no push after it', async (t) => {
  const before = await closedMetric('expired');
  const s = await connectBot(h.sidecar.realtimeUrl);
  t.teardown(() => s.close());
  t.equal((await s.login(await h.token())).return_code, 0);
  s.send(REG);
  t.equal((await s.next((f) => f.trnm === 'REG', 'REG reply')).return_code, 0);
  const stop = keepPushing(s);
  t.teardown(stop);
  await s.next(isReal('0B', '005930'), 'a push while the token is valid');
  const sys = await s.next((f) => f.trnm === 'SYSTEM', 'the session ending with its token', 40_000).catch((err: Error) => err);
  t.notOk(sys instanceof Error, `the socket is told its token expired (${sys instanceof Error ? sys.message.slice(0, 120) : ''})`);
  if (sys instanceof Error) return;
  t.match(String(sys.message), /KG2003/, `the message names the expiry: ${JSON.stringify(sys)}`);
  t.equal((await s.closed).code, 4003);
  const after = s.frames.slice(s.frames.indexOf(sys) + 1);
  t.same(
    after.filter((f) => f.trnm === 'REAL'),
    [],
    'no push after the session ended',
  );
  t.equal((await closedMetric('expired')) - before, 1, 'counted as expired');
});

t.test("a LOGIN with the bot's fresh token carries the socket past the first token's expiry, to the fresh one's", async (t) => {
  const s = await connectBot(h.sidecar.realtimeUrl);
  t.teardown(() => s.close());
  const first = await h.token();
  t.equal((await s.login(first)).return_code, 0);
  // A fresh token expires later than the first only once a second has passed (exp is in whole seconds).
  await new Promise((r) => setTimeout(r, 3_000));
  const fresh = await h.token();
  t.ok(expOf(fresh) > expOf(first), 'the fresh token expires later');
  t.equal((await s.login(fresh)).return_code, 0, 'the fresh token is acknowledged');
  // Past the first token's expiry (and its timer), the session still answers.
  await new Promise((r) => setTimeout(r, Math.max(0, expOf(first) - Date.now()) + 1_000));
  s.send(REG);
  const reg = await s.next((f) => f.trnm === 'REG' || f.trnm === 'SYSTEM', 'REG reply');
  t.equal(reg.trnm, 'REG', `the session goes on under the fresh token: ${JSON.stringify(reg)}`);
  t.equal(reg.return_code, 0);
  const sys = await s.next((f) => f.trnm === 'SYSTEM', "the session ending with the fresh token's expiry", 40_000).catch((err: Error) => err);
  t.notOk(sys instanceof Error, 'and it ends with the fresh token');
  if (!(sys instanceof Error)) t.match(String(sys.message), /KG2003/);
});

t.test("the bot logging in again over REST from the socket's address carries the socket on; the same token used from another address does not", async (t) => {
  const first = await h.token();
  const own = await connectBot(h.sidecar.realtimeUrl);
  t.teardown(() => own.close());
  // The bot's token used from another address (taken from the bot): it cannot log in again without the bot secret.
  const taken = await connectBot(h.sidecar.realtimeUrl, { localAddress: '127.0.0.2' });
  t.teardown(() => taken.close());
  t.equal((await own.login(first)).return_code, 0);
  t.equal((await taken.login(first)).return_code, 0);
  // The bot renews its token over REST, as a Kiwoom client does before expires_dt (from 127.0.0.1, like `own`).
  await new Promise((r) => setTimeout(r, 3_000));
  const fresh = await h.token();
  t.ok(expOf(fresh) > expOf(first), 'the fresh token expires later');
  const endedTaken = await taken.closed;
  t.equal(endedTaken.code, 4003, 'the socket from the other address ends with its token');
  t.match(String(taken.frames.find((f) => f.trnm === 'SYSTEM')?.message), /KG2003/);
  t.ok(Date.now() >= expOf(first), 'not before the token expired');
  own.send(REG);
  const reg = await own.next((f) => f.trnm === 'REG' || f.trnm === 'SYSTEM', 'REG reply');
  t.equal(reg.trnm, 'REG', `the bot's own socket goes on under its renewed token: ${JSON.stringify(reg)}`);
  t.equal(reg.return_code, 0);
});
