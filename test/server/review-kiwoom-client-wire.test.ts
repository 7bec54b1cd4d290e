// What a Kiwoom client sees when only its base URL changed: it builds its headers
// and reads the answers as it did against Kiwoom.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { GuardError, kiwoomErrorBody } from '../../proxy/common/errors.js';
import { CANARY, startHarness, type Harness, type CallResult } from '../helpers/harness.js';
import { connectBot } from '../realtime/ws-client.js';

let h: Harness;
t.before(async () => {
  h = await startHarness({ sim: { pageSize: 1 } });
});
t.teardown(() => h.close());

const QUOTE = { stk_cd: '005930' };

async function login(): Promise<Record<string, unknown>> {
  const r = await h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: h.botId, secretkey: h.botSecret }));
  if (r.json.return_code !== 0) throw new Error(r.text);
  return r.json;
}

t.test('the authorization scheme is read without regard to case, as token_type spells it', async (t) => {
  const tok = await login();
  // An OAuth client builds the header from the answer: `${token_type} ${token}`; RFC 7235 auth schemes are case-insensitive.
  for (const scheme of [String(tok.token_type), 'bearer', 'BEARER', 'Bearer']) {
    const r = await h.call('ka10001', QUOTE, { headers: { authorization: `${scheme} ${tok.token}` } });
    t.equal(r.status, 200, `${scheme}: ${r.text}`);
    t.equal(r.json.return_code, 0, scheme);
  }
  const r = await h.call('ka10001', QUOTE, { headers: { authorization: `Basic ${tok.token}` } });
  t.equal(r.status, 401, 'another scheme is still refused');
  t.match(String(r.json.return_msg), /\[KG2002/);
});

t.test('every TR answer carries cont-yn and next-key as Kiwoom sends them, an empty next-key included', async (t) => {
  const tok = String((await login()).token);
  for (let i = 0; i < 2; i++) {
    const buy = await h.call(
      'kt10000',
      { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: String(60_000 + i * 100), trde_tp: '0' },
      { token: tok },
    );
    t.equal(buy.json.return_code, 0, buy.text);
  }
  const quote = await h.call('ka10001', QUOTE, { token: tok });
  t.equal(quote.headers['cont-yn'], 'N', 'a one-page answer: cont-yn N');
  t.equal(quote.headers['next-key'], '', 'and next-key present, empty (a client reads headers["next-key"])');
  // A Kiwoom sample's loop: start with cont-yn N and an empty next-key, then echo what each answer carried.
  let headers: Record<string, string> = { 'cont-yn': 'N', 'next-key': '' };
  const pages: unknown[] = [];
  for (let p = 0; p < 10; p++) {
    const r = await h.call('ka10075', { all_stk_tp: '0', trde_tp: '0', stk_cd: '', stex_tp: '0' }, { token: tok, headers });
    t.equal(r.json.return_code, 0, r.text);
    pages.push(...((r.json.oso as unknown[]) ?? []));
    const cont = r.headers['cont-yn'];
    const next = r.headers['next-key'];
    t.ok(cont === 'Y' || cont === 'N', `page ${p}: cont-yn ${cont}`);
    t.equal(typeof next, 'string', `page ${p}: next-key present`);
    if (cont !== 'Y') {
      t.equal(next, '', 'the last page: next-key empty');
      break;
    }
    t.not(next, '', 'a page with more: next-key set');
    headers = { 'cont-yn': String(cont), 'next-key': String(next) };
  }
  t.equal(pages.length, 2, 'both open orders, one a page');
});

/**
 * A Kiwoom client's recovery from a token Kiwoom no longer takes, as public clients write it: the call is refused
 * with [8005] in return_msg, the client logs in again once and sends the call again.
 */
async function callLikeAKiwoomClient(token: string): Promise<{ first: CallResult; retried?: CallResult }> {
  const first = await h.call('ka10001', QUOTE, { token });
  if (first.json.return_code === 0 || !String(first.json.return_msg).includes('8005')) return { first };
  return { first, retried: await h.call('ka10001', QUOTE, { token: String((await login()).token) }) };
}

t.test("a token the sidecar no longer takes is refused with Kiwoom's [8005] too, so a client's re-login applies", async (t) => {
  const signingKey = await readFile(path.join(h.dataDir, 'jwt.key'));
  const now = Math.floor(Date.now() / 1000);
  const expired = await new SignJWT({ ep: 0 })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(h.botId)
    .setIssuer('kiwoom-guard')
    .setAudience('kiwoom-guard:bots')
    .setIssuedAt(now - 600)
    .setExpirationTime(now - 60)
    .setJti(randomBytes(8).toString('hex'))
    .sign(signingKey);
  const revoked = String((await login()).token);
  const rv = await h.post('/oauth2/revoke', JSON.stringify({ appkey: h.botId, secretkey: h.botSecret, token: revoked }));
  t.equal(rv.json.return_code, 0, rv.text);
  const forged = `${revoked.slice(0, revoked.lastIndexOf('.'))}.${randomBytes(32).toString('base64url')}`;
  const cases: [string, string, () => Promise<string>][] = [
    ['expired', 'KG2003', async () => expired],
    ['revoked', 'KG2004', async () => revoked],
    ['bad signature', 'KG2002', async () => forged],
    [
      'sessions killed',
      'KG2007',
      async () => {
        const tok = String((await login()).token);
        const admin = await h.adminToken('ops', 'admin');
        const k = await h.admin('POST', `/admin/v1/bots/${h.botId}/kill-sessions`, admin, {});
        t.equal(k.status, 200, k.text);
        return tok;
      },
    ],
  ];
  for (const [what, code, tokenOf] of cases) {
    const { first, retried } = await callLikeAKiwoomClient(await tokenOf());
    t.equal(first.status, 401, `${what}: HTTP 401`);
    t.equal(first.json.return_code, 3, `${what}: return_code 3`);
    t.match(String(first.json.return_msg), new RegExp(`\\[${code}[:\\]][^[]*$`), `${what}: names ${code} in the last bracket`);
    t.match(String(first.json.return_msg), /^[^[]+\[8005:[^\]]+\]\[KG/, `${what}: and Kiwoom's [8005:...] right after the message`);
    t.equal(retried?.json.return_code, 0, `${what}: the client logged in again and its call went through`);
  }
  t.equal(
    kiwoomErrorBody(new GuardError('KG2003', undefined, { kiwoom: '8005' }), 'en').return_msg,
    'Token expired[8005:Token is not valid][KG2003]',
    'English by configuration',
  );
});

t.test('a refusal that is not about the token carries no [8005]: a new token would not help', async (t) => {
  const tok = String((await login()).token);
  const wrongPath = await h.call('ka10001', QUOTE, { token: tok, path: '/api/dostk/acnt' });
  t.equal(wrongPath.status, 400);
  t.notMatch(String(wrongPath.json.return_msg), /8005/);
  const noToken = await h.post('/api/dostk/stkinfo', JSON.stringify(QUOTE), { 'api-id': 'ka10001' });
  t.match(String(noToken.json.return_msg), /\[KG2001\]$/, 'no authorization at all: KG2001 alone');
});

t.test("a TR call the sidecar refuses is answered with Kiwoom's TR headers too, so a client reading them first still reaches return_msg", async (t) => {
  const tok = String((await login()).token);
  const refusals: [string, () => Promise<CallResult>][] = [
    ['wrong path', () => h.call('ka10001', QUOTE, { token: tok, path: '/api/dostk/acnt' })],
    ['bad JSON', () => h.call('ka10001', '{"stk_cd":', { token: tok })],
    ['bad token', () => h.call('ka10001', QUOTE, { token: `${tok.slice(0, tok.lastIndexOf('.'))}.AAAA` })],
  ];
  for (const [what, send] of refusals) {
    const r = await send();
    t.not(r.json.return_code, 0, `${what}: refused (${r.text})`);
    t.equal(r.headers['cont-yn'], 'N', `${what}: cont-yn N`);
    t.equal(r.headers['next-key'], '', `${what}: next-key empty`);
    t.equal(r.headers['api-id'], 'ka10001', `${what}: api-id named`);
  }
  const noApiId = await h.post('/api/dostk/stkinfo', JSON.stringify(QUOTE), { authorization: `Bearer ${tok}` });
  t.equal(noApiId.headers['cont-yn'], 'N', 'no api-id: cont-yn N');
  t.notOk(noApiId.headers['api-id'], 'and no api-id to name');
  const token = await h.post('/oauth2/token', '{');
  t.notOk(token.headers['cont-yn'], 'a token answer is no TR answer: no paging headers');
});

t.test("a realtime LOGIN with a token the sidecar no longer takes is refused with Kiwoom's [8005] too", async (t) => {
  const tok = String((await login()).token);
  const rv = await h.post('/oauth2/revoke', JSON.stringify({ appkey: h.botId, secretkey: h.botSecret, token: tok }));
  t.equal(rv.json.return_code, 0, rv.text);
  const s = await connectBot(h.sidecar.realtimeUrl);
  t.teardown(() => s.close());
  const reply = await s.login(tok);
  t.equal(reply.return_code, 805004, `Kiwoom's return_code for a refused realtime token: ${JSON.stringify(reply)}`);
  t.match(String(reply.return_msg), /\[CODE=8005, MESSAGE=[^\]]+\]\[8005:[^\]]+\]\[KG2004\]$/, 'realtime and REST forms of 8005, the sidecar code last');
});

