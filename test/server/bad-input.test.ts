// Every bad input gets a clear Kiwoom-shaped error and nothing reaches the
// simulator: forged, expired, alg:none and wrong-key JWTs, unknown or
// disabled bots, oversized bodies, malformed JSON, unknown api-ids, bad paths.
import t from 'tap';
import type { Test } from 'tap';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { request } from 'undici';
import { startHarness, type Harness, type CallResult } from '../helpers/harness.js';

let h: Harness;
let goodToken: string;
t.before(async () => {
  h = await startHarness();
  goodToken = await h.token();
});
t.teardown(() => h.close());

const QUOTE = { stk_cd: '005930' };

/** Runs fn and asserts the error shape and that the simulator saw nothing. */
async function refused(t: Test, fn: () => Promise<CallResult>, status: number, code: string): Promise<CallResult> {
  await h.waitNoLiveTokens(); // revocations of earlier calls finish after their responses
  const before = h.sim.stats().requests;
  const r = await fn();
  t.equal(r.status, status, `HTTP ${status}: ${r.text}`);
  t.not(r.json.return_code, 0, 'non-zero return_code');
  t.match(String(r.json.return_msg), new RegExp(`\\[${code}`), `names ${code}`);
  t.equal(h.sim.stats().requests, before, 'nothing reached the simulator');
  return r;
}

async function sign(claims: Record<string, unknown>, key: Uint8Array, opts: { exp?: number; iss?: string; aud?: string; sub?: string } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ ep: 0, ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(opts.sub ?? h.botId)
    .setIssuer(opts.iss ?? 'kiwoom-guard')
    .setAudience(opts.aud ?? 'kiwoom-guard:bots')
    .setIssuedAt(now - 600)
    .setExpirationTime(opts.exp ?? now + 300)
    .setJti(randomBytes(8).toString('hex'))
    .sign(key);
}

