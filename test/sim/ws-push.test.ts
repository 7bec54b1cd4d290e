// The simulator's realtime pushes over real sockets: REG/REMOVE (acks,
// validation, refresh 0 vs 1, the cap), 0B/0D quotes for registered items
// only, 00/04 from orders placed over REST, and condition search (CNSRLST,
// CNSRREQ one-shot and live, REAL 02, CNSRCLR, the limit of live searches).
// Tests wait for messages; "nothing else arrived" is shown by order: the
// next message a socket gets is the one a later action caused.
import t from 'tap';
import type { Test } from 'tap';
import { DEFAULT_REALTIME, startSimulator, type SimOptions, type Simulator } from '../../proxy/sim/index.js';
import { call, issueToken, tr } from '../helpers/sim.js';
import { connect, isReal, isTrnm, type WsClient } from './ws-client.js';

const APP = { appKey: 'push-app-A', secretKey: 'push-secret-A', accountNo: '5020000001' };
const APP2 = { appKey: 'push-app-B', secretKey: 'push-secret-B', accountNo: '5020000002' };
const QUIET = { wsPingIntervalMs: 60_000, wsQuoteIntervalMs: 0, wsConditionIntervalMs: 0 };

async function started(t: Test, opts: SimOptions = {}): Promise<Simulator> {
  const sim = await startSimulator({ ...QUIET, ...opts });
  t.teardown(() => sim.close());
  sim.registerApp({ ...APP, cash: 10_000_000, holdings: [{ stkCd: '005930', qty: 10, avgPrice: 70_000 }] });
  sim.registerApp({ ...APP2, cash: 10_000_000 });
  return sim;
}

async function session(sim: Simulator, app = APP): Promise<{ c: WsClient; tok: string }> {
  const tok = await issueToken(sim.url, app.appKey, app.secretKey);
  const c = await connect(sim.wsUrl);
  const login = await c.login(tok);
  if (login.return_code !== 0) throw new Error(JSON.stringify(login));
  return { c, tok };
}

async function reg(c: WsClient, body: Record<string, unknown>): Promise<Record<string, any>> {
  c.send(body);
  return c.next(isTrnm(String(body.trnm)));
}

const REG = (grp: string, refresh: string, item: string[], type: string[]) => ({ trnm: 'REG', grp_no: grp, refresh, data: [{ item, type }] });

t.test('REG and REMOVE: Kiwoom acks, refresh 1 keeps and 0 replaces the group, other groups stay', async (t) => {
  const sim = await started(t);
  const { c } = await session(sim);
  const ok = { trnm: 'REG', return_code: 0, return_msg: '' };
  t.same(await reg(c, REG('1', '1', ['005930'], ['0B'])), ok);
  t.same(await reg(c, REG('1', '1', ['000660'], ['0B'])), ok);
  t.equal(sim.stats().ws.registrations, 2, 'refresh 1 kept 005930');
  t.equal(sim.pushQuote('005930'), 1);
  t.same(await reg(c, REG('2', '1', ['035720'], ['0B'])), ok);
  t.same(await reg(c, REG('1', '0', ['035420'], ['0B'])), ok);
  t.equal(sim.stats().ws.registrations, 2, "refresh 0 replaced group 1's two with one; group 2 stays");
  t.equal(sim.pushQuote('005930'), 0, 'replaced');
  t.equal(sim.pushQuote('035420'), 1);
  t.equal(sim.pushQuote('035720'), 1, 'group 2 untouched');
  t.same(await reg(c, { trnm: 'REMOVE', grp_no: '1', data: [{ item: ['035420'], type: ['0B'] }] }), { trnm: 'REMOVE', return_code: 0, return_msg: '' });
  t.equal(sim.pushQuote('035420'), 0, 'removed');
  t.same(
    await reg(c, { trnm: 'REMOVE', grp_no: '7', data: [{ item: ['005930'], type: ['0B'] }] }),
    { trnm: 'REMOVE', return_code: 0, return_msg: '' },
    'removing nothing is fine',
  );
  t.same(await reg(c, REG('3', '1', [''], ['00', '04'])), ok, 'account types register with item ""');
  t.equal(sim.stats().ws.registrations, 3);
});