t.test('a bot secret its JSON encoder escaped (Gson \\u003d, Go \\u0026, PHP \\/) is read as the secret it encodes', async (t) => {
  // A batch-imported secret, e.g. from `openssl rand -base64 32`: '/', '+' and a trailing '=' (and here '&', '<', '>').
  const secret = 'q7/Zk+Lw&Pn<Xr>Tb9/Hc2+Vd5/Wf8+Gj4/Mk6+Nu3A=';
  await h.sidecar.parts.bots.addMany([{ id: 'esc-bot', owner: 'alice', account: CANARY.account, allowed: ['kind:query'], secret: Buffer.from(secret) }]);
  await h.sidecar.parts.vault.importCredentials({
    botId: 'esc-bot',
    account: CANARY.account,
    appKey: Buffer.from(CANARY.appKey),
    secretKey: Buffer.from(CANARY.secretKey),
  });
  const encoders: [string, (s: string) => string][] = [
    ['plain', (s) => s],
    ['PHP json_encode', (s) => s.replaceAll('/', '\\/')],
    ['Go encoding/json', (s) => s.replaceAll('&', '\\u0026').replaceAll('<', '\\u003c').replaceAll('>', '\\u003e')],
    ['Gson', (s) => s.replaceAll('=', '\\u003d').replaceAll('&', '\\u0026').replaceAll('<', '\\u003C').replaceAll('>', '\\u003E')],
    ['every byte escaped', (s) => [...s].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')],
  ];
  for (const [what, encode] of encoders) {
    const body = `{"grant_type":"client_credentials","appkey":"esc-bot","secretkey":"${encode(secret)}"}`;
    t.same(JSON.parse(body).secretkey, secret, `${what}: the body encodes the secret`);
    const r = await h.post('/oauth2/token', body);
    t.equal(r.json.return_code, 0, `${what}: ${r.text}`);
    const q = await h.call('ka10001', QUOTE, { token: String(r.json.token) });
    t.equal(q.json.return_code, 0, `${what}: and the token works`);
    const rv = await h.post('/oauth2/revoke', `{"appkey":"esc-bot","secretkey":"${encode(secret)}","token":"${r.json.token}"}`);
    t.equal(rv.json.return_code, 0, `${what}: revoke too: ${rv.text}`);
  }
  const wrong = await h.post('/oauth2/token', `{"grant_type":"client_credentials","appkey":"esc-bot","secretkey":"${secret.replace('=', '\\u003e')}"}`);
  t.equal(wrong.status, 401, 'an escape that decodes to another secret is a wrong secret');
  t.match(String(wrong.json.return_msg), /\[KG2005\]/);
  const broken = await h.post('/oauth2/token', '{"grant_type":"client_credentials","appkey":"esc-bot","secretkey":"abc\\x41"}');
  t.equal(broken.status, 400, 'an escape JSON does not know is bad JSON');
});

t.test('a body that starts with a UTF-8 byte order mark (a file saved by a Windows editor, sent as is) is read as the JSON after it', async (t) => {
  const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
  const tokenBody = Buffer.concat([BOM, Buffer.from(JSON.stringify({ grant_type: 'client_credentials', appkey: h.botId, secretkey: h.botSecret }))]);
  const tok = await h.post('/oauth2/token', tokenBody);
  t.equal(tok.json.return_code, 0, `token: ${tok.text}`);
  const q = await h.post('/api/dostk/stkinfo', Buffer.concat([BOM, Buffer.from(JSON.stringify(QUOTE))]), {
    'api-id': 'ka10001',
    authorization: `Bearer ${tok.json.token}`,
  });
  t.equal(q.json.return_code, 0, `quote: ${q.text}`);
  t.equal(q.json.stk_cd, '005930');
  const twice = await h.post('/api/dostk/stkinfo', Buffer.concat([BOM, BOM, Buffer.from(JSON.stringify(QUOTE))]), {
    'api-id': 'ka10001',
    authorization: `Bearer ${tok.json.token}`,
  });
  t.equal(twice.status, 400, 'one mark only: a second is not JSON');
  t.match(String(twice.json.return_msg), /\[KG1001/);
});