t.test('JWTs', async (t) => {
  const realKey = await readFile(path.join(h.dataDir, 'jwt.key'));
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const payload = { sub: h.botId, iss: 'kiwoom-guard', aud: 'kiwoom-guard:bots', iat: now, exp: now + 300, jti: 'x1', ep: 0 };

  await t.test('no token', async (t) => {
    await refused(t, () => h.post('/api/dostk/stkinfo', JSON.stringify(QUOTE), { 'api-id': 'ka10001' }), 401, 'KG2001');
  });
  await t.test('alg none', async (t) => {
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`;
    await refused(t, () => h.call('ka10001', QUOTE, { token: none }), 401, 'KG2002');
  });
  await t.test('wrong key', async (t) => {
    await refused(t, async () => h.call('ka10001', QUOTE, { token: await sign({}, randomBytes(32)) }), 401, 'KG2002');
  });
  await t.test('expired (right key)', async (t) => {
    await refused(t, async () => h.call('ka10001', QUOTE, { token: await sign({}, realKey, { exp: now - 60 }) }), 401, 'KG2003');
  });
  await t.test('wrong audience and issuer (right key)', async (t) => {
    await refused(t, async () => h.call('ka10001', QUOTE, { token: await sign({}, realKey, { aud: 'someone-else' }) }), 401, 'KG2002');
    await refused(t, async () => h.call('ka10001', QUOTE, { token: await sign({}, realKey, { iss: 'evil' }) }), 401, 'KG2002');
  });
  await t.test('tampered payload', async (t) => {
    const [hd, , sig] = goodToken.split('.');
    const forged = `${hd}.${b64({ ...payload, sub: 'someone-else' })}.${sig}`;
    await refused(t, () => h.call('ka10001', QUOTE, { token: forged }), 401, 'KG2002');
  });
  await t.test('HS384 with the right key is refused (algorithm pinned)', async (t) => {
    const tok = await new SignJWT(payload).setProtectedHeader({ alg: 'HS384' }).sign(realKey);
    await refused(t, () => h.call('ka10001', QUOTE, { token: tok }), 401, 'KG2002');
  });
  await t.test('a token for a bot that does not exist', async (t) => {
    await refused(t, async () => h.call('ka10001', QUOTE, { token: await sign({}, realKey, { sub: 'ghost-bot' }) }), 401, 'KG2002');
  });
  await t.test('garbage', async (t) => {
    await refused(t, () => h.post('/api/dostk/stkinfo', '{}', { 'api-id': 'ka10001', authorization: 'Basic abc' }), 401, 'KG2002');
  });
});

t.test('token exchange', async (t) => {
  const ex = (body: unknown) => h.post('/oauth2/token', JSON.stringify(body));
  await refused(t, () => ex({ grant_type: 'client_credentials', appkey: 'nobody-here', secretkey: 'x'.repeat(43) }), 401, 'KG2005');
  await refused(t, () => ex({ grant_type: 'client_credentials', appkey: h.botId, secretkey: 'wrong'.repeat(8) }), 401, 'KG2005');
  await refused(t, () => ex({ grant_type: 'password', appkey: h.botId, secretkey: h.botSecret }), 400, 'KG2008');
  await refused(t, () => ex({ grant_type: 'client_credentials', appkey: h.botId }), 400, 'KG1010');
  // Duplicate secretkey: the parser that checks and the one that reads must agree; a key twice is refused outright.
  await refused(
    t,
    () => h.post('/oauth2/token', `{"grant_type":"client_credentials","appkey":"${h.botId}","secretkey":"${h.botSecret}","secretkey":"other"}`),
    400,
    'KG1001',
  );
  await refused(t, () => h.post('/oauth2/token', '{"grant_type":'), 400, 'KG1001');
});

t.test('disabled bot', async (t) => {
  const { secret } = await h.sidecar.parts.bots.add({ id: 'soon-off', owner: 'x', account: '8888000011', allowed: ['kind:query'] });
  const s = secret.toString('latin1');
  const tok = await h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: 'soon-off', secretkey: s }));
  t.equal(tok.json.return_code, 0);
  await h.sidecar.parts.bots.setEnabled('soon-off', false);
  await refused(t, () => h.call('ka10001', QUOTE, { token: String(tok.json.token) }), 403, 'KG2006');
  await refused(t, () => h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: 'soon-off', secretkey: s })), 403, 'KG2006');
});

t.test('killed sessions', async (t) => {
  const tok = await h.token();
  await h.sidecar.parts.sessions.killAll(h.botId);
  await refused(t, () => h.call('ka10001', QUOTE, { token: tok }), 401, 'KG2007');
  const fresh = await h.token();
  const r = await h.call('ka10001', QUOTE, { token: fresh });
  t.equal(r.json.return_code, 0, 'a new token works');
  goodToken = fresh;
});

t.test('bodies', async (t) => {
  const auth = () => ({ 'api-id': 'ka10001', authorization: `Bearer ${goodToken}` });
  await refused(t, () => h.post('/api/dostk/stkinfo', '{"stk_cd":', auth()), 400, 'KG1001');
  await refused(t, () => h.post('/api/dostk/stkinfo', '[1,2]', auth()), 400, 'KG1001');
  await refused(t, () => h.post('/api/dostk/stkinfo', 'null', auth()), 400, 'KG1001');
  // A key twice: JSON.parse keeps the last, another parser may keep the first; neither is judged and sent.
  for (const twice of ['{"stk_cd":"005930","stk_cd":"000660"}', '{"stk_cd":"005930","stk\\u005fcd":"000660"}', '{"a":{"b":1,"b":2},"stk_cd":"005930"}']) {
    const r = await refused(t, () => h.post('/api/dostk/stkinfo', twice, auth()), 400, 'KG1001');
    t.match(String(r.json.return_msg), /twice/, twice);
  }
  const order = { 'api-id': 'kt10000', authorization: `Bearer ${goodToken}` };
  await refused(
    t,
    () => h.post('/api/dostk/ordr', '{"dmst_stex_tp":"KRX","stk_cd":"005930","ord_qty":"1","ord_uv":"","trde_tp":"0","trde_tp":"3"}', order),
    400,
    'KG1001',
  );
  await refused(t, () => h.post('/api/dostk/stkinfo', JSON.stringify({ stk_cd: 'x'.repeat(70 * 1024) }), auth()), 413, 'KG1002');
  await refused(t, () => h.post('/api/dostk/stkinfo', '{}', auth()), 400, 'KG1010');
  await refused(t, () => h.post('/api/dostk/stkinfo', '{}', { ...auth(), 'content-type': 'text/plain' }), 415, 'KG1011');
});

t.test("an order's, modify's or cancel's stock code is a stock code (it reaches policy, risk, approvals and alerts)", async (t) => {
  const order = (stk_cd: unknown) => ({ dmst_stex_tp: 'KRX', stk_cd, ord_qty: '1', ord_uv: '70000', trde_tp: '0' });
  for (const bad of ['<!channel>', '005930 ', 'a05930', '00593', '005930_XX', 5930, null])
    await refused(t, () => h.call('kt10000', order(bad), { token: goodToken }), 400, 'KG1015');
  await refused(t, () => h.call('kt10003', { dmst_stex_tp: 'KRX', orig_ord_no: '0000001', stk_cd: '<x>', cncl_qty: '0' }, { token: goodToken }), 400, 'KG1015');
  const r = await h.call('kt10000', { ...order('005930_NX'), dmst_stex_tp: 'NXT' }, { token: goodToken });
  t.notMatch(String(r.json.return_msg), /KG1015/, `a venue suffix is a stock code: ${r.text}`);
  const q = await h.call('ka10001', { stk_cd: '' }, { token: goodToken });
  t.notMatch(String(q.json.return_msg), /KG1015/, 'queries keep their own codes (an empty one means all)');
});

t.test("an order's fields each in the one form Kiwoom documents, or refused before anything reads them", async (t) => {
  const order = (over: Record<string, unknown>) => ({ dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '70000', trde_tp: '0', ...over });
  const bad: [string, Record<string, unknown>][] = [
    // A market order a policy denies as "3", spelled so the sidecar would read it as a limit order at ord_uv.
    ['trde_tp', { trde_tp: '03' }],
    ['trde_tp', { trde_tp: ' 3' }],
    ['trde_tp', { trde_tp: 3 }],
    ['trde_tp', { trde_tp: '00' }], // gold's code, not a stock order's
    ['ord_qty', { ord_qty: '100abc' }],
    ['ord_qty', { ord_qty: '-5' }],
    ['ord_qty', { ord_qty: '1e3' }],
    ['ord_qty', { ord_qty: null }],
    ['ord_uv', { ord_uv: '7e4' }],
    ['ord_uv', { ord_uv: ['70000'] }],
    ['cond_uv', { cond_uv: '-1' }],
    ['dmst_stex_tp', { dmst_stex_tp: 'krx' }],
    ['stk_cd', { stk_cd: '005930_AL', dmst_stex_tp: 'KRX' }],
    ['stk_cd', { stk_cd: '005930_NX', dmst_stex_tp: 'SOR' }],
  ];
  for (const [field, over] of bad) {
    const r = await refused(t, () => h.call('kt10000', order(over), { token: goodToken }), 400, 'KG1015');
    t.match(String(r.json.return_msg), new RegExp(`${field} must be`), `names ${field}`);
  }
  const modify = { dmst_stex_tp: 'KRX', orig_ord_no: '0000001', stk_cd: '005930', mdfy_qty: '1', mdfy_uv: '70000' };
  await refused(t, () => h.call('kt10002', { ...modify, orig_ord_no: '1; drop' }, { token: goodToken }), 400, 'KG1015');
  await refused(t, () => h.call('kt10002', { ...modify, mdfy_qty: '1.5' }, { token: goodToken }), 400, 'KG1015');
  await refused(t, () => h.call('kt50000', { stk_cd: 'M04020000', ord_qty: '1', ord_uv: '140000', trde_tp: '3' }, { token: goodToken }), 400, 'KG1015');
  for (const ok of [
    order({ trde_tp: '3', ord_uv: '' }),
    order({ ord_qty: 5, ord_uv: 70000 }),
    order({ ord_uv: '70000.5' }),
    order({ stk_cd: '005930_NX', dmst_stex_tp: 'NXT' }),
    order({ stk_cd: '005930', dmst_stex_tp: 'SOR' }),
  ]) {
    const r = await h.call('kt10000', ok, { token: goodToken });
    t.notMatch(String(r.json.return_msg), /KG1015/, `well-formed: ${JSON.stringify(ok)} -> ${r.text}`);
  }
  const gold = await h.call('kt50000', { stk_cd: 'M04020000', ord_qty: '1', ord_uv: '140000', trde_tp: '00' }, { token: goodToken });
  t.equal(gold.json.return_code, 0, `gold's plain limit order (00) goes out: ${gold.text}`);
});

t.test('api-ids and paths', async (t) => {
  const auth = { authorization: `Bearer ${goodToken}` };
  await refused(t, () => h.post('/api/dostk/stkinfo', '{}', { ...auth, 'api-id': 'kz99999' }), 400, 'KG1004');
  await refused(t, () => h.post('/api/dostk/stkinfo', '{}', { ...auth, 'api-id': 'KT10000' }), 400, 'KG1007');
  await refused(t, () => h.post('/api/dostk/acnt', JSON.stringify(QUOTE), { ...auth, 'api-id': 'ka10001' }), 400, 'KG1005');
  await refused(t, () => h.post('/api/dostk/stkinfo', JSON.stringify(QUOTE), auth), 400, 'KG1006');
  await refused(t, () => h.post('/api/dostk/../ordr', '{}', { ...auth, 'api-id': 'kt10000' }), 404, 'KG1009');
  await refused(t, () => h.post('/api/dostk/stkinfo?x=1', JSON.stringify(QUOTE), { ...auth, 'api-id': 'ka10001' }), 404, 'KG1009');
  await refused(t, () => h.post('/oauth2/token/../../admin', '{}'), 404, 'KG1009');
  await refused(t, () => h.post('/api/dostk/stkinfo', JSON.stringify(QUOTE), { ...auth, 'api-id': 'ka10001', 'next-key': 'a b' }), 400, 'KG1007');
  await refused(t, () => h.post('/api/dostk/websocket', '{}', { ...auth, 'api-id': 'ka10171' }), 400, 'KG1005');
  const get = await request(`${h.url}/api/dostk/stkinfo`, { method: 'GET', headers: { ...auth, 'api-id': 'ka10001' } });
  t.equal(get.statusCode, 405);
  t.match(await get.body.text(), /KG1008/);
});

t.test('bot-supplied hop-by-hop and forwarding headers are not trusted or forwarded', async (t) => {
  const r = await h.call('ka10001', QUOTE, {
    token: goodToken,
    headers: { 'x-forwarded-for': '1.2.3.4', 'x-forwarded-host': 'evil', connection: 'keep-alive, x-secret', 'x-secret': 'y', 'proxy-authorization': 'z' },
  });
  t.equal(r.json.return_code, 0, r.text);
  t.notOk(r.headers['x-secret']);
});

t.test('English messages by configuration', async (t) => {
  const en = await startHarness({ config: { language: 'en' } });
  t.teardown(() => en.close());
  const r = await en.post('/api/dostk/stkinfo', '{}', { 'api-id': 'ka10001' });
  t.equal(r.json.return_msg, 'No bearer token[KG2001]');
  t.match(String((await h.post('/api/dostk/stkinfo', '{}', { 'api-id': 'ka10001' })).json.return_msg), /^인증 토큰이 없습니다\[KG2001\]$/);
});
