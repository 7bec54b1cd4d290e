// The Kiwoom simulator over real loopback HTTP: tokens, orders, paging,
// catalogue coverage, every fault knob, the control API and the CLI. The
// simulator runs in its faithful default mode throughout; its limits, shared
// tokens, address binding and ideal mode have their own tests in
// sim-limits.test.ts.
import t from 'tap';
import type { Test } from 'tap';
import { Writable } from 'node:stream';
import { Agent } from 'undici';
import pino from 'pino';
import { startSimulator, SimError, type Simulator } from '../../proxy/sim/index.js';
import { allApis } from '../../proxy/kiwoom/catalogue.js';
import { runSimCli } from '../../proxy/cli/sim.js';
import { settlesWithin } from '../helpers/gates.js';
import { call, issue, issueToken, tr } from '../helpers/sim.js';

const APP = { appKey: 'app-key-CANARY-7f3e9a', secretKey: Buffer.from('secret-key-CANARY-51bd02'), accountNo: '5012345678' };
const SECRET = 'secret-key-CANARY-51bd02';

async function started(t: Test, opts: Parameters<typeof startSimulator>[0] = {}): Promise<Simulator> {
  const sim = await startSimulator(opts);
  t.teardown(() => sim.close());
  sim.registerApp({ ...APP, cash: 10_000_000, holdings: [{ stkCd: '005930', qty: 10, avgPrice: 70000 }] });
  return sim;
}

/**
 * A clock that is a second later at every read, so no 1000 ms limit window
 * ever holds two requests: for tests about protocol shapes, not about limits.
 */
function pacedClock(start = Date.now()): () => number {
  let t = start;
  return () => (t += 1000);
}

const BUY = { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '3', ord_uv: '70000', trde_tp: '0' };

t.test('token issue: Kiwoom shape, KST expires_dt, bad input', async (t) => {
  const clock = { now: Date.UTC(2024, 10, 6, 23, 37, 13) };
  const sim = await started(t, { now: () => clock.now });
  const ok = await call(sim.url, '/oauth2/token', { grant_type: 'client_credentials', appkey: APP.appKey, secretkey: SECRET });
  t.equal(ok.status, 200);
  t.equal(ok.json.return_code, 0);
  t.equal(ok.json.return_msg, '정상적으로 처리되었습니다');
  t.equal(ok.json.token_type, 'bearer');
  t.match(ok.json.token, /^[A-Za-z0-9_-]{40,}$/);
  t.equal(ok.json.expires_dt, '20241108083713', '24 h later, in Korea time');

  const cases: Array<[unknown, string]> = [
    [{ grant_type: 'client_credentials', appkey: APP.appKey, secretkey: 'wrong' }, '[8001:App Key와 Secret Key 검증에 실패했습니다]'],
    [{ grant_type: 'client_credentials', appkey: 'nobody', secretkey: SECRET }, '[8001:'],
    [{ appkey: APP.appKey, secretkey: SECRET }, '[8011:'],
    [{ grant_type: 'password', appkey: APP.appKey, secretkey: SECRET }, '[8012:'],
    [{ grant_type: 'client_credentials', appkey: APP.appKey }, '[8020:'],
    [{ grant_type: 'client_credentials', appkey: 5, secretkey: SECRET }, '[8020:'],
  ];
  for (const [body, detail] of cases) {
    const r = await call(sim.url, '/oauth2/token', body);
    t.equal(r.json.return_code, 3, detail);
    t.ok(String(r.json.return_msg).includes(detail), `${detail} in ${r.json.return_msg}`);
    t.notOk('token' in r.json);
  }
  const bad = await call(sim.url, '/oauth2/token', null, {}, { raw: '{"grant_type":' });
  t.equal(bad.json.return_code, 1);
  t.match(bad.json.return_msg, /1517/);
  t.equal(sim.stats().tokensIssued, 1, 'failures issue nothing');
});

