// The simulator's realtime WebSocket over real sockets: LOGIN, one session
// per app key (R10001), PING and the missed-ping close (R10002), sessions
// ended by token revocation and expiry, drop, the 404 for other paths, the
// control routes and close(). Pushes (REG, quotes, orders, conditions) are in
// ws-push.test.ts. No assertion is a wall-clock bound: tests wait for events.
import t from 'tap';
import type { Test } from 'tap';
import { Writable } from 'node:stream';
import pino from 'pino';
import WebSocket from 'ws';
import { R10001_MESSAGE, startSimulator, wsFingerprint, type SimOptions, type Simulator } from '../../proxy/sim/index.js';
import { call, issueToken, revoke, tr } from '../helpers/sim.js';
import { connect, eventually, isReal, isTrnm } from './ws-client.js';

const APP = { appKey: 'ws-app-key-A', secretKey: 'ws-secret-A', accountNo: '5010000001' };
const APP2 = { appKey: 'ws-app-key-B', secretKey: 'ws-secret-B', accountNo: '5010000002' };
const QUIET = { wsPingIntervalMs: 60_000, wsQuoteIntervalMs: 0, wsConditionIntervalMs: 0 };

async function started(t: Test, opts: SimOptions = {}): Promise<Simulator> {
  const sim = await startSimulator({ ...QUIET, ...opts });
  t.teardown(() => sim.close());
  sim.registerApp(APP);
  sim.registerApp(APP2);
  return sim;
}

const token = (sim: Simulator, app = APP): Promise<string> => issueToken(sim.url, app.appKey, app.secretKey);

t.test('LOGIN with a live token: Kiwoom reply, one session counted per app key fingerprint', async (t) => {
  const sim = await started(t);
  t.equal(sim.wsUrl, `${sim.url.replace('http://', 'ws://')}/api/dostk/websocket`);
  const c = await connect(sim.wsUrl);
  t.same(await c.login(await token(sim)), { trnm: 'LOGIN', return_code: 0, return_msg: '', sor_yn: 'Y' });
  t.same(sim.wsSessions(), { [wsFingerprint(APP.appKey)]: 1 });
  t.notMatch(JSON.stringify(sim.wsSessions()), APP.appKey, 'never the key itself');
  t.match(sim.stats().ws, { sessions: 1, logins: 1, loginFailures: 0, replaced: 0, registrations: 0 });
  t.equal(sim.stats().requests, 1, 'the upgrade is not a Kiwoom HTTP request');
});

t.test("LOGIN refused: bad, unknown-type, revoked and expired tokens get Kiwoom's realtime refusal (805004, CODE=8005) and the socket closes", async (t) => {
  const clock = { now: Date.now() };
  const sim = await started(t, { now: () => clock.now, tokenTtlMs: 60_000 });
  const rest = await tr(sim.url, 'no-such-token', 'ka00001', 'acnt', {});
  t.match(rest.json, { return_code: 3, return_msg: /\[8005:Token이 유효하지 않습니다\]/ }, 'REST keeps its own wording');
  // As Kiwoom answers a realtime LOGIN with a bad token (measured; public clients' tests keep it verbatim).
  const refusal = {
    trnm: 'LOGIN',
    return_code: 805004,
    return_msg: '토큰 인증에 실패했습니다. 접속을 종료합니다 [CODE=8005, MESSAGE=Token이 유효하지 않습니다]',
  };

  for (const bad of ['no-such-token', 42, '', undefined]) {
    const c = await connect(sim.wsUrl);
    t.same(await c.login(bad), refusal, `token ${JSON.stringify(bad)}`);
    await c.closed;
  }
  const revoked = await token(sim);
  t.equal((await revoke(sim.url, APP.appKey, APP.secretKey, revoked)).json.return_code, 0);
  const c1 = await connect(sim.wsUrl);
  t.same(await c1.login(revoked), refusal, 'revoked');
  await c1.closed;

  const expiring = await token(sim, APP2);
  clock.now += 60_001;
  const c2 = await connect(sim.wsUrl);
  t.same(await c2.login(expiring), refusal, 'expired');
  await c2.closed;
  t.match(sim.stats().ws, { sessions: 0, logins: 0, loginFailures: 6 });
});

t.test('anything before LOGIN gets SYSTEM R10004 and a close; so does silence past wsLoginTimeoutMs', async (t) => {
  const sim = await started(t, { wsLoginTimeoutMs: 50 });
  for (const first of [{ trnm: 'REG', grp_no: '1', refresh: '1', data: [] }, { trnm: 'PING' }, 'not json', [1, 2]]) {
    const c = await connect(sim.wsUrl);
    c.send(first);
    t.match(await c.next(), { trnm: 'SYSTEM', code: 'R10004', message: /LOGIN/ }, JSON.stringify(first));
    t.equal(await c.closed, 1000);
  }
  const silent = await connect(sim.wsUrl);
  t.match(await silent.next(), { trnm: 'SYSTEM', code: 'R10004' }, 'never logged in');
  await silent.closed;
  t.equal(sim.stats().ws.logins, 0);
});

