// What a Kiwoom client sees when only its base URL changed: it builds its headers
// and reads the answers as it did against Kiwoom.
import t from 'tap';
import { startHarness, type Harness } from '../helpers/harness.js';

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