t.test('revoke, expiry and live-token accounting (one shared token per app key)', async (t) => {
  const clock = { now: Date.now() };
  const sim = await started(t, { now: () => clock.now, tokenTtlMs: 60_000 });
  const first = await issue(sim.url, APP.appKey, SECRET);
  clock.now += 10_000;
  const again = await issue(sim.url, APP.appKey, SECRET);
  const a = first.json.token as string;
  t.equal(again.json.token, a, 'a second au10001 returns the live token');
  t.equal(again.json.expires_dt, first.json.expires_dt, 'with its expiry unchanged');
  t.same(sim.stats(), {
    tokensIssued: 1,
    tokensReused: 1,
    tokensRevoked: 0,
    liveTokens: 1,
    requests: 2,
    refusals: { 1700: 0, 1701: 0, 1702: 0, 1634: 0, 8005: 0, 8010: 0 },
    refusedIssues: 0,
    peakIssuesPerSecond: 1,
    ws: { sessions: 0, logins: 0, loginFailures: 0, replaced: 0, pushes: 0, registrations: 0 },
  });
  t.equal((await tr(sim.url, a, 'ka00001', 'acnt', {})).json.acctNo, APP.accountNo);

  const rv = await call(sim.url, '/oauth2/revoke', { appkey: APP.appKey, secretkey: SECRET, token: a });
  t.same(rv.json, { return_code: 0, return_msg: '정상적으로 처리되었습니다' });
  t.equal(sim.liveTokens(), 0, 'the revoke ended it for every holder');
  const after = await tr(sim.url, a, 'ka00001', 'acnt', {});
  t.equal(after.status, 200);
  t.same(after.json, { return_code: 3, return_msg: '인증에 실패했습니다[8005:Token이 유효하지 않습니다]' });
  t.equal(sim.requestLog().at(-1)?.detail, '8005');

  const again2 = await call(sim.url, '/oauth2/revoke', { appkey: APP.appKey, secretkey: SECRET, token: a });
  t.equal(again2.json.return_code, 0, 'repeat revoke is harmless');
  t.equal(sim.stats().tokensRevoked, 1, 'and counted once');
  const b = await issueToken(sim.url, APP.appKey, SECRET);
  t.not(b, a, 'the next issue after a revoke creates a fresh token');
  t.match((await call(sim.url, '/oauth2/revoke', { appkey: APP.appKey, secretkey: SECRET, token: 'never-issued' })).json.return_msg, /8015/);
  t.match((await call(sim.url, '/oauth2/revoke', { appkey: APP.appKey, secretkey: 'x', token: b })).json.return_msg, /8001/);
  t.match((await call(sim.url, '/oauth2/revoke', { appkey: APP.appKey, secretkey: SECRET })).json.return_msg, /8016/);
  sim.registerApp({ appKey: 'other-app', secretKey: 'other-secret', accountNo: '5099999999' });
  t.match(
    (await call(sim.url, '/oauth2/revoke', { appkey: 'other-app', secretkey: 'other-secret', token: b })).json.return_msg,
    /8015/,
    "another app cannot revoke this app's token",
  );
  t.equal(sim.liveTokens(), 1);

  clock.now += 60_001;
  t.equal(sim.liveTokens(), 0, 'expired tokens are not live');
  t.match((await tr(sim.url, b, 'ka00001', 'acnt', {})).json.return_msg, /8005/);
  const c = await issue(sim.url, APP.appKey, SECRET);
  t.not(c.json.token, b, 'after expiry the next issue creates a fresh token');
  t.equal(sim.stats().tokensRevoked, 1);
  t.equal(sim.stats().refusals['8005'], 2);
});

