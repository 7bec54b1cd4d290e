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