t.test('REG validation: refused requests answer return_code 1 with a reason and change nothing', async (t) => {
  const sim = await started(t, { wsMaxRegistrations: 3 });
  const { c } = await session(sim);
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [REG('1', '1', ['005930'], ['ZZ']), /type=ZZ/],
    [REG('1', '1', ['005930'], ['0b']), /type=0b/],
    [REG('1', '1', ['abc'], ['0B']), /item=abc/],
    [REG('1', '1', ['005930'], ['00']), /00에 쓸 수 없는 값/],
    [REG('1', '1', ['001'], ['0B']), /item=001/],
    [{ trnm: 'REG', refresh: '1', data: [{ item: ['005930'], type: ['0B'] }] }, /\[1511:.*grp_no\]/],
    [{ trnm: 'REG', grp_no: 'x', refresh: '1', data: [{ item: ['005930'], type: ['0B'] }] }, /\[1517:.*grp_no/],
    [{ trnm: 'REG', grp_no: '1', data: [{ item: ['005930'], type: ['0B'] }] }, /\[1511:.*refresh\]/],
    [{ trnm: 'REG', grp_no: '1', refresh: '2', data: [{ item: ['005930'], type: ['0B'] }] }, /refresh/],
    // data is optional on a REG (Kiwoom's spec; review-client-compat-realtime), never on a REMOVE.
    [{ trnm: 'REMOVE', grp_no: '1' }, /\[1511:.*data\]/],
    [{ trnm: 'REG', grp_no: '1', refresh: '1', data: [{ item: ['005930'] }] }, /\[1511:.*type\]/],
    [{ trnm: 'REG', grp_no: '1', refresh: '1', data: [{ item: [5930], type: ['0B'] }] }, /item/],
    [REG('1', '1', ['005930', '000660', '035420', '035720'], ['0B']), /최대=3/],
    [{ trnm: 'REMOVE', data: [{ item: ['005930'], type: ['0B'] }] }, /grp_no/],
  ];
  for (const [body, reason] of cases) {
    const answer = await reg(c, body);
    t.match(answer, { trnm: body.trnm, return_code: 1, return_msg: reason }, JSON.stringify(body));
  }
  t.equal(sim.stats().ws.registrations, 0, 'nothing was applied, not even part of a request');
  t.same(await reg(c, REG('1', '1', ['005930', '000660', '035420'], ['0B'])), { trnm: 'REG', return_code: 0, return_msg: '' }, 'up to the cap');
  t.match(await reg(c, REG('2', '1', ['035720'], ['0D'])), { return_code: 1, return_msg: /최대=3/ }, 'the cap counts every group');
  t.same(await reg(c, REG('1', '0', ['035720'], ['0D'])), { trnm: 'REG', return_code: 0, return_msg: '' }, 'refresh 0 frees its own group first');
  c.send({ trnm: 'NOPE' });
  t.match(await c.next(isTrnm('NOPE')), { return_code: 1 });
  c.send('not json');
  t.match(await c.next((m) => m.trnm === undefined), { return_code: 1, return_msg: /1517/ });
  t.equal(DEFAULT_REALTIME.maxRegistrations, 100);
});