t.test('one session per app key: a second LOGIN with the same key ends the first with R10001', async (t) => {
  const sim = await started(t);
  const tok = await token(sim);
  const first = await connect(sim.wsUrl);
  t.equal((await first.login(tok)).return_code, 0);
  const other = await connect(sim.wsUrl);
  t.equal((await other.login(await token(sim, APP2))).return_code, 0, 'another app key');

  const second = await connect(sim.wsUrl);
  t.equal((await second.login(tok)).return_code, 0, 'the second login succeeds');
  t.same(await first.next(isTrnm('SYSTEM')), { trnm: 'SYSTEM', code: 'R10001', message: R10001_MESSAGE });
  t.equal(R10001_MESSAGE, '동일한 App key로 접속이 되었습니다. 기존 세션은 종료가 됩니다');
  await first.closed;
  second.send({ trnm: 'REG', grp_no: '1', refresh: '1', data: [{ item: ['005930'], type: ['0B'] }] });
  t.same(await second.next(isTrnm('REG')), { trnm: 'REG', return_code: 0, return_msg: '' }, 'the second keeps working');
  t.same(sim.wsSessions(), { [wsFingerprint(APP.appKey)]: 1, [wsFingerprint(APP2.appKey)]: 1 }, 'the other key is untouched');
  t.match(sim.stats().ws, { sessions: 2, logins: 3, replaced: 1, registrations: 1 });
  second.send({ trnm: 'LOGIN', token: tok });
  t.match(await second.next(isTrnm('LOGIN')), { return_code: 1 }, 'a second LOGIN on one connection is refused and changes nothing');
  t.equal(sim.stats().ws.sessions, 2);
});

t.test('a revoked or expired token ends its session with SYSTEM 8005', async (t) => {
  const clock = { now: Date.now() };
  const sim = await started(t, { now: () => clock.now, tokenTtlMs: 60_000, wsPingIntervalMs: 20, control: true });
  const expect8005 = { trnm: 'SYSTEM', code: '8005', message: '인증에 실패했습니다[8005:Token이 유효하지 않습니다]' };

  const a = await connect(sim.wsUrl);
  const tokA = await token(sim);
  await a.login(tokA);
  const b = await connect(sim.wsUrl);
  await b.login(await token(sim, APP2));
  t.equal((await revoke(sim.url, APP.appKey, APP.secretKey, tokA)).json.return_code, 0, 'au10002');
  t.same(await a.next(isTrnm('SYSTEM')), expect8005);
  await a.closed;
  t.same(sim.wsSessions(), { [wsFingerprint(APP2.appKey)]: 1 }, "only the revoked token's session ended");

  t.equal(sim.revokeAll(APP2.accountNo), 1, 'revokeAll');
  t.same(await b.next(isTrnm('SYSTEM')), expect8005);
  await b.closed;

  clock.now += 1000; // au10001 allows two issues per app key per second
  const c = await connect(sim.wsUrl);
  await c.login(await token(sim));
  t.same((await call(sim.url, '/_sim/revoke', { accountNo: APP.accountNo })).json, { revoked: 1 }, 'control revoke');
  t.same(await c.next(isTrnm('SYSTEM')), expect8005);
  await c.closed;

  clock.now += 1000;
  const d = await connect(sim.wsUrl);
  await d.login(await token(sim));
  clock.now += 60_001;
  t.same(await d.next(isTrnm('SYSTEM')), expect8005, 'expiry is noticed at a PING tick');
  await d.closed;
  t.equal(sim.stats().ws.sessions, 0);
});

t.test('PING: sent every wsPingIntervalMs, echoes are not answered, missed PINGs end the session with R10002', async (t) => {
  const sim = await started(t, { wsPingIntervalMs: 50, wsMaxMissedPings: 3 });
  const c = await connect(sim.wsUrl, { autoPong: false });
  await c.login(await token(sim));
  for (let i = 0; i < 3; i++) {
    const ping = await c.next();
    t.same(ping, { trnm: 'PING' });
    c.send(ping);
  }
  t.equal(sim.stats().ws.sessions, 1, 'alive while it echoes');
  const system = await c.next(isTrnm('SYSTEM'));
  t.match(system, { trnm: 'SYSTEM', code: 'R10002' });
  await c.closed;
  const after = c.seen.slice(1);
  t.ok(
    after.every((m) => m.trnm === 'PING' || m === system),
    'nothing but PINGs and the final SYSTEM: no answer to an echo',
  );
  t.ok(after.filter((m) => m.trnm === 'PING').length >= 6, 'three echoed, three missed');

  const patient = await connect(sim.wsUrl);
  await patient.login(await token(sim));
  await eventually(() => patient.seen.filter((m) => m.trnm === 'PING').length >= 5, 'five PINGs to an echoing client');
  t.equal(sim.stats().ws.sessions, 1, 'an echoing client stays');
});

