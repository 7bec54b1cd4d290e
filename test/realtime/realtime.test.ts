// Realtime through one sidecar, against the simulator's WebSocket: LOGIN with
// the sidecar token, one upstream session per app key fanned out to every
// bot, registrations counted per bot, routing by account, policy denials,
// reconnect and re-registration, lockdown, and no broker token in any frame.
import t from 'tap';
import path from 'node:path';
import { startHarness, CANARY, FIXTURES, waitFor, type Harness } from '../helpers/harness.js';
import { readAuditRecords } from '../helpers/audit-sidecar-log.js';
import { connectBot, isReal, type BotSocket } from './ws-client.js';

const tokens: Buffer[] = [];
let h: Harness;
t.before(async () => {
  h = await startHarness({
    sim: { onTokenIssued: (b: Buffer) => tokens.push(b), wsQuoteIntervalMs: 3_600_000, wsPingIntervalMs: 200 } as never,
    allowed: ['kind:query', 'kind:account', 'kind:order', 'kind:modify', 'kind:cancel', 'kind:realtime'],
    policyFile: path.join(FIXTURES, 'policy-realtime.yaml'),
    config: { realtime: { pingIntervalMs: 200, recheckMs: 100, lingerMs: 200 } },
  });
});
t.teardown(async () => {
  await h.close();
  for (const b of tokens) b.fill(0);
});

const sockets: BotSocket[] = [];
/** Every bot socket of the file, for the canary scan at the end. */
const everOpened: BotSocket[] = [];
t.afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

function addBot(id: string, account = CANARY.account, allowed = ['kind:query', 'kind:account', 'kind:order', 'kind:realtime']): Promise<string> {
  return h.addBot(id, allowed, account);
}

async function bot(token: string): Promise<BotSocket> {
  const s = await connectBot(h.sidecar.realtimeUrl);
  sockets.push(s);
  everOpened.push(s);
  const r = await s.login(token);
  if (r.return_code !== 0) throw new Error(`login failed: ${JSON.stringify(r)}`);
  return s;
}

const reg = (items: string[], type: string, refresh = '1') => ({ trnm: 'REG', grp_no: '1', refresh, data: [{ item: items, type: [type] }] });

t.test("LOGIN: a forged or revoked sidecar token gets Kiwoom's refused-token answer (return_code 805004, CODE=8005) and the socket closes", async (t) => {
  const forged = await connectBot(h.sidecar.realtimeUrl);
  const r = await forged.login('eyJhbGciOiJIUzI1NiJ9.e30.forged');
  t.equal(r.return_code, 805004);
  t.match(String(r.return_msg), /\[CODE=8005, [^\]]+\].*KG2/);
  t.equal((await forged.closed).code, 4001);

  const token = await h.token();
  await h.post('/oauth2/revoke', JSON.stringify({ appkey: h.botId, secretkey: h.botSecret, token }));
  const revoked = await connectBot(h.sidecar.realtimeUrl);
  t.equal((await revoked.login(token)).return_code, 805004, 'a revoked token is refused');
  await revoked.closed;

  const early = await connectBot(h.sidecar.realtimeUrl);
  early.send({ trnm: 'REG', grp_no: '1', refresh: '1', data: [{ item: ['005930'], type: ['0B'] }] });
  t.equal((await early.closed).code, 4001, 'anything before LOGIN closes the socket');
});

