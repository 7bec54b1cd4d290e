// Guessing one bot's secret: the stuffing detector counts distinct bots per
// source, so a dictionary run against a single bot never reaches it, and bot
// secrets supplied by a batch import may be human-chosen. After
// tokens.authFailures.maxFailures wrong secrets (token or revoke) from one
// address, that address is refused (429, KG3005, retry-after) for blockMs,
// correct secret or not, so a guess cannot be confirmed during the
// cool-down. Other addresses are not affected, and nothing is issued.
import t from 'tap';
import { Agent } from 'undici';
import { startHarness, type CallResult } from '../helpers/harness.js';

const code = (r: CallResult): string | undefined => /\[(KG\d{4})/.exec(String(r.json.return_msg ?? ''))?.[1];
const MAX = 4;

t.test('wrong bot secrets from one address put it in a cool-down; other addresses log in', async (t) => {
  const h = await startHarness({ config: { tokens: { authFailures: { maxFailures: MAX, windowMs: 600_000, blockMs: 600_000, maxSources: 100 } } } });
  const attacker = new Agent({ localAddress: '127.0.0.2' });
  t.teardown(async () => {
    await attacker.close();
    await h.close();
  });
  const token = await h.token();
  const guess = (i: number) => `guess-${i}-${'5a4b3c2d'.repeat(5)}`;
  for (let i = 0; i < MAX; i++) {
    const r =
      i % 2 === 0
        ? await h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: h.botId, secretkey: guess(i) }), {}, attacker)
        : await h.post('/oauth2/revoke', JSON.stringify({ appkey: h.botId, secretkey: guess(i), token }), {}, attacker);
    t.equal(code(r), 'KG2005', `guess ${i} refused as a wrong secret`);
  }
  const right = await h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: h.botId, secretkey: h.botSecret }), {}, attacker);
  t.equal(right.status, 429, `the right secret from the cooling address is refused too: ${right.text}`);
  t.equal(code(right), 'KG3005', 'KG3005');
  t.ok(Number(right.headers['retry-after']) > 0, 'with retry-after');
  t.notOk(right.json.token, 'no token issued');
  const revoke = await h.post('/oauth2/revoke', JSON.stringify({ appkey: h.botId, secretkey: h.botSecret, token }), {}, attacker);
  t.equal(code(revoke), 'KG3005', 'revoke from the cooling address is refused as well');
  const call = await h.call('ka10001', { stk_cd: '005930' }, { token });
  t.equal(call.json.return_code, 0, `the revoke did not happen and the owner's token works: ${call.text}`);

  const home = await h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: h.botId, secretkey: h.botSecret }));
  t.equal(home.json.return_code, 0, `the bot from its own address logs in: ${home.text}`);
});
