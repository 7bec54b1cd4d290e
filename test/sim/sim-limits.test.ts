// The simulator's faithful default over real loopback HTTP: one shared token
// per app key, Kiwoom's per-app-key rate limits (sliding 1000 ms windows on
// the injectable clock, never the wall clock), 1634, optional 8010 address
// binding, the ideal mode for benchmarks, revokeAll and its control routes.
import t from 'tap';
import type { Test } from 'tap';
import { Agent } from 'undici';
import { DEFAULT_LIMITS, SimError, normaliseAddress, startSimulator, type SimOptions, type Simulator } from '../../proxy/sim/index.js';
import { PeakRate } from '../../proxy/sim/limits.js';
import { call, issue, issueToken, revoke, tr } from '../helpers/sim.js';

const APP = { appKey: 'limits-app-CANARY-1', secretKey: 'limits-secret-CANARY-1', accountNo: '5012340001' };
const OTHER = { appKey: 'limits-app-CANARY-2', secretKey: 'limits-secret-CANARY-2', accountNo: '5012340002' };
const T0 = Date.UTC(2024, 10, 6, 0, 0, 0);

const OVER = '허용된 요청 개수를 초과하였습니다';
// Inner messages as in Kiwoom's error table.
const perApi = (apiId: string, n = 5): object => ({
  return_code: 5,
  return_msg: `${OVER}[1700:허용된 API 요청 개수를 초과하였습니다. 유량=${n}, API ID=${apiId}]`,
});
const total = (_apiId: string, n = 20): object => ({ return_code: 5, return_msg: `${OVER}[1701:허용된 전체 요청 개수를 초과하였습니다. 총유량=${n}]` });
const group = (apiId: string, n = 5): object => ({
  return_code: 5,
  return_msg: `${OVER}[1702:허용된 그룹 요청 개수를 초과하였습니다. 총유량=${n}, API_ID=${apiId}]`,
});
const issueRefused = { return_code: 5, return_msg: `${OVER}[1700:허용된 API 요청 개수를 초과하였습니다. 유량=2, API ID=au10001]` };
const INVALID = { return_code: 3, return_msg: '인증에 실패했습니다[8005:Token이 유효하지 않습니다]' };
const MISMATCH = { return_code: 3, return_msg: '인증에 실패했습니다[8010:Token을 발급받은 IP와 서비스를 요청한 IP가 동일하지 않습니다]' };
const TOO_MANY = { return_code: 5, return_msg: `${OVER}[1634:한 번에 조회할 수 있는 종목 수를 초과하였습니다]` };

const QUOTE = { stk_cd: '005930' };
const BUY = { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '70000', trde_tp: '0' };

interface Clock {
  now: number;
}

async function started(t: Test, opts: SimOptions = {}): Promise<{ sim: Simulator; clock: Clock }> {
  const clock = { now: T0 };
  const sim = await startSimulator({ now: () => clock.now, ...opts });
  t.teardown(() => sim.close());
  sim.registerApp(APP);
  sim.registerApp(OTHER);
  return { sim, clock };
}

const quote = (sim: Simulator, tok: string, apiId = 'ka10001', group = 'stkinfo', body: object = QUOTE): ReturnType<typeof tr> =>
  tr(sim.url, tok, apiId, group, body);

t.test('one token per app key while valid', async (t) => {
  const { sim, clock } = await started(t, { tokenTtlMs: 60_000 });
  const first = await issue(sim.url, APP.appKey, APP.secretKey);
  clock.now += 30_000;
  const second = await issue(sim.url, APP.appKey, APP.secretKey);
  t.equal(second.json.token, first.json.token, 'same token');
  t.equal(second.json.expires_dt, first.json.expires_dt, 'expires_dt unchanged');
  const other = await issueToken(sim.url, OTHER.appKey, OTHER.secretKey);
  t.not(other, first.json.token, 'another app key has its own token');
  t.match(sim.stats(), { tokensIssued: 2, tokensReused: 1, liveTokens: 2 });

  // Two holders of the one token: a revoke by either ends it for both.
  const tok = first.json.token as string;
  t.equal((await quote(sim, tok)).json.return_code, 0);
  t.equal((await revoke(sim.url, APP.appKey, APP.secretKey, second.json.token as string)).json.return_code, 0);
  t.same((await quote(sim, tok)).json, INVALID, 'the first holder is refused');
  t.equal((await quote(sim, other)).json.return_code, 0, "the other app's token is untouched");
  clock.now += 1000;
  const fresh = await issue(sim.url, APP.appKey, APP.secretKey);
  t.not(fresh.json.token, tok, 'after a revoke the next issue creates a fresh token');
  t.not(fresh.json.expires_dt, first.json.expires_dt, 'with its own expiry');

  clock.now += 60_000;
  t.same((await quote(sim, fresh.json.token as string)).json, INVALID, 'expired');
  const afterExpiry = await issue(sim.url, APP.appKey, APP.secretKey);
  t.not(afterExpiry.json.token, fresh.json.token, 'after expiry the next issue creates a fresh token');
  t.equal(sim.stats().refusals['8005'], 2);
  t.equal(sim.requestLog().filter((r) => r.detail === '8005').length, 2);
});