t.test('three bots on one key share one upstream session; registrations are counted per bot', async (t) => {
  const [ta, tb, tc] = [await addBot('rt-a'), await addBot('rt-b'), await addBot('rt-c', '7777000022')];
  const a = await bot(ta);
  const b = await bot(tb);
  const c = await bot(tc);
  await waitFor(() => h.sim.stats().ws.sessions === 1, 10_000, 'one upstream session');

  a.send(reg(['005930', '000660'], '0B'));
  const ackA = await a.next((f) => f.trnm === 'REG', 'REG ack');
  t.equal(ackA.return_code, 0, JSON.stringify(ackA));
  b.send(reg(['005930', '000660'], '0B'));
  t.equal((await b.next((f) => f.trnm === 'REG', 'REG ack')).return_code, 0);

  h.sim.pushQuote('005930');
  await a.next(isReal('0B', '005930'), 'A gets 005930');
  await b.next(isReal('0B', '005930'), 'B gets 005930');

  // B removes 005930: A still gets it, B does not (B's next 000660 push comes with nothing before it).
  b.send({ trnm: 'REMOVE', grp_no: '1', data: [{ item: ['005930'], type: ['0B'] }] });
  t.equal((await b.next((f) => f.trnm === 'REMOVE', 'REMOVE ack')).return_code, 0);
  h.sim.pushQuote('005930');
  h.sim.pushQuote('000660');
  await a.next(isReal('0B', '005930'), 'A still gets 005930 after B removed it');
  const bNext = await b.next((f) => f.trnm === 'REAL', 'B next push');
  t.ok(isReal('0B', '000660')(bNext) && !isReal('0B', '005930')(bNext), "B's feed is exactly what B still wants");

  // refresh 0 replaces only A's own set.
  a.send(reg(['005380'], '0B', '0'));
  await a.next((f) => f.trnm === 'REG', 'REG ack');
  h.sim.pushQuote('000660');
  await b.next(isReal('0B', '000660'), "B keeps 000660 after A's refresh 0");

  // Fills: an order through REST reaches the bots of that account only.
  for (const s of [a, b, c]) {
    s.send({ trnm: 'REG', grp_no: '2', refresh: '1', data: [{ item: [''], type: ['00'] }] });
    await s.next((f) => f.trnm === 'REG', 'REG 00 ack');
  }
  const order = await h.call('kt10000', { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '', trde_tp: '3' }, { token: ta });
  t.equal(order.json.return_code, 0, order.text);
  await a.next(isReal('00'), 'A gets its fill');
  await b.next(isReal('00'), 'B (same account) gets the fill');
  c.send({ trnm: 'REG', grp_no: '3', refresh: '1', data: [{ item: ['005380'], type: ['0B'] }] });
  await c.next((f) => f.trnm === 'REG', 'REG ack');
  h.sim.pushQuote('005380');
  const cNext = await c.next((f) => f.trnm === 'REAL', 'C next push');
  t.notOk(isReal('00')(cNext), 'C (another account) never got the fill');

  t.equal(h.sim.stats().ws.sessions, 1, 'still exactly one upstream session');
  t.equal(h.sim.stats().ws.replaced, 0, 'never R10001');
});