t.test('0B and 0D go to the sessions that registered the stock, and only those', async (t) => {
  const sim = await started(t);
  const a = (await session(sim)).c;
  const b = (await session(sim, APP2)).c;
  await reg(a, { trnm: 'REG', grp_no: '1', refresh: '1', data: [{ item: ['005930'], type: ['0B', '0D'] }] });
  await reg(b, REG('1', '1', ['000660', '005930_NX'], ['0B']));

  t.equal(sim.pushQuote('005930', 75_000), 3, "a's 0B and 0D, b's 0B for the NXT spelling");
  const trade = await a.next(isReal('0B'));
  t.match(trade, { trnm: 'REAL', data: [{ type: '0B', name: '주식체결', item: '005930' }] });
  const v = trade.data[0].values;
  t.equal(v['10'], '+75000', 'price signed against the previous close');
  t.equal(v['11'], '+900');
  t.equal(v['12'], '+1.21');
  t.match(v, { 15: /^[+-]\d+$/, 13: /^\d+$/, 20: /^\d{6}$/, 25: '2', 27: '+75100', 28: '+75000' });
  const book = await a.next(isReal('0D'));
  t.match(book.data[0], { type: '0D', name: '주식호가잔량', item: '005930', values: { 41: '+75100', 51: '+75000', 61: /^\d+$/, 71: /^\d+$/, 21: /^\d{6}$/ } });
  t.match((await b.next(isReal('0B'))).data[0], { item: '005930_NX', values: { 10: '+75000' } });

  t.equal(sim.pushQuote('035420'), 0, 'nobody registered it');
  t.equal(sim.pushQuote('000660'), 1);
  t.match((await b.next(isReal('0B'))).data[0], { item: '000660' }, "b's next push is its own stock");
  t.equal(sim.pushQuote('000660', 170_000), 1);
  t.match((await b.next()).data[0], { item: '000660', values: { 10: '-170000', 25: '5' } });
  t.throws(() => sim.pushQuote('nope'), /unknown stock code/);
  t.throws(() => sim.pushQuote('005930', -1), /price/);
  t.equal(sim.stats().ws.pushes, 5);
});

t.test('the quote timer walks registered stocks a tick at a time and pushes them', async (t) => {
  const sim = await started(t, { wsQuoteIntervalMs: 5 });
  const { c } = await session(sim);
  await reg(c, REG('1', '1', ['005930'], ['0B']));
  const prices = new Set<number>();
  for (let i = 0; i < 20; i++) {
    const m = await c.next(isReal('0B'));
    t.equal(m.data[0].item, '005930');
    prices.add(Math.abs(Number(m.data[0].values['10'])));
  }
  t.ok(prices.size > 1, 'the price moved');
  t.ok(
    [...prices].every((p) => p % 100 === 0 && Math.abs(p - 74_100) <= 2000),
    'on the 100-won tick grid, near the start',
  );
  t.equal(sim.quote('000660'), 180_000, 'an unregistered stock stays put');
});