t.test('TR request validation', async (t) => {
  const sim = await started(t);
  const tok = await issueToken(sim.url, APP.appKey, SECRET);
  const noId = await call(sim.url, '/api/dostk/acnt', {}, { authorization: `Bearer ${tok}` });
  t.match(noId.json, { return_code: 1, return_msg: /\[1501:API ID가 Null이거나 값이 없습니다\]/ });
  t.match((await tr(sim.url, tok, 'kt99999', 'acnt', {})).json.return_msg, /\[1505:해당 API ID는 존재하지 않습니다. API ID=kt99999\]/);
  t.match((await tr(sim.url, tok, 'KT10000', 'ordr', BUY)).json.return_msg, /1505/, 'api-ids are case-sensitive');
  t.match((await tr(sim.url, tok, 'au10001', 'acnt', {})).json.return_msg, /1505/, 'auth ids are not TRs');
  const wrong = await tr(sim.url, tok, 'kt10000', 'acnt', BUY);
  t.equal(wrong.json.return_code, 1);
  t.equal(wrong.json.return_msg, '잘못된 요청입니다[1504:해당 URI에서는 지원하는 API ID가 아닙니다. API ID=kt10000, URI=/api/dostk/acnt]');
  t.equal(wrong.headers['api-id'], 'kt10000');
  t.match((await call(sim.url, '/api/dostk/acnt', {}, { 'api-id': 'ka00001' })).json.return_msg, /\[1513:/);
  t.match((await call(sim.url, '/api/dostk/acnt', {}, { 'api-id': 'ka00001', authorization: tok })).json.return_msg, /\[1514:/);
  t.match((await call(sim.url, '/api/dostk/acnt', {}, { 'api-id': 'ka00001', authorization: 'Bearer nope' })).json.return_msg, /\[8005:/);
  const malformed = await call(sim.url, '/api/dostk/acnt', null, { 'api-id': 'ka00001', authorization: `Bearer ${tok}` }, { raw: '{"qry_tp":' });
  t.match(malformed.json, { return_code: 1, return_msg: /1517/ });
  const arr = await call(sim.url, '/api/dostk/acnt', null, { 'api-id': 'ka00001', authorization: `Bearer ${tok}` }, { raw: '[]' });
  t.match(arr.json.return_msg, /1517/);
  t.equal(
    (await tr(sim.url, tok, 'kt00018', 'acnt', { qry_tp: '1' })).json.return_msg,
    '잘못된 요청입니다[1511:필수 입력 값에 값이 존재하지 않습니다. 필수입력 파라미터=dmst_stex_tp]',
  );
  t.match((await tr(sim.url, tok, 'kt10000', 'ordr', { ...BUY, ord_qty: 3 })).json.return_msg, /1517:.*파라미터=ord_qty/, 'values must be strings');
  t.match((await tr(sim.url, tok, 'ka00001', 'acnt', {}, { 'next-key': 'x'.repeat(51) })).json.return_msg, /1517:.*next-key/);
  t.equal((await call(sim.url, '/api/dostk/nope', {}, { 'api-id': 'ka00001' })).status, 404);
  t.equal((await call(sim.url, '/api/dostk/acnt', undefined, {}, { method: 'GET' })).status, 405);
  const big = await call(
    sim.url,
    '/api/dostk/acnt',
    null,
    { 'api-id': 'ka00001', authorization: `Bearer ${tok}` },
    { raw: JSON.stringify({ x: 'y'.repeat(70_000) }) },
  ).catch((e: Error) => e);
  if (!(big instanceof Error)) t.equal(big.status, 413);
  t.equal(sim.orders(APP.accountNo).length, 0, 'no bad request placed an order');
});

t.test('every catalogue api-id: answered on its path, 1504 elsewhere', async (t) => {
  const sim = await started(t, { now: pacedClock() });
  const tok = await issueToken(sim.url, APP.appKey, SECRET);
  const filler: Record<string, string> = {
    stk_cd: '005930',
    dmst_stex_tp: 'KRX',
    ord_qty: '1',
    trde_tp: '3',
    qry_tp: '1',
    orig_ord_no: '0000001',
    mdfy_qty: '1',
    mdfy_uv: '70000',
    cncl_qty: '0',
    all_stk_tp: '0',
    sell_tp: '0',
    stex_tp: '0',
    crd_deal_tp: '33',
  };
  let checked = 0;
  for (const e of allApis()) {
    if (e.kind === 'auth') continue;
    const overrides: Record<string, Record<string, string>> = { ka10075: { trde_tp: '0' }, ka10076: { qry_tp: '0' }, kt00001: { qry_tp: '3' } };
    const body = { ...Object.fromEntries(e.requiredFields.map((f) => [f, filler[f] ?? '1'])), ...overrides[e.apiId] };
    const right = await tr(sim.url, tok, e.apiId, e.group, body);
    t.equal(right.headers['api-id'], e.apiId);
    t.notMatch(String(right.json.return_msg), /\[15(01|04|05|11):/, `${e.apiId} accepted on ${e.path}`);
    if (e.kind !== 'order' && e.kind !== 'modify' && e.kind !== 'cancel') t.equal(right.json.return_code, 0, `${e.apiId} ok`);
    const other = e.group === 'acnt' ? 'mrkcond' : 'acnt';
    const wrong = await tr(sim.url, tok, e.apiId, other, body);
    t.match(String(wrong.json.return_msg), `[1504:해당 URI에서는 지원하는 API ID가 아닙니다. API ID=${e.apiId}, URI=/api/dostk/${other}]`);
    checked++;
  }
  t.equal(checked, allApis().length - 2);
});

t.test('order lifecycle: limit rests, modify replaces, cancel removes, market fills', async (t) => {
  const sim = await started(t, { now: pacedClock() });
  const tok = await issueToken(sim.url, APP.appKey, SECRET);
  const buy = await tr(sim.url, tok, 'kt10000', 'ordr', BUY);
  t.match(buy.json, { return_code: 0, dmst_stex_tp: 'KRX', ord_no: /^\d{7}$/ });
  const ordNo = buy.json.ord_no as string;

  const open1 = await tr(sim.url, tok, 'ka10075', 'acnt', { all_stk_tp: '0', trde_tp: '0', stex_tp: '0' });
  const oso = open1.json.oso as Array<Record<string, string>>;
  t.equal(oso.length, 1);
  t.match(oso[0], {
    acnt_no: APP.accountNo,
    ord_no: ordNo,
    stk_cd: '005930',
    ord_qty: '3',
    ord_pric: '70000',
    oso_qty: '3',
    orig_ord_no: '0000000',
    io_tp_nm: '+매수',
    cur_prc: '74100',
    tm: /^\d{6}$/,
  });

  const mod = await tr(sim.url, tok, 'kt10002', 'ordr', { dmst_stex_tp: 'KRX', orig_ord_no: ordNo, stk_cd: '005930', mdfy_qty: '3', mdfy_uv: '71000' });
  t.match(mod.json, { return_code: 0, base_orig_ord_no: ordNo, mdfy_qty: '000000000003', ord_no: /^\d{7}$/ });
  const modNo = mod.json.ord_no as string;
  t.not(modNo, ordNo);
  const open2 = (await tr(sim.url, tok, 'ka10075', 'acnt', { all_stk_tp: '1', stk_cd: '005930', trde_tp: '2', stex_tp: '1' })).json.oso as Array<
    Record<string, string>
  >;
  t.same(
    open2.map((o) => [o.ord_no, o.ord_pric, o.orig_ord_no]),
    [[modNo, '71000', ordNo]],
    'the modify replaced the original',
  );

  const reModify = await tr(sim.url, tok, 'kt10002', 'ordr', { dmst_stex_tp: 'KRX', orig_ord_no: ordNo, stk_cd: '005930', mdfy_qty: '1', mdfy_uv: '71000' });
  t.match(reModify.json, { return_code: 20, return_msg: /^\[2000\]\(\d+:/ }, 'a replaced order cannot be modified again');

  const partial = await tr(sim.url, tok, 'kt10003', 'ordr', { dmst_stex_tp: 'KRX', orig_ord_no: modNo, stk_cd: '005930', cncl_qty: '1' });
  t.match(partial.json, { return_code: 0, base_orig_ord_no: ordNo, cncl_qty: '000000000001' });
  const rest = await tr(sim.url, tok, 'kt10003', 'ordr', { dmst_stex_tp: 'KRX', orig_ord_no: modNo, stk_cd: '005930', cncl_qty: '0' });
  t.match(rest.json, { return_code: 0, cncl_qty: '000000000002' }, '"0" cancels all remaining');
  t.same((await tr(sim.url, tok, 'ka10075', 'acnt', { all_stk_tp: '0', trde_tp: '0', stex_tp: '0' })).json.oso, []);
  t.equal(sim.account(APP.accountNo)?.cash, 10_000_000, 'no cash moved by resting/cancelled orders');

  const mkt = await tr(sim.url, tok, 'kt10000', 'ordr', { dmst_stex_tp: 'SOR', stk_cd: '005930_AL', ord_qty: '10', ord_uv: '', trde_tp: '3' });
  t.match(mkt.json, { return_code: 0, dmst_stex_tp: 'SOR' });
  t.equal(sim.account(APP.accountNo)?.cash, 10_000_000 - 10 * 74100);
  t.same(sim.account(APP.accountNo)?.holdings, [{ stkCd: '005930', qty: 20, avgPrice: 72050 }]);
  const fills = (await tr(sim.url, tok, 'ka10076', 'acnt', { qry_tp: '0', sell_tp: '0', stex_tp: '0' })).json.cntr as Array<Record<string, string>>;
  t.same(
    fills.map((f) => [f.ord_no, f.cntr_qty, f.cntr_pric, f.stk_cd]),
    [[mkt.json.ord_no, '10', '74100', '005930_AL']],
  );
  t.match(fills[0], { ord_tm: /^\d{6}$/, tdy_trde_cmsn: '0', tdy_trde_tax: '0' });

  const sell = await tr(sim.url, tok, 'kt10001', 'ordr', { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '5', ord_uv: '80000', trde_tp: '0' });
  t.equal(sell.json.return_code, 0);
  sim.setQuote('005930', 80500);
  t.equal(sim.orders(APP.accountNo).find((o) => o.ordNo === sell.json.ord_no)?.status, 'filled', 'resting limit fills when the quote reaches it');
  t.same(sim.account(APP.accountNo)?.holdings, [{ stkCd: '005930', qty: 15, avgPrice: 72050 }]);

  const bal = await tr(sim.url, tok, 'kt00018', 'acnt', { qry_tp: '1', dmst_stex_tp: 'KRX' });
  const rows = bal.json.acnt_evlt_remn_indv_tot as Array<Record<string, string>>;
  t.match(rows[0], { stk_cd: 'A005930', stk_nm: '삼성전자', rmnd_qty: '000000000000015', cur_prc: '000000000080500', pur_amt: '000000001080750' });
  t.match(bal.json, { tot_pur_amt: '000000001080750', tot_evlt_amt: '000000001207500', tot_evlt_pl: '000000000126750' });
  const dep = await tr(sim.url, tok, 'kt00001', 'acnt', { qry_tp: '3' });
  t.equal(dep.json.entr, String(10_000_000 - 741_000 + 400_000).padStart(15, '0'));
  const quote = await tr(sim.url, tok, 'ka10001', 'stkinfo', { stk_cd: '005930_NX' });
  t.match(quote.json, { stk_nm: '삼성전자', cur_prc: '+80500', pred_pre: '+6400', flu_rt: '+8.64' });
  t.match((await tr(sim.url, tok, 'ka10004', 'mrkcond', { stk_cd: '005930' })).json, { return_code: 0, buy_fpr_bid: '80500', sel_fpr_bid: '80600' });
});

t.test('order rejections', async (t) => {
  const sim = await started(t, { now: pacedClock() });
  const tok = await issueToken(sim.url, APP.appKey, SECRET);
  t.same((await tr(sim.url, tok, 'kt10000', 'ordr', { ...BUY, ord_uv: '' })).json, { return_code: 20, return_msg: '[2000](308003:주문단가를 입력하십시요)' });
  t.match((await tr(sim.url, tok, 'kt10000', 'ordr', { ...BUY, trde_tp: '4' })).json.return_msg, /1517:.*trde_tp/);
  t.match((await tr(sim.url, tok, 'kt10000', 'ordr', { ...BUY, dmst_stex_tp: 'NYSE' })).json.return_msg, /1517:.*dmst_stex_tp/);
  t.match((await tr(sim.url, tok, 'kt10000', 'ordr', { ...BUY, stk_cd: '999999' })).json.return_msg, /1902:/);
  t.match((await tr(sim.url, tok, 'kt10000', 'ordr', { ...BUY, ord_qty: '0' })).json.return_msg, /1517:.*ord_qty/);
  t.match(
    (await tr(sim.url, tok, 'kt10000', 'ordr', { ...BUY, ord_qty: '1000' })).json,
    { return_code: 20, return_msg: /^\[2000\]\(800033:/ },
    'not enough cash',
  );
  t.match(
    (await tr(sim.url, tok, 'kt10001', 'ordr', { ...BUY, ord_qty: '11' })).json,
    { return_code: 20, return_msg: /^\[2000\]\(800043:/ },
    'not enough shares',
  );
  t.match((await tr(sim.url, tok, 'kt10003', 'ordr', { dmst_stex_tp: 'KRX', orig_ord_no: '0000999', stk_cd: '005930', cncl_qty: '0' })).json, {
    return_code: 20,
  });
  t.match(
    (await tr(sim.url, tok, 'kt10003', 'ordr', { dmst_stex_tp: 'KRX', orig_ord_no: '12', stk_cd: '005930', cncl_qty: '0' })).json.return_msg,
    /1517:.*orig_ord_no/,
  );
  const ioc = await tr(sim.url, tok, 'kt10000', 'ordr', { ...BUY, trde_tp: '10', ord_uv: '60000' });
  t.equal(sim.orders(APP.accountNo).find((o) => o.ordNo === ioc.json.ord_no)?.status, 'killed', 'unmarketable IOC is killed');
  // Gold takes its own order types (00 limit, 10 IOC, 20 FOK): a marketable IOC fills at once.
  const gold = await tr(sim.url, tok, 'kt50000', 'ordr', { stk_cd: 'M04020000', ord_qty: '1', ord_uv: '141000', trde_tp: '10' });
  t.match(gold.json, { return_code: 0 });
  t.notOk('dmst_stex_tp' in gold.json, 'gold orders carry no exchange');
  const goldMarket = await tr(sim.url, tok, 'kt50000', 'ordr', { stk_cd: 'M04020000', ord_qty: '1', trde_tp: '3' });
  t.match(goldMarket.json.return_msg, /trde_tp/, 'a stock order type is not a gold one');
  const credit = await tr(sim.url, tok, 'kt10006', 'crdordr', { dmst_stex_tp: 'KRX', stk_cd: '000660', ord_qty: '1', trde_tp: '3' });
  t.match(credit.json, { return_code: 0 });
  t.same(
    sim
      .orders(APP.accountNo)
      .filter((o) => o.status === 'filled')
      .map((o) => o.market),
    ['gold', 'credit'],
  );
  t.ok(sim.orders(APP.accountNo).every((o) => /^\d{7}$/.test(o.ordNo)));
});

t.test("daily chart (ka10081): Kiwoom's 600-row page newest first by default, chartDays rows when set", async (t) => {
  const base = { stk_cd: '005930', base_dt: '20260206', upd_stkpc_tp: '1' };
  for (const [opts, rows] of [
    [{}, 600],
    [{ chartDays: 30 }, 30],
  ] as const) {
    const sim = await started(t, { ...opts, now: pacedClock() });
    const tok = await issueToken(sim.url, APP.appKey, SECRET);
    const r = await tr(sim.url, tok, 'ka10081', 'chart', base);
    const days = (r.json.stk_dt_pole_chart_qry as Array<{ dt: string }>).map((d) => d.dt);
    t.equal(days.length, rows);
    t.same(days.slice(0, 3), ['20260206', '20260205', '20260204'], 'base_dt first, weekdays back from it');
  }
  await t.rejects(startSimulator({ chartDays: 0 }), SimError);
  await t.rejects(startSimulator({ chartDays: 601 }), SimError);
});

t.test('cont-yn / next-key paging', async (t) => {
  const sim = await started(t, { pageSize: 3, now: pacedClock() });
  sim.registerApp({
    appKey: 'pager',
    secretKey: 'pager-secret',
    accountNo: '5011111111',
    holdings: ['005930', '000660', '035420', '035720', '005380', '051910', '068270'].map((stkCd) => ({ stkCd, qty: 1, avgPrice: 1000 })),
  });
  const tok = await issueToken(sim.url, 'pager', 'pager-secret');
  const seen: string[] = [];
  let headers: Record<string, string> = {};
  const pages: string[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await tr(sim.url, tok, 'kt00018', 'acnt', { qry_tp: '1', dmst_stex_tp: 'KRX' }, headers);
    t.equal(r.headers['api-id'], 'kt00018');
    const rows = r.json.acnt_evlt_remn_indv_tot as Array<{ stk_cd: string }>;
    seen.push(...rows.map((x) => x.stk_cd));
    pages.push(`${rows.length}:${r.headers['cont-yn']}`);
    if (r.headers['cont-yn'] !== 'Y') {
      t.equal(r.headers['next-key'], '');
      break;
    }
    t.ok(String(r.headers['next-key']).length <= 50);
    headers = { 'cont-yn': 'Y', 'next-key': String(r.headers['next-key']) };
  }
  t.same(pages, ['3:Y', '3:Y', '1:N']);
  t.equal(new Set(seen).size, 7, 'every holding exactly once');
  const bad = await tr(sim.url, tok, 'kt00018', 'acnt', { qry_tp: '1', dmst_stex_tp: 'KRX' }, { 'cont-yn': 'Y', 'next-key': 'ka10075-3' });
  t.match(bad.json.return_msg, /1517:.*next-key/, "another TR's next-key is refused");

  for (let i = 0; i < 4; i++) await tr(sim.url, tok, 'kt10000', 'ordr', { ...BUY, ord_qty: '1', ord_uv: String(60000 + i) });
  const p1 = await tr(sim.url, tok, 'ka10075', 'acnt', { all_stk_tp: '0', trde_tp: '0', stex_tp: '0' });
  t.equal((p1.json.oso as unknown[]).length, 3);
  t.equal(p1.headers['cont-yn'], 'Y');
  const p2 = await tr(
    sim.url,
    tok,
    'ka10075',
    'acnt',
    { all_stk_tp: '0', trde_tp: '0', stex_tp: '0' },
    { 'cont-yn': 'Y', 'next-key': String(p1.headers['next-key']) },
  );
  t.same(
    (p2.json.oso as Array<{ ord_pric: string }>).map((o) => o.ord_pric),
    ['60003'],
  );
  t.equal(p2.headers['cont-yn'], 'N');
});

t.test('fault knobs', async (t) => {
  const sim = await started(t, { now: pacedClock() });
  // The app's one shared token; the revoke subtests end it and fetch the next.
  let tok = await issueToken(sim.url, APP.appKey, SECRET);
  const q = (): ReturnType<typeof tr> => tr(sim.url, tok, 'ka10001', 'stkinfo', { stk_cd: '005930' });

  t.test('latency', async (t) => {
    sim.faults.set({ latencyMs: 150 });
    const t0 = Date.now();
    t.equal((await q()).json.return_code, 0);
    t.ok(Date.now() - t0 >= 140, 'answer delayed');
    sim.faults.clear();
  });
  t.test('fail5xxNext', async (t) => {
    sim.faults.set({ fail5xxNext: 2 });
    t.equal((await q()).status, 500);
    t.equal((await q()).status, 500);
    t.equal((await q()).status, 200);
  });
  t.test('fail5xxApiIds', async (t) => {
    sim.faults.set({ fail5xxApiIds: ['ka10001'] });
    t.equal((await q()).status, 500);
    t.equal((await q()).status, 500);
    t.equal((await tr(sim.url, tok, 'ka00001', 'acnt', {})).status, 200, 'other api-ids unaffected');
    sim.faults.clear();
    t.equal((await q()).status, 200);
  });
  t.test('rateLimitNext', async (t) => {
    sim.faults.set({ rateLimitNext: 1 });
    const r = await tr(sim.url, tok, 'ka10081', 'chart', { stk_cd: '005930', base_dt: '20240101', upd_stkpc_tp: '1' });
    t.equal(r.status, 429);
    t.same(r.json, { return_code: 5, return_msg: '허용된 요청 개수를 초과하였습니다[1700:허용된 API 요청 개수를 초과하였습니다. API ID=ka10081]' });
    t.equal(sim.requestLog().at(-1)?.detail, '1700');
    t.equal(sim.stats().refusals['1700'], 0, 'an injected fault is not a refusal of the model');
    t.equal((await q()).status, 200);
  });
  t.test('dropNext', async (t) => {
    sim.faults.set({ dropNext: 1 });
    await t.rejects(q(), 'socket destroyed without a response');
    t.equal(sim.requestLog().at(-1)?.outcome, 'dropped');
    t.equal((await q()).status, 200);
  });
  t.test('tokenFailNext', async (t) => {
    const before = sim.stats().tokensIssued;
    sim.faults.set({ tokenFailNext: 1 });
    const r = await call(sim.url, '/oauth2/token', { grant_type: 'client_credentials', appkey: APP.appKey, secretkey: SECRET });
    t.equal(r.status, 500);
    t.equal(sim.stats().tokensIssued, before, 'nothing issued');
    t.equal(await issueToken(sim.url, APP.appKey, SECRET), tok, 'the next issue returns the live token');
  });
  t.test('issueRateLimitNext', async (t) => {
    const before = sim.stats();
    sim.faults.set({ issueRateLimitNext: 1 });
    const r = await call(sim.url, '/oauth2/token', { grant_type: 'client_credentials', appkey: APP.appKey, secretkey: SECRET });
    t.match(r.json, { return_code: 5, return_msg: /\[1700:[^\]]*API ID=au10001\]$/ }, "au10001's own rate refusal");
    t.equal(sim.stats().tokensIssued, before.tokensIssued, 'nothing issued');
    t.equal(sim.stats().refusals['1700'], before.refusals['1700'], 'an injected fault is not a refusal of the model');
    t.equal(await issueToken(sim.url, APP.appKey, SECRET), tok, 'the knob is spent: the next issue returns the live token');
  });
  t.test('revokeFailNext', async (t) => {
    const victim = await issueToken(sim.url, APP.appKey, SECRET);
    const live = sim.liveTokens();
    sim.faults.set({ revokeFailNext: 2 });
    const body = { appkey: APP.appKey, secretkey: SECRET, token: victim };
    t.equal((await call(sim.url, '/oauth2/revoke', body)).status, 500);
    t.equal((await call(sim.url, '/oauth2/revoke', body)).status, 500);
    t.equal(sim.liveTokens(), live, 'failed revokes revoke nothing');
    t.equal((await call(sim.url, '/oauth2/revoke', body)).json.return_code, 0);
    t.equal(sim.liveTokens(), live - 1);
    tok = await issueToken(sim.url, APP.appKey, SECRET);
  });
  t.test('revokeInvalidNext', async (t) => {
    const victim = await issueToken(sim.url, APP.appKey, SECRET);
    const live = sim.liveTokens();
    sim.faults.set({ revokeInvalidNext: 1 });
    const body = { appkey: APP.appKey, secretkey: SECRET, token: victim };
    const r = await call(sim.url, '/oauth2/revoke', body);
    t.equal(r.status, 200);
    t.same(r.json, { return_code: 3, return_msg: '인증에 실패했습니다[8005:Token이 유효하지 않습니다]' }, "Kiwoom's bad-token answer");
    t.equal(sim.liveTokens(), live - 1, 'the token is no longer valid');
    t.equal(sim.stats().refusals['8005'], 0, 'an injected fault is not a refusal of the model');
    t.equal((await call(sim.url, '/oauth2/revoke', body)).json.return_code, 0, 'the knob is spent: a repeated revoke succeeds');
    tok = await issueToken(sim.url, APP.appKey, SECRET);
  });
  t.test('revokeLatencyMs delays revokes only', async (t) => {
    const victim = await issueToken(sim.url, APP.appKey, SECRET);
    sim.faults.set({ revokeLatencyMs: 2_000 });
    const r0 = Date.now();
    let revoked = false;
    const revoke = call(sim.url, '/oauth2/revoke', { appkey: APP.appKey, secretkey: SECRET, token: victim }).finally(() => {
      revoked = true;
    });
    t.equal((await q()).status, 200);
    t.notOk(revoked, 'a TR call sent after the revoke is answered while the revoke still waits');
    t.equal((await revoke).json.return_code, 0);
    t.ok(Date.now() - r0 >= 1_990, 'revoke delayed');
    sim.faults.clear();
    tok = await issueToken(sim.url, APP.appKey, SECRET);
  });
  t.test('bad knob values change nothing', async (t) => {
    sim.faults.set({ dropNext: 1 });
    t.throws(() => sim.faults.set({ fail5xxNext: -1 }), SimError);
    t.throws(() => sim.faults.set({ latencyMs: Number.NaN }), SimError);
    t.throws(() => sim.faults.set({ revokeLatencyMs: -1 }), SimError);
    t.throws(() => sim.faults.set({ bogus: 1 } as never), SimError);
    t.same(sim.faults.current(), { dropNext: 1 });
    sim.faults.clear();
    t.same(sim.faults.current(), {});
  });
});

t.test('onTokenIssued test hook gets a copy of each created token, once', async (t) => {
  const seen: Buffer[] = [];
  const sim = await started(t, { onTokenIssued: (tok) => seen.push(tok), now: pacedClock() });
  const a = await issueToken(sim.url, APP.appKey, SECRET);
  const again = await issueToken(sim.url, APP.appKey, SECRET);
  await call(sim.url, '/oauth2/token', { grant_type: 'client_credentials', appkey: APP.appKey, secretkey: 'wrong' });
  t.equal(again, a);
  t.same(
    seen.map((x) => x.toString('utf8')),
    [a],
    'handing the live token out again is not a new token',
  );
  seen[0]!.fill(0);
  t.equal((await tr(sim.url, a, 'ka10001', 'stkinfo', { stk_cd: '005930' })).status, 200, 'zeroing the copy does not affect the live token');
  await call(sim.url, '/oauth2/revoke', { appkey: APP.appKey, secretkey: SECRET, token: a });
  const b = await issueToken(sim.url, APP.appKey, SECRET);
  t.equal(seen.length, 2, 'a fresh token after the revoke');
  t.equal(seen[1]!.toString('utf8'), b);
});

t.test('hangNext holds the request until the client gives up; close() still ends', async (t) => {
  const sim = await startSimulator();
  sim.registerApp(APP);
  const tok = await issueToken(sim.url, APP.appKey, SECRET);
  sim.faults.set({ hangNext: 1 });
  const agent = new Agent({ headersTimeout: 200 });
  await t.rejects(call(sim.url, '/api/dostk/stkinfo', { stk_cd: '005930' }, { 'api-id': 'ka10001', authorization: `Bearer ${tok}` }, { dispatcher: agent }), {
    code: 'UND_ERR_HEADERS_TIMEOUT',
  });
  t.equal(sim.requestLog().at(-1)?.outcome, 'hung');
  sim.faults.set({ hangNext: 1 });
  const pending = call(sim.url, '/api/dostk/stkinfo', { stk_cd: '005930' }, { 'api-id': 'ka10001', authorization: `Bearer ${tok}` }).catch((e: Error) => e);
  await new Promise((r) => setTimeout(r, 50));
  // The hung request would hold it for undici's 300 s headers time-out.
  t.ok(await settlesWithin(sim.close(), 20_000), 'close does not wait for hung requests');
  t.type(await pending, Error);
  await agent.close();
});

t.test('close() ends keep-alive sockets', async (t) => {
  const sim = await startSimulator();
  const agent = new Agent({ keepAliveTimeout: 60_000 });
  await call(sim.url, '/oauth2/token', {}, {}, { dispatcher: agent });
  // An idle keep-alive socket would hold it for the agent's 60 s.
  t.ok(await settlesWithin(sim.close(), 20_000), 'close does not wait for idle keep-alive sockets');
  await agent.close();
});

t.test('registerApp and setQuote validate and change nothing on bad input', async (t) => {
  const sim = await started(t);
  t.throws(() => sim.registerApp({ appKey: 'k', secretKey: 's', accountNo: 'acct; drop' }), SimError);
  t.throws(() => sim.registerApp({ appKey: '', secretKey: 's', accountNo: '5000000001' }), SimError);
  t.throws(() => sim.registerApp({ appKey: 'k', secretKey: 's', accountNo: '5000000002', cash: -1 }), SimError);
  t.throws(() => sim.registerApp({ appKey: 'k', secretKey: 's', accountNo: '5000000003', holdings: [{ stkCd: '005930', qty: 0, avgPrice: 1 }] }), SimError);
  t.equal(sim.account('5000000001'), undefined);
  t.match((await call(sim.url, '/oauth2/token', { grant_type: 'client_credentials', appkey: 'k', secretkey: 's' })).json.return_msg, /8001/);
  t.throws(() => sim.setQuote('bad code', 100), SimError);
  t.throws(() => sim.setQuote('005930', -5), SimError);
  t.equal(sim.quote('005930'), 74100);
  sim.setQuote('123456', 5000);
  t.equal(sim.quote('123456_NX'), 5000);
  await t.rejects(startSimulator({ pageSize: 0 }), SimError);
});

t.test('control API: off by default, loopback JSON when on', async (t) => {
  const off = await started(t);
  t.equal((await call(off.url, '/_sim/stats', undefined, {}, { method: 'GET' })).status, 404);

  const sim = await startSimulator({ control: true });
  t.teardown(() => sim.close());
  const get = async (p: string): Promise<Record<string, unknown>> => (await call(sim.url, p, undefined, {}, { method: 'GET' })).json;
  t.same((await call(sim.url, '/_sim/apps', { appKey: 'ctl-app', secretKey: 'ctl-secret', accountNo: '5022222222', cash: 1000000 })).json, { ok: true });
  t.equal((await call(sim.url, '/_sim/apps', { appKey: 'x', secretKey: 'y', accountNo: 'bad!' })).status, 400);
  t.same((await call(sim.url, '/_sim/quotes', { stkCd: '005930', price: 75000 })).json, { ok: true });
  t.equal(sim.quote('005930'), 75000);
  const tok = await issueToken(sim.url, 'ctl-app', 'ctl-secret');
  await tr(sim.url, tok, 'kt10000', 'ordr', { ...BUY, ord_qty: '1' });
  t.match(await get('/_sim/stats'), { tokensIssued: 1, liveTokens: 1, tokensRevoked: 0, requests: 2 });
  t.match(await get('/_sim/orders?accountNo=5022222222'), { orders: [{ side: 'buy', qty: 1 }], account: { cash: 1000000 } });
  t.same((await call(sim.url, '/_sim/faults', { fail5xxNext: 1 })).json, { fail5xxNext: 1 });
  t.equal((await call(sim.url, '/_sim/faults', { fail5xxNext: 'x' })).status, 400);
  t.equal((await tr(sim.url, tok, 'ka00001', 'acnt', {})).status, 500);
  t.equal((await call(sim.url, '/_sim/faults', undefined, {}, { method: 'DELETE' })).status, 200);
  t.equal(((await call(sim.url, '/_sim/requests', undefined, {}, { method: 'GET' })).json as unknown as unknown[]).length, 3);
  t.same((await call(sim.url, '/_sim/reset', {})).json, { ok: true });
  t.match(await get('/_sim/stats'), { tokensIssued: 0, liveTokens: 0, requests: 0 });
  t.equal((await call(sim.url, '/_sim/nope', {})).status, 404);
  t.equal(sim.requestLog().length, 0, 'control calls are not Kiwoom requests');
});

t.test('no key or token in logs', async (t) => {
  let logged = '';
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logged += String(chunk);
      cb();
    },
  });
  const sim = await startSimulator({ logger: pino({ level: 'trace' }, sink) });
  t.teardown(() => sim.close());
  sim.registerApp(APP);
  const tok = await issueToken(sim.url, APP.appKey, SECRET);
  await tr(sim.url, tok, 'ka00001', 'acnt', {});
  await call(sim.url, '/oauth2/token', { grant_type: 'client_credentials', appkey: APP.appKey, secretkey: 'wrong-CANARY' });
  await call(sim.url, '/oauth2/revoke', { appkey: APP.appKey, secretkey: SECRET, token: tok });
  t.ok(logged.includes('sim request'), 'requests were logged');
  for (const secret of [APP.appKey, SECRET, tok, 'wrong-CANARY', 'CANARY']) t.notOk(logged.includes(secret), `log free of ${secret.slice(0, 12)}`);
  const log = JSON.stringify(sim.requestLog());
  t.notOk(log.includes(tok) || log.includes('CANARY'), 'request log free of secrets');
});

t.test('kguard sim CLI', async (t) => {
  const io = () => {
    let out = '';
    let err = '';
    return {
      io: {
        stdin: process.stdin,
        env: {},
        stdout: new Writable({
          write(c, _e, cb) {
            out += String(c);
            cb();
          },
        }),
        stderr: new Writable({
          write(c, _e, cb) {
            err += String(c);
            cb();
          },
        }),
      },
      out: () => out,
      err: () => err,
    };
  };
  const refused = io();
  t.equal(await runSimCli(['--host', '0.0.0.0'], refused.io), 2);
  t.match(refused.err(), /non-loopback.*--allow-remote/);
  const bad = io();
  t.equal(await runSimCli(['--port', 'x'], bad.io), 2);
  t.equal(await runSimCli(['--frobnicate'], io().io), 2);
  const conflicting = io();
  t.equal(await runSimCli(['--ideal', '--total-per-second', '50'], conflicting.io), 2, '--ideal takes no limits');
  t.match(conflicting.err(), /--ideal has no limits/);
  t.equal(await runSimCli(['--rate-limit-status', '503'], io().io), 2);
  t.equal(await runSimCli(['--max-symbols', '0'], io().io), 2);
  const help = io();
  t.equal(await runSimCli(['--help'], help.io), 0);
  t.match(help.out(), /--ideal/);

  const ac = new AbortController();
  const run = io();
  const done = runSimCli(['--port', '0', '--page-size', '5'], run.io, ac.signal);
  let url = '';
  for (let i = 0; i < 1000 && !url; i++) {
    await new Promise((r) => setTimeout(r, 20));
    url = /listening on (http:\/\/\S+)/.exec(run.out())?.[1] ?? '';
  }
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.match((await call(url, '/_sim/stats', undefined, {}, { method: 'GET' })).json, { tokensIssued: 0 }, 'control API on by default');
  t.match(
    (await call(url, '/_sim/limits', undefined, {}, { method: 'GET' })).json,
    { tokenPerSecond: 2, perApiIdPerSecond: 5, totalPerSecond: 20, orderGroupPerSecond: 5, maxSymbolsPerRequest: 100 },
    'faithful by default',
  );
  t.match(run.out(), /mode: faithful/);
  ac.abort();
  t.equal(await done, 0);
  t.match(run.out(), /stopped/);

  const idealRun = io();
  const ac2 = new AbortController();
  const done2 = runSimCli(['--ideal'], idealRun.io, ac2.signal);
  let url2 = '';
  for (let i = 0; i < 1000 && !url2; i++) {
    await new Promise((r) => setTimeout(r, 20));
    url2 = /listening on (http:\/\/\S+)/.exec(idealRun.out())?.[1] ?? '';
  }
  t.match(idealRun.out(), /mode: ideal/);
  await call(url2, '/_sim/apps', { appKey: 'cli-app', secretKey: 'cli-secret', accountNo: '5033333333' });
  const x = await issueToken(url2, 'cli-app', 'cli-secret');
  const y = await issueToken(url2, 'cli-app', 'cli-secret');
  t.not(x, y, '--ideal: a fresh token per issue');
  t.equal((await call(url2, '/_sim/limits', { totalPerSecond: 1 })).status, 400, '--ideal: no limits to set');
  ac2.abort();
  t.equal(await done2, 0);

  const limited = io();
  const ac3 = new AbortController();
  const done3 = runSimCli(['--total-per-second=7', '--rate-limit-status', '429', '--bind-token-to-address'], limited.io, ac3.signal);
  let url3 = '';
  for (let i = 0; i < 1000 && !url3; i++) {
    await new Promise((r) => setTimeout(r, 20));
    url3 = /listening on (http:\/\/\S+)/.exec(limited.out())?.[1] ?? '';
  }
  t.match((await call(url3, '/_sim/limits', undefined, {}, { method: 'GET' })).json, { totalPerSecond: 7, perApiIdPerSecond: 5 });
  ac3.abort();
  t.equal(await done3, 0);
});