t.test('au10001: 2 per second per app key, refusals take no slot', async (t) => {
  const { sim, clock } = await started(t);
  const a = await issue(sim.url, APP.appKey, APP.secretKey);
  clock.now = T0 + 500;
  t.equal((await issue(sim.url, APP.appKey, APP.secretKey)).json.token, a.json.token);
  clock.now = T0 + 999;
  const refused = await issue(sim.url, APP.appKey, APP.secretKey);
  t.equal(refused.status, 200);
  t.same(refused.json, issueRefused, 'third within the window: [1700] for au10001');
  t.equal(sim.requestLog().at(-1)?.detail, '1700');
  const badKeys = await issue(sim.url, APP.appKey, 'wrong');
  t.match(badKeys.json.return_msg, /\[8001:/, 'bad keys still get 8001, not a rate refusal');
  t.equal((await issue(sim.url, OTHER.appKey, OTHER.secretKey)).json.return_code, 0, 'another app key has its own window');
  clock.now = T0 + 1000;
  t.equal((await issue(sim.url, APP.appKey, APP.secretKey)).json.token, a.json.token, 'T0 left the window: one slot free');
  clock.now = T0 + 1001;
  t.same((await issue(sim.url, APP.appKey, APP.secretKey)).json, issueRefused, 'T0+500 and T0+1000 still in it');
  clock.now = T0 + 1500;
  t.equal((await issue(sim.url, APP.appKey, APP.secretKey)).json.return_code, 0, 'the refused calls took no slot');
  const stats = sim.stats();
  t.equal(stats.refusedIssues, 2);
  t.equal(stats.refusals['1700'], 2);
  t.equal(stats.tokensIssued, 2, 'one token per app key');
  t.equal(sim.peakIssuesPerSecond(), 6, 'T0+500..T0+1001 held six au10001 calls (refusals and bad keys included)');
  t.equal(stats.peakIssuesPerSecond, 6);
});

t.test('parallel au10001 for one app key: two answered with the one token, the rest refused', async (t) => {
  const { sim } = await started(t);
  const answers = await Promise.all([0, 1, 2, 3, 4].map(() => issue(sim.url, APP.appKey, APP.secretKey)));
  const ok = answers.filter((r) => r.json.return_code === 0);
  t.equal(ok.length, 2);
  t.equal(new Set(ok.map((r) => r.json.token)).size, 1, 'both got the same token');
  t.same(
    answers.filter((r) => r.json.return_code !== 0).map((r) => r.json),
    [issueRefused, issueRefused, issueRefused],
  );
  t.equal(sim.stats().tokensIssued, 1);
});

t.test('per api-id limit: 5 per second per app key, sliding window', async (t) => {
  const { sim, clock } = await started(t);
  const tok = await issueToken(sim.url, APP.appKey, APP.secretKey);
  for (let i = 0; i < 5; i++) {
    clock.now = T0 + i * 100;
    t.equal((await quote(sim, tok)).json.return_code, 0, `call ${i + 1}`);
  }
  clock.now = T0 + 600;
  const refused = await quote(sim, tok);
  t.equal(refused.status, 200, 'HTTP 200 by default');
  t.same(refused.json, perApi('ka10001'));
  t.equal(refused.headers['api-id'], 'ka10001');
  t.equal((await quote(sim, tok, 'ka10004', 'mrkcond')).json.return_code, 0, 'another api-id has its own window');
  const otherTok = await issueToken(sim.url, OTHER.appKey, OTHER.secretKey);
  t.equal((await quote(sim, otherTok)).json.return_code, 0, 'another app key has its own window');
  // Refused calls inside the window take no slot...
  for (let i = 0; i < 10; i++) {
    clock.now = T0 + 650 + i * 30;
    t.same((await quote(sim, tok)).json, perApi('ka10001'));
  }
  // ...so exactly the slots of T0 and T0+100 are free again at T0+1100.
  clock.now = T0 + 1100;
  t.equal((await quote(sim, tok)).json.return_code, 0);
  t.equal((await quote(sim, tok)).json.return_code, 0);
  t.same((await quote(sim, tok)).json, perApi('ka10001'));
  clock.now = T0 + 2100;
  t.equal((await quote(sim, tok)).json.return_code, 0, 'recovered after the window');
  t.equal(sim.stats().refusals['1700'], 12);
});

t.test('total limit: 20 TR calls per second per app key', async (t) => {
  const { sim, clock } = await started(t);
  const tok = await issueToken(sim.url, APP.appKey, APP.secretKey);
  const calls: Array<[string, string, object]> = [
    ['ka10001', 'stkinfo', QUOTE],
    ['ka10004', 'mrkcond', QUOTE],
    ['ka00001', 'acnt', {}],
    ['kt00018', 'acnt', { qry_tp: '1', dmst_stex_tp: 'KRX' }],
    ['kt00001', 'acnt', { qry_tp: '3' }],
  ];
  for (let round = 0; round < 4; round++) {
    for (const [apiId, grp, body] of calls) t.equal((await quote(sim, tok, apiId, grp, body)).json.return_code, 0, `${apiId} #${round + 1}`);
  }
  clock.now = T0 + 999;
  const refused = await quote(sim, tok, 'ka10075', 'acnt', { all_stk_tp: '0', trde_tp: '0', stex_tp: '0' });
  t.same(refused.json, total('ka10075'));
  t.equal(sim.requestLog().at(-1)?.detail, '1701');
  clock.now = T0 + 1000;
  t.equal((await quote(sim, tok, 'ka10075', 'acnt', { all_stk_tp: '0', trde_tp: '0', stex_tp: '0' })).json.return_code, 0, 'recovered');
  t.equal(sim.stats().refusals['1701'], 1);
});

t.test('order group: stock and credit orders share 5 per second; checked before the per-api-id limit', async (t) => {
  const { sim, clock } = await started(t);
  const tok = await issueToken(sim.url, APP.appKey, APP.secretKey);
  for (let i = 0; i < 3; i++) t.equal((await tr(sim.url, tok, 'kt10000', 'ordr', BUY)).json.return_code, 0);
  const ordNo = (await tr(sim.url, tok, 'kt10000', 'ordr', BUY)).json.ord_no as string;
  t.equal((await tr(sim.url, tok, 'kt10003', 'ordr', { dmst_stex_tp: 'KRX', orig_ord_no: ordNo, stk_cd: '005930', cncl_qty: '0' })).json.return_code, 0);
  const credit = await tr(sim.url, tok, 'kt10006', 'crdordr', { dmst_stex_tp: 'KRX', stk_cd: '000660', ord_qty: '1', trde_tp: '3' });
  t.same(credit.json, group('kt10006'), 'a credit order counts in the group');
  t.same((await tr(sim.url, tok, 'kt10000', 'ordr', BUY)).json, group('kt10000'), 'sixth kt10000-group call: 1702 before 1700');
  t.equal(
    (await tr(sim.url, tok, 'kt50000', 'ordr', { stk_cd: 'M04020000', ord_qty: '1', ord_uv: '140000', trde_tp: '00' })).json.return_code,
    0,
    'gold orders are outside the group',
  );
  t.equal((await quote(sim, tok)).json.return_code, 0, 'queries are outside the group');
  t.equal(sim.orders(APP.accountNo).length, 6, 'refused orders placed nothing');
  clock.now = T0 + 1000;
  t.equal(
    (await tr(sim.url, tok, 'kt10006', 'crdordr', { dmst_stex_tp: 'KRX', stk_cd: '000660', ord_qty: '1', trde_tp: '3' })).json.return_code,
    0,
    'recovered',
  );
  t.equal(sim.stats().refusals['1702'], 2);
});

t.test('token validity is checked before any limit', async (t) => {
  const { sim } = await started(t);
  const tok = await issueToken(sim.url, APP.appKey, APP.secretKey);
  for (let i = 0; i < 5; i++) await quote(sim, tok);
  t.same((await quote(sim, tok)).json, perApi('ka10001'));
  t.same((await quote(sim, 'not-a-token')).json, INVALID);
  await revoke(sim.url, APP.appKey, APP.secretKey, tok);
  t.same((await quote(sim, tok)).json, INVALID, '8005, not 1700, for a revoked token over the limit');
});

t.test('rateLimitStatus 429', async (t) => {
  const { sim } = await started(t, { rateLimitStatus: 429 });
  const tok = await issueToken(sim.url, APP.appKey, APP.secretKey);
  for (let i = 0; i < 5; i++) await quote(sim, tok);
  const r = await quote(sim, tok);
  t.equal(r.status, 429);
  t.same(r.json, perApi('ka10001'));
  await issue(sim.url, APP.appKey, APP.secretKey);
  const i3 = await issue(sim.url, APP.appKey, APP.secretKey);
  t.equal(i3.status, 429);
  t.same(i3.json, issueRefused);
});

t.test('1634: too many codes in one stk_cd; not a rate slot', async (t) => {
  const { sim, clock } = await started(t);
  const tok = await issueToken(sim.url, APP.appKey, APP.secretKey);
  const codes = (n: number): string => Array.from({ length: n }, (_, i) => String(100000 + i)).join('|');
  for (let i = 0; i < 6; i++) {
    const r = await quote(sim, tok, 'ka10095', 'stkinfo', { stk_cd: codes(101) });
    t.equal(r.status, 200);
    t.same(r.json, TOO_MANY);
  }
  t.equal(sim.requestLog().at(-1)?.detail, '1634');
  for (let i = 0; i < 5; i++) t.equal((await quote(sim, tok, 'ka10095', 'stkinfo', { stk_cd: codes(100) })).json.return_code, 0, '100 codes are fine');
  t.same((await quote(sim, tok, 'ka10095', 'stkinfo', { stk_cd: codes(1) })).json, perApi('ka10095'), 'the 1634s took no slot');
  t.equal(sim.stats().refusals['1634'], 6);
  clock.now += 1000;
  sim.setLimits({ maxSymbolsPerRequest: 3 });
  t.same((await quote(sim, tok, 'ka10095', 'stkinfo', { stk_cd: codes(4) })).json, TOO_MANY, 'configurable');
});

t.test('address binding: 8010 from another address when on, nothing when off', async (t) => {
  // undici takes the source address as the Client option localAddress (connect.localAddress is overridden by it).
  const elsewhere = new Agent({ localAddress: '127.0.0.2' });
  t.teardown(() => elsewhere.close());

  const { sim } = await started(t, { bindTokenToAddress: true });
  const tok = await issueToken(sim.url, APP.appKey, APP.secretKey);
  const away = await tr(sim.url, tok, 'ka10001', 'stkinfo', QUOTE, {}, elsewhere);
  t.equal(away.status, 200);
  t.same(away.json, MISMATCH);
  t.equal(sim.requestLog().at(-1)?.detail, '8010');
  t.equal((await quote(sim, tok)).json.return_code, 0, 'the issuing address is fine');
  t.equal(await issueToken(sim.url, APP.appKey, APP.secretKey, elsewhere), tok, 'au10001 from the other address returns the same token');
  t.same((await tr(sim.url, tok, 'ka10001', 'stkinfo', QUOTE, {}, elsewhere)).json, MISMATCH, 'still bound to the first issuer');
  t.same((await tr(sim.url, 'bogus', 'ka10001', 'stkinfo', QUOTE, {}, elsewhere)).json, INVALID, 'an invalid token is 8005 first');
  t.equal(sim.stats().refusals['8010'], 2);

  const off = await started(t);
  const tok2 = await issueToken(off.sim.url, APP.appKey, APP.secretKey);
  t.equal((await tr(off.sim.url, tok2, 'ka10001', 'stkinfo', QUOTE, {}, elsewhere)).json.return_code, 0, 'binding is off by default');
  t.equal(off.sim.stats().refusals['8010'], 0);

  t.equal(normaliseAddress('::ffff:127.0.0.2'), '127.0.0.2');
  t.equal(normaliseAddress('::FFFF:10.1.2.3'), '10.1.2.3');
  t.equal(normaliseAddress('::1'), '::1');
  t.equal(normaliseAddress(undefined), '');
});

t.test('ideal mode: fresh independent tokens, no limits, no binding', async (t) => {
  // The one place that needs ideal: true, to show what it turns off.
  const { sim } = await started(t, { ideal: true });
  t.equal(sim.ideal, true);
  const elsewhere = new Agent({ localAddress: '127.0.0.2' });
  t.teardown(() => elsewhere.close());
  const tokens: string[] = [];
  for (let i = 0; i < 6; i++) tokens.push(await issueToken(sim.url, APP.appKey, APP.secretKey));
  t.equal(new Set(tokens).size, 6, 'a fresh token per issue');
  t.equal(sim.liveTokens(), 6, 'older ones stay valid');
  for (const tok of tokens) t.equal((await quote(sim, tok)).json.return_code, 0);
  for (let i = 0; i < 30; i++) t.equal((await quote(sim, tokens[0]!)).json.return_code, 0);
  for (let i = 0; i < 8; i++) t.equal((await tr(sim.url, tokens[1]!, 'kt10000', 'ordr', BUY)).json.return_code, 0);
  const many = Array.from({ length: 150 }, (_, i) => String(100000 + i)).join('|');
  t.equal((await quote(sim, tokens[2]!, 'ka10095', 'stkinfo', { stk_cd: many })).json.return_code, 0, 'no symbol limit');
  t.equal((await tr(sim.url, tokens[3]!, 'ka10001', 'stkinfo', QUOTE, {}, elsewhere)).json.return_code, 0, 'no address binding');
  t.equal((await revoke(sim.url, APP.appKey, APP.secretKey, tokens[0]!)).json.return_code, 0);
  t.same((await quote(sim, tokens[0]!)).json, INVALID);
  t.equal((await quote(sim, tokens[1]!)).json.return_code, 0, 'a revoke ends only that token');
  t.match(sim.stats(), { tokensIssued: 6, tokensReused: 0, refusedIssues: 0, refusals: { 1700: 0, 1701: 0, 1702: 0, 1634: 0, 8005: 1, 8010: 0 } });
  t.throws(() => sim.setLimits({ totalPerSecond: 100 }), SimError);

  await t.rejects(startSimulator({ ideal: true, limits: { totalPerSecond: 5 } }), SimError);
  await t.rejects(startSimulator({ ideal: true, bindTokenToAddress: true }), SimError);
});

t.test('start-up options are validated', async (t) => {
  await t.rejects(startSimulator({ rateLimitStatus: 503 as never }), SimError);
  await t.rejects(startSimulator({ limits: { tokenPerSecond: 0 } }), SimError);
  await t.rejects(startSimulator({ limits: { totalPerSecond: 1.5 } }), SimError);
  await t.rejects(startSimulator({ limits: { bogus: 1 } as never }), SimError);
  const { sim } = await started(t, { limits: { perApiIdPerSecond: 2 } });
  t.same(sim.limits(), { ...DEFAULT_LIMITS, perApiIdPerSecond: 2 });
  const tok = await issueToken(sim.url, APP.appKey, APP.secretKey);
  await quote(sim, tok);
  await quote(sim, tok);
  t.same((await quote(sim, tok)).json, perApi('ka10001', 2));
});

t.test("revokeAll: behind the sidecar's back", async (t) => {
  const { sim, clock } = await started(t);
  sim.registerApp({ appKey: 'second-key-same-account', secretKey: 'x-secret', accountNo: APP.accountNo });
  const a = await issueToken(sim.url, APP.appKey, APP.secretKey);
  const a2 = await issueToken(sim.url, 'second-key-same-account', 'x-secret');
  const b = await issueToken(sim.url, OTHER.appKey, OTHER.secretKey);
  t.throws(() => sim.revokeAll(5 as never), SimError);
  t.equal(sim.liveTokens(), 3, 'a bad call revoked nothing');
  t.equal(sim.revokeAll(APP.accountNo), 2, 'both app keys of the account');
  t.same((await quote(sim, a)).json, INVALID);
  t.same((await quote(sim, a2)).json, INVALID);
  t.equal((await quote(sim, b)).json.return_code, 0);
  t.equal(sim.revokeAll('5999999999'), 0);
  t.equal(sim.revokeAll(), 1);
  t.same((await quote(sim, b)).json, INVALID);
  t.equal(sim.stats().tokensRevoked, 3);
  t.equal(sim.revokeAll(), 0, 'nothing left');
  clock.now += 1000;
  t.not(await issueToken(sim.url, APP.appKey, APP.secretKey), a, 'the next issue creates a fresh token');
});

t.test('control routes: /_sim/revoke and /_sim/limits; bad input changes nothing', async (t) => {
  const { sim, clock } = await started(t, { control: true });
  const get = async (p: string): Promise<Record<string, unknown>> => (await call(sim.url, p, undefined, {}, { method: 'GET' })).json;
  const a = await issueToken(sim.url, APP.appKey, APP.secretKey);
  const b = await issueToken(sim.url, OTHER.appKey, OTHER.secretKey);

  for (const bad of [{ accountNo: 5 }, { accountNo: null }, { bogus: 1 }]) {
    const r = await call(sim.url, '/_sim/revoke', bad);
    t.equal(r.status, 400, JSON.stringify(bad));
    t.type(r.json.error, 'string');
  }
  t.equal((await call(sim.url, '/_sim/revoke', null, {}, { raw: '[1]' })).status, 400);
  t.equal(sim.liveTokens(), 2, 'bad revokes revoked nothing');
  t.same((await call(sim.url, '/_sim/revoke', { accountNo: APP.accountNo })).json, { revoked: 1 });
  t.same((await quote(sim, a)).json, INVALID);
  t.equal((await quote(sim, b)).json.return_code, 0);
  t.same((await call(sim.url, '/_sim/revoke', {})).json, { revoked: 1 });
  t.same((await quote(sim, b)).json, INVALID);

  t.same(await get('/_sim/limits'), DEFAULT_LIMITS);
  for (const bad of [{ totalPerSecond: 0 }, { totalPerSecond: '5' }, { totalPerSecond: 2.5 }, { nope: 1 }, { perApiIdPerSecond: 3, tokenPerSecond: -1 }]) {
    t.equal((await call(sim.url, '/_sim/limits', bad)).status, 400, JSON.stringify(bad));
  }
  t.equal((await call(sim.url, '/_sim/limits', null, {}, { raw: '[]' })).status, 400);
  t.same(await get('/_sim/limits'), DEFAULT_LIMITS, 'bad input changed nothing');
  const set = await call(sim.url, '/_sim/limits', { totalPerSecond: 3, perApiIdPerSecond: 10 });
  t.same(set.json, { ...DEFAULT_LIMITS, totalPerSecond: 3, perApiIdPerSecond: 10 });
  clock.now += 1000;
  const tok = await issueToken(sim.url, APP.appKey, APP.secretKey);
  for (let i = 0; i < 3; i++) t.equal((await quote(sim, tok)).json.return_code, 0);
  t.same((await quote(sim, tok)).json, total('ka10001', 3), 'the new limit applies at once');
  t.match(await get('/_sim/stats'), { refusals: { 1701: 1, 8005: 2 }, refusedIssues: 0, tokensRevoked: 2 });

  t.same((await call(sim.url, '/_sim/reset', {})).json, { ok: true });
  t.same(await get('/_sim/limits'), DEFAULT_LIMITS, 'reset restores the start-up limits');
  t.match(await get('/_sim/stats'), { refusals: { 1700: 0, 1701: 0, 8005: 0 }, refusedIssues: 0, peakIssuesPerSecond: 0, tokensIssued: 0, tokensReused: 0 });
});

t.test('reset clears the rate windows', async (t) => {
  const { sim } = await started(t);
  const tok = await issueToken(sim.url, APP.appKey, APP.secretKey);
  for (let i = 0; i < 5; i++) await quote(sim, tok);
  t.same((await quote(sim, tok)).json, perApi('ka10001'));
  sim.reset();
  sim.registerApp(APP);
  const tok2 = await issueToken(sim.url, APP.appKey, APP.secretKey);
  t.equal((await quote(sim, tok2)).json.return_code, 0);
});

t.test('PeakRate: the largest count within one window, also after compaction', async (t) => {
  const peak = new PeakRate();
  for (let i = 0; i < 5000; i++) peak.note(T0 + i); // 1000 per 1000 ms at most
  t.equal(peak.peak, 1000);
  for (let i = 0; i < 1500; i++) peak.note(T0 + 10_000); // a burst at one instant
  t.equal(peak.peak, 1500);
  peak.clear();
  peak.note(T0);
  t.equal(peak.peak, 1);
});