t.test('dropWebSockets and /_sim/ws/drop destroy every socket; the client can log in again', async (t) => {
  const sim = await started(t, { control: true });
  const tok = await token(sim);
  const a = await connect(sim.wsUrl);
  await a.login(tok);
  const pending = await connect(sim.wsUrl);
  t.equal(sim.dropWebSockets(), 2, 'logged in or not');
  t.equal(await a.closed, 1006, 'no close frame: abnormal closure');
  t.equal(await pending.closed, 1006);
  t.equal(sim.stats().ws.sessions, 0);

  const again = await connect(sim.wsUrl);
  t.equal((await again.login(tok)).return_code, 0, 'reconnect with the same token');
  t.same((await call(sim.url, '/_sim/ws/sessions', undefined, {}, { method: 'GET' })).json, {
    sessions: { [wsFingerprint(APP.appKey)]: 1 },
    stats: sim.stats().ws,
  });
  t.same((await call(sim.url, '/_sim/ws/drop', {})).json, { dropped: 1 });
  t.equal(await again.closed, 1006);
  t.equal(sim.stats().ws.replaced, 0, 'a drop is not a replacement');
});

t.test('other upgrade paths get 404 and the socket is destroyed', async (t) => {
  const sim = await started(t);
  const base = sim.url.replace('http://', 'ws://');
  for (const path of ['/', '/api/dostk/websocket/extra', '/api/dostk/ordr', '/_sim/stats']) {
    const ws = new WebSocket(`${base}${path}`);
    const status = await new Promise<number>((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => resolve(-1));
    });
    t.equal(status, 404, path);
  }
  const c = await connect(`${sim.wsUrl}?x=1`);
  t.equal((await c.login(await token(sim))).return_code, 0, 'a query string on the right path is fine');
});

t.test('reset() drops the sockets and the counters', async (t) => {
  const sim = await started(t);
  const c = await connect(sim.wsUrl);
  await c.login(await token(sim));
  sim.reset();
  await c.closed;
  t.same(sim.stats().ws, { sessions: 0, logins: 0, loginFailures: 0, replaced: 0, pushes: 0, registrations: 0 });
});

t.test('no token in the logs, at debug level', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const sim = await started(t, { logger: pino({ level: 'debug' }, sink) });
  const tok = await token(sim);
  const c = await connect(sim.wsUrl);
  await c.login(tok);
  const bad = await connect(sim.wsUrl);
  await bad.login(`${tok}x`);
  t.ok(
    lines.some((l) => l.includes('sim websocket login')),
    'logins are logged',
  );
  t.notOk(lines.join('').includes(tok.slice(0, 20)), 'the token is not');
  t.notOk(lines.join('').includes(APP.appKey), 'nor the app key');
});

t.test('close() ends every socket and timer: nothing is left running', async (t) => {
  const sockets = (): string[] =>
    process
      .getActiveResourcesInfo()
      .filter((r) => r.startsWith('TCP'))
      .sort();
  const before = sockets();
  const sim = await startSimulator({ wsPingIntervalMs: 5, wsQuoteIntervalMs: 5, wsConditionIntervalMs: 5, wsLoginTimeoutMs: 60_000 });
  sim.registerApp(APP);
  const c = await connect(sim.wsUrl);
  await c.login(await token(sim));
  c.send({ trnm: 'REG', grp_no: '1', refresh: '1', data: [{ item: ['005930'], type: ['0B', '0D'] }] });
  c.send({ trnm: 'CNSRLST' });
  c.send({ trnm: 'CNSRREQ', seq: '0', search_type: '1', stex_tp: 'K' });
  await c.next(isReal('02'));
  await c.next(isReal('0B'));
  const unauthenticated = await connect(sim.wsUrl);
  await sim.close();
  t.equal(await c.closed, 1006);
  t.equal(await unauthenticated.closed, 1006);
  const stats = sim.stats().ws;
  const quote = sim.quote('005930');
  t.equal(stats.sessions, 0);
  // Sockets of earlier tests may close meanwhile, so: no more than before.
  await eventually(() => sockets().length <= before.length, `sockets back to ${before.length} (now ${sockets().join()})`);
  // Ten timer periods later the quote and condition timers have still done nothing.
  await new Promise((r) => setTimeout(r, 50));
  t.same(sim.stats().ws, stats, 'no pushes, pings or logins after close');
  t.equal(sim.quote('005930'), quote, 'the quote timer is stopped');
});