t.test('orders placed over REST push 00 (and 04 on fills) to the sessions of that account that registered them', async (t) => {
  // Many orders in quick succession: lift the per-key order limits (their refusals are sim-limits.test.ts's business).
  const sim = await started(t, { limits: { orderGroupPerSecond: 1000, perApiIdPerSecond: 1000, totalPerSecond: 1000 } });
  const { c, tok } = await session(sim);
  const other = await session(sim, APP2);
  await reg(c, REG('1', '1', [''], ['00', '04']));
  await reg(other.c, REG('1', '1', [''], ['00']));

  const limit = await tr(sim.url, tok, 'kt10000', 'ordr', { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '3', ord_uv: '70000', trde_tp: '0' });
  const ordNo = limit.json.ord_no as string;
  const accepted = await c.next(isReal('00'));
  t.match(accepted.data[0], { type: '00', name: '주문체결', item: '005930' });
  t.match(accepted.data[0].values, {
    9201: APP.accountNo,
    9203: ordNo,
    9001: 'A005930',
    302: '삼성전자',
    913: '접수',
    900: '3',
    901: '70000',
    902: '3',
    904: '0000000',
    905: '+매수',
    906: '보통',
    907: '2',
    908: /^\d{6}$/,
    909: '',
    2134: '1',
    2135: 'KRX',
  });

  sim.setQuote('005930', 70_000);
  const filled = await c.next(isReal('00'));
  t.match(filled.data[0].values, { 9203: ordNo, 913: '체결', 910: '70000', 911: '3', 902: '0', 909: /^\d+$/, 914: '70000', 915: '3' });
  const bal = await c.next(isReal('04'));
  t.match(bal.data[0], { type: '04', name: '현물잔고', item: '005930' });
  t.match(bal.data[0].values, { 9201: APP.accountNo, 9001: 'A005930', 302: '삼성전자', 930: '13', 931: '70000', 933: '13', 945: '3', 946: '2', 10: '-70000' });

  await tr(sim.url, tok, 'kt10001', 'ordr', { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '13', ord_uv: '', trde_tp: '3' });
  t.match((await c.next(isReal('00'))).data[0].values, { 913: '접수', 905: '-매도', 906: '시장가', 907: '1' });
  t.match((await c.next(isReal('00'))).data[0].values, { 913: '체결', 911: '13' });
  t.match((await c.next(isReal('04'))).data[0].values, { 930: '0', 946: '1' }, 'sold out');

  const resting = await tr(sim.url, tok, 'kt10000', 'ordr', { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '5', ord_uv: '60000', trde_tp: '0' });
  t.match((await c.next(isReal('00'))).data[0].values, { 913: '접수', 9203: resting.json.ord_no });
  const mod = await tr(sim.url, tok, 'kt10002', 'ordr', {
    dmst_stex_tp: 'KRX',
    orig_ord_no: resting.json.ord_no,
    stk_cd: '005930',
    mdfy_qty: '2',
    mdfy_uv: '61000',
  });
  t.match((await c.next(isReal('00'))).data[0].values, { 913: '접수', 9203: mod.json.ord_no, 904: resting.json.ord_no, 905: '+매수정정', 901: '61000' });
  t.match((await c.next(isReal('00'))).data[0].values, { 913: '확인', 9203: mod.json.ord_no });
  const cancel = await tr(sim.url, tok, 'kt10003', 'ordr', { dmst_stex_tp: 'KRX', orig_ord_no: resting.json.ord_no, stk_cd: '005930', cncl_qty: '0' });
  t.match((await c.next(isReal('00'))).data[0].values, { 913: '접수', 9203: cancel.json.ord_no, 905: '매수취소', 900: '3' });
  t.match((await c.next(isReal('00'))).data[0].values, { 913: '확인', 9203: cancel.json.ord_no });

  const ioc = await tr(sim.url, tok, 'kt10000', 'ordr', { dmst_stex_tp: 'SOR', stk_cd: '005930', ord_qty: '1', ord_uv: '1000', trde_tp: '10' });
  t.match((await c.next(isReal('00'))).data[0].values, { 913: '접수', 9203: ioc.json.ord_no, 2136: 'Y' });
  t.match((await c.next(isReal('00'))).data[0].values, { 913: '확인', 9203: ioc.json.ord_no }, 'an IOC that could not fill is killed');

  const tok2 = other.tok;
  const own = await tr(sim.url, tok2, 'kt10000', 'ordr', { dmst_stex_tp: 'KRX', stk_cd: '000660', ord_qty: '1', ord_uv: '170000', trde_tp: '0' });
  t.match(
    (await other.c.next(isReal('00'))).data[0].values,
    { 9201: APP2.accountNo, 9203: own.json.ord_no },
    "another account's session saw none of the first account's orders",
  );

  const quotesOnly = await connect(sim.wsUrl);
  await quotesOnly.login(await issueToken(sim.url, APP.appKey, APP.secretKey));
  t.match(await c.next(isTrnm('SYSTEM')), { code: 'R10001' }, 'same app key: the newest session wins');
  await reg(quotesOnly, REG('1', '1', ['005930'], ['0B']));
  await tr(sim.url, tok, 'kt10000', 'ordr', { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '', trde_tp: '3' });
  sim.pushQuote('005930');
  t.match((await quotesOnly.next((m) => m.trnm === 'REAL')).data[0], { type: '0B' }, 'no 00 without registering 00');
});