t.test('policy: denials name the rule (type, symbol) or the allowlist, and register nothing', async (t) => {
  const d = await bot(await addBot('rt-d'));
  d.send(reg(['005930'], '0D'));
  let r = await d.next((f) => f.trnm === 'REG', 'REG reply');
  t.match(String(r.return_msg), /KG3001:rule=no-order-book/, 'a denied type names its rule');
  d.send(reg(['035720', '005930'], '0B'));
  r = await d.next((f) => f.trnm === 'REG', 'REG reply');
  t.match(String(r.return_msg), /KG3001:rule=restricted-list/, 'a restricted symbol names its rule');
  h.sim.pushQuote('005930');
  d.send(reg(['000660'], '0B'));
  t.equal((await d.next((f) => f.trnm === 'REG', 'REG reply')).return_code, 0);
  h.sim.pushQuote('000660');
  const first = await d.next((f) => f.trnm === 'REAL', 'first push');
  t.ok(isReal('0B', '000660')(first), 'the refused message registered nothing (no 005930 push came first)');
  d.send(reg(['005380', '051910'], '0B'));
  const capped = await d.next((f) => f.trnm === 'REG', 'REG reply');
  t.match(String(capped.return_msg), /KG3018/, `the policy's realtime-limits cap for this bot (2): ${JSON.stringify(capped)}`);
  d.send('{not json');
  const bad = await d.next((f) => f.return_code !== undefined && f.trnm !== 'REG', 'malformed reply');
  t.match(String(bad.return_msg), /실시간 메시지 형식이 올바르지 않습니다\[KG1019:/, `a realtime message, not a header: ${JSON.stringify(bad)}`);
  // The sidecar would read the last trnm; a parser that keeps the first would read a registration it never judged.
  d.send('{"trnm":"REG","grp_no":"1","refresh":"1","data":[{"item":["005930"],"type":["0D"]}],"trnm":"PING"}');
  const twice = await d.next((f) => f.return_code !== undefined && f.return_code !== 0, 'duplicate-key reply');
  t.match(String(twice.return_msg), /KG1019.*twice/, `a key twice is refused: ${JSON.stringify(twice)}`);

  const e = await bot(await addBot('rt-q', CANARY.account, ['kind:query']));
  e.send(reg(['005930'], '0B'));
  t.match(String((await e.next((f) => f.trnm === 'REG', 'REG reply')).return_msg), /KG3002/, "outside the bot's allowlist");
});

t.test('an upstream drop: the relay logs in again and re-registers; bots keep their feeds', async (_t) => {
  const a = await bot(await addBot('rt-e'));
  a.send(reg(['005930'], '0B'));
  await a.next((f) => f.trnm === 'REG', 'REG ack');
  const logins = h.sim.stats().ws.logins;
  h.sim.dropWebSockets();
  await waitFor(() => h.sim.stats().ws.logins > logins && h.sim.stats().ws.sessions === 1, 20_000, 'upstream login again');
  await waitFor(() => h.sim.pushQuote('005930') > 0, 20_000, 'registration replayed upstream').catch((err) => {
    console.error(
      h
        .logs()
        .split('\n')
        .filter((l) => l.includes('realtime') || l.includes('broker'))
        .slice(-30)
        .join('\n'),
    );
    throw err;
  });
  await a.next(isReal('0B', '005930'), 'the bot gets pushes again');
});

t.test('lockdown mid-stream: live searches cleared, the socket closed with a clear message', async (t) => {
  const a = await bot(await addBot('rt-f'));
  a.send({ trnm: 'CNSRLST' });
  t.equal((await a.next((f) => f.trnm === 'CNSRLST', 'list')).return_code, 0);
  a.send({ trnm: 'CNSRREQ', seq: '1', search_type: '1', stex_tp: 'K' });
  t.equal((await a.next((f) => f.trnm === 'CNSRREQ', 'live search')).return_code, 0);
  const admin = await h.adminToken('ops', 'admin');
  const r = await h.admin('POST', '/admin/v1/lockdown', admin, { bot: 'rt-f', reason: 'realtime drill' });
  t.ok(r.status < 300, r.text);
  t.ok(h.sim.triggerCondition('1').pushes >= 0);
  const sys = await a.next((f) => f.trnm === 'SYSTEM', 'SYSTEM message');
  t.match(String(sys.message), /KG2|KG3|KG7/, 'the message names why');
  t.equal((await a.closed).code, 4003);
  await waitFor(() => h.sim.triggerCondition('1').pushes === 0, 10_000, 'the live search cleared upstream (CNSRCLR)');
  const audit = h.logs();
  t.ok(audit.length > 0);
});

t.test('audit: logins, registration changes, searches and closes are recorded', async (t) => {
  const types = new Set((await readAuditRecords(path.join(h.dataDir, 'audit'))).map((r) => String(r.type)));
  for (const type of [
    'realtime.login',
    'realtime.login_refused',
    'realtime.registered',
    'realtime.removed',
    'realtime.denied',
    'realtime.search',
    'realtime.closed',
  ])
    t.ok(types.has(type), `${type} audited`);
});

t.test('the last bot gone: the upstream session closes after the linger and the broker token is revoked', async (t) => {
  for (const s of sockets.splice(0)) s.close();
  await waitFor(() => h.sim.stats().ws.sessions === 0, 20_000, 'upstream session closed');
  await h.waitNoLiveTokens(20_000);
  t.pass('no upstream session and no live broker token once no bot is connected');
});

t.test('canary: no broker token in any frame a bot received', async (t) => {
  t.ok(tokens.length > 0, 'the simulator issued broker tokens');
  const seen = everOpened.flatMap((s) => s.frames.map((f) => JSON.stringify(f))).join('\n') + h.logs();
  t.ok(
    everOpened.some((s) => s.frames.some((f) => f.trnm === 'REAL')),
    'the scan covers real pushes',
  );
  for (const b of tokens) t.notOk(seen.includes(b.toString('latin1')), 'broker token absent');
  t.notOk(seen.includes(CANARY.appKey) || seen.includes(CANARY.secretKey), 'keys absent');
});
