// Guessing one bot's secret: the stuffing detector counts distinct bots per
// source, so a dictionary run against a single bot never reaches it, and bot
// secrets supplied by a batch import may be human-chosen. After
// tokens.authFailures.maxFailures wrong secrets (token or revoke) from one
// address, that address is refused (429, KG3005, retry-after) for blockMs,
// correct secret or not, so a guess cannot be confirmed during the
// cool-down. Other addresses are not affected, and nothing is issued.
import t from 'tap';
import net from 'node:net';
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

t.test('guesses sent all at once are limited too: no more than maxFailures are checked', async (t) => {
  const h = await startHarness({ config: { tokens: { authFailures: { maxFailures: MAX, windowMs: 600_000, blockMs: 600_000, maxSources: 100 } } } });
  t.teardown(() => h.close());
  const { port } = new URL(h.url);
  const BURST = 3 * MAX;
  const socks = Array.from({ length: BURST }, (_, i) => {
    const body = JSON.stringify({ grant_type: 'client_credentials', appkey: h.botId, secretkey: `burst-${i}-${'6b5c4d3e'.repeat(5)}` });
    const sock = net.connect({ port: Number(port), host: '127.0.0.1', localAddress: '127.0.0.3' });
    let out = '';
    sock.on('data', (d) => {
      out += d.toString('latin1');
    });
    const done = new Promise<string>((resolve) => sock.on('close', () => resolve(out)));
    sock.on('error', () => undefined);
    // Headers and half the body: every request is past the point where its source is checked, none is decided.
    sock.write(`POST /oauth2/token HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
    sock.write(body.slice(0, 10));
    return { sock, rest: body.slice(10), done };
  });
  // A full round trip from elsewhere, after every burst request's headers were written.
  t.equal((await h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: h.botId, secretkey: h.botSecret }))).json.return_code, 0);
  for (const s of socks) s.sock.write(s.rest);
  const outs = await Promise.all(socks.map((s) => s.done));
  const checked = outs.filter((o) => /KG2005/.test(o)).length;
  const refused = outs.filter((o) => /KG3005/.test(o)).length;
  t.ok(checked <= MAX, `at most ${MAX} of ${BURST} simultaneous guesses had their secret checked (${checked}; ${refused} refused KG3005)`);
  t.equal(checked + refused, BURST, 'every one was answered');

  // Right secrets sent at once from an address with no failures: more than maxFailures in flight wait, none is refused.
  const agent = new Agent({ localAddress: '127.0.0.4', connections: BURST });
  t.teardown(() => agent.close());
  const logins = await Promise.all(
    Array.from({ length: BURST }, () =>
      h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: h.botId, secretkey: h.botSecret }), {}, agent),
    ),
  );
  t.equal(logins.filter((r) => r.json.return_code === 0).length, BURST, `all ${BURST} simultaneous logins with the right secret succeed`);
});