t.test('condition search: CNSRLST first, one-shot and live CNSRREQ, REAL 02, CNSRCLR', async (t) => {
  const sim = await started(t);
  const { c } = await session(sim);
  c.send({ trnm: 'CNSRREQ', seq: '0', search_type: '0', stex_tp: 'K' });
  c.send({ trnm: 'CNSRLST' });
  const list = await c.next();
  t.equal(list.trnm, 'CNSRLST', 'a CNSRREQ before CNSRLST gets no answer at all, as Kiwoom warns');
  t.match(list, { return_code: 0, return_msg: '' });
  t.same(list.data.slice(0, 4), [
    ['0', '골든크로스'],
    ['1', '거래량급증'],
    ['2', '신고가돌파'],
    ['3', '외국인순매수'],
  ]);
  t.equal(list.data.length, 12);

  c.send({ trnm: 'CNSRREQ', seq: '0', search_type: '0', stex_tp: 'K', cont_yn: 'N', next_key: '' });
  const once = await c.next(isTrnm('CNSRREQ'));
  t.match(once, { seq: '0', cont_yn: 'N', next_key: '', return_code: 0, return_msg: '' });
  t.same(
    once.data.map((r: Record<string, string>) => r['9001']),
    ['A005930', 'A000660'],
  );
  t.match(once.data[0], { 302: '삼성전자', 10: '000074100', 11: '000000000', 13: /^\d{9}$/, 25: '3' });
  c.send({ trnm: 'CNSRREQ', seq: '2', search_type: '0', stex_tp: 'A' });
  t.same((await c.next(isTrnm('CNSRREQ'))).data, [], 'a condition nothing matches');
  for (const [body, reason] of [
    [{ seq: '99', search_type: '0', stex_tp: 'K' }, /seq=99/],
    [{ search_type: '0', stex_tp: 'K' }, /seq/],
    [{ seq: '0', search_type: '5', stex_tp: 'K' }, /search_type/],
    [{ seq: '0', search_type: '0', stex_tp: 'X' }, /stex_tp/],
    [{ seq: '0', search_type: '0', stex_tp: 'K', cont_yn: 'Y', next_key: 'abc' }, /next_key/],
  ] as const) {
    c.send({ trnm: 'CNSRREQ', ...body });
    t.match(await c.next(isTrnm('CNSRREQ')), { return_code: 1, return_msg: reason }, JSON.stringify(body));
  }

  c.send({ trnm: 'CNSRREQ', seq: '1', search_type: '1', stex_tp: 'K' });
  t.same(await c.next(isTrnm('CNSRREQ')), {
    trnm: 'CNSRREQ',
    seq: '1',
    return_code: 0,
    return_msg: '',
    data: [{ jmcode: 'A035420' }, { jmcode: 'A035720' }, { jmcode: 'A005380' }],
  });
  const hit = sim.triggerCondition('1', { stkCd: '005930', kind: 'I' });
  t.same(hit, { seq: '1', stkCd: '005930', kind: 'I', pushes: 1 });
  const real = await c.next(isReal('02'));
  t.match(real, { trnm: 'REAL', data: [{ type: '02', name: '조건검색', item: '005930', values: { 841: '1', 9001: '005930', 843: 'I', 20: /^\d{6}$/ } }] });
  t.match(sim.triggerCondition('1', { stkCd: '005930' }), { kind: 'D', pushes: 1 }, 'the default kind toggles membership');
  t.match((await c.next(isReal('02'))).data[0].values, { 843: 'D' });
  t.equal(sim.triggerCondition('0').pushes, 0, 'no live search on 0');

  c.send({ trnm: 'CNSRCLR', seq: '1' });
  t.same(await c.next(isTrnm('CNSRCLR')), { trnm: 'CNSRCLR', seq: '1', return_code: 0, return_msg: '' });
  t.equal(sim.triggerCondition('1').pushes, 0, 'cleared');
  c.send({ trnm: 'CNSRCLR', seq: '1' });
  t.match(await c.next(isTrnm('CNSRCLR')), { seq: '1', return_code: 1 }, 'nothing live to clear');
  t.throws(() => sim.triggerCondition('99'), /no simulated condition/);
  t.throws(() => sim.triggerCondition('0', { stkCd: 'bad' }), /bad stock code/);
});

t.test('at most 10 live condition searches per login: the 11th is refused', async (t) => {
  const sim = await started(t);
  t.equal(DEFAULT_REALTIME.maxLiveConditions, 10);
  const { c } = await session(sim);
  c.send({ trnm: 'CNSRLST' });
  await c.next(isTrnm('CNSRLST'));
  for (let seq = 0; seq < 10; seq++) {
    c.send({ trnm: 'CNSRREQ', seq: String(seq), search_type: '1', stex_tp: 'K' });
    t.equal((await c.next(isTrnm('CNSRREQ'))).return_code, 0, `live search ${seq}`);
  }
  c.send({ trnm: 'CNSRREQ', seq: '0', search_type: '1', stex_tp: 'K' });
  t.equal((await c.next(isTrnm('CNSRREQ'))).return_code, 0, 'asking again for a live one takes no new slot');
  c.send({ trnm: 'CNSRREQ', seq: '10', search_type: '1', stex_tp: 'K' });
  t.match(await c.next(isTrnm('CNSRREQ')), { seq: '10', return_code: 1, return_msg: /최대 10개/ });
  c.send({ trnm: 'CNSRREQ', seq: '10', search_type: '0', stex_tp: 'K' });
  t.equal((await c.next(isTrnm('CNSRREQ'))).return_code, 0, 'one-shot searches are not limited');
  c.send({ trnm: 'CNSRCLR', seq: '3' });
  await c.next(isTrnm('CNSRCLR'));
  c.send({ trnm: 'CNSRREQ', seq: '10', search_type: '1', stex_tp: 'K' });
  t.equal((await c.next(isTrnm('CNSRREQ'))).return_code, 0, 'a cleared slot is free again');

  const fresh = await session(sim);
  fresh.c.send({ trnm: 'CNSRLST' });
  await fresh.c.next(isTrnm('CNSRLST'));
  fresh.c.send({ trnm: 'CNSRREQ', seq: '11', search_type: '1', stex_tp: 'K' });
  t.equal((await fresh.c.next(isTrnm('CNSRREQ'))).return_code, 0, 'a new login starts with no live searches');
});

t.test('the condition timer moves live conditions; the control API triggers quotes and conditions', async (t) => {
  const sim = await started(t, { wsConditionIntervalMs: 5 });
  const { c } = await session(sim);
  c.send({ trnm: 'CNSRLST' });
  c.send({ trnm: 'CNSRREQ', seq: '2', search_type: '1', stex_tp: 'K' });
  t.same((await c.next(isTrnm('CNSRREQ'))).data, []);
  const first = await c.next(isReal('02'));
  t.match(first.data[0].values, { 841: '2', 843: 'I' }, 'a stock entered the empty condition on its own');
  await c.next(isReal('02'));

  const quiet = await started(t, { control: true });
  const q = (await session(quiet)).c;
  q.send({ trnm: 'CNSRLST' });
  q.send({ trnm: 'CNSRREQ', seq: '2', search_type: '1', stex_tp: 'K' });
  await q.next(isTrnm('CNSRREQ'));
  await reg(q, REG('1', '1', ['005930'], ['0B']));
  t.same((await call(quiet.url, '/_sim/ws/quote', { stkCd: '005930', price: 75_000 })).json, { pushes: 1 });
  t.match((await q.next(isReal('0B'))).data[0].values, { 10: '+75000' });
  t.same((await call(quiet.url, '/_sim/ws/quote', { stkCd: '005930' })).json, { pushes: 1 });
  t.match((await call(quiet.url, '/_sim/ws/condition', { seq: '2', stkCd: '000660', kind: 'I' })).json, { seq: '2', stkCd: '000660', kind: 'I', pushes: 1 });
  t.match((await q.next((m) => m.trnm === 'REAL' && m.data[0].type === '02' && m.data[0].item === '000660')).data[0].values, { 843: 'I' });
  t.equal((await call(quiet.url, '/_sim/ws/quote', { stkCd: 'bad' })).status, 400);
  t.equal((await call(quiet.url, '/_sim/ws/quote', { stkCd: '005930', price: 'x' })).status, 400);
  t.equal((await call(quiet.url, '/_sim/ws/condition', { seq: '77' })).status, 400);
  t.equal((await call(quiet.url, '/_sim/ws/condition', { seq: '0', kind: 'X' })).status, 400);
});
