// Guessing one bot's secret: the stuffing detector counts distinct bots per
// source, so a dictionary run against a single bot never reaches it, and bot
// secrets supplied by a batch import may be human-chosen. After
// tokens.authFailures.maxFailures wrong secrets (token or revoke) for a bot id
// from one address, that bot id is refused there (429, KG3005, retry-after)
// for blockMs, correct secret or not, so a guess cannot be confirmed during the
// cool-down. Other addresses, and other bots at that address, are not
// affected, and nothing is issued.
import t from 'tap';
import { Agent } from 'undici';
import { startHarness, waitFor, type CallResult, type Harness } from '../helpers/harness.js';

const code = (r: CallResult): string | undefined => /\[(KG\d{4})/.exec(String(r.json.return_msg ?? ''))?.[1];
const MAX = 4;

t.test('wrong bot secrets from one address put that bot in a cool-down there; other addresses log in', async (t) => {
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

/**
 * Holds every secret check (bots.authenticate) of bot `id` until released, and counts its bodies parsed (the
 * exchange asks bots.get(appkey) right after the masked parse, before the limiter): `release(n)` waits until n
 * bodies were parsed and the turn has run (each is now checking its secret or waiting for a slot), returns how
 * many secret checks started meanwhile, and lets them go on. So a burst is "at once" whatever the timing.
 */
function holdSecretChecks(h: Harness, id: string) {
  const bots = h.sidecar.parts.bots;
  const get = bots.get.bind(bots);
  const authenticate = bots.authenticate.bind(bots);
  let parsed = 0;
  let checks = 0;
  let open: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  bots.get = (k) => {
    if (k === id) parsed++;
    return get(k);
  };
  bots.authenticate = async (k, secret) => {
    if (k === id) {
      checks++;
      await gate;
    }
    return authenticate(k, secret);
  };
  return {
    async release(n: number): Promise<number> {
      try {
        await waitFor(() => parsed >= n, 20_000, `${n} bodies for ${id} parsed`);
        await new Promise(setImmediate);
        return checks;
      } finally {
        open();
      }
    },
  };
}

t.test('guesses sent all at once are limited too: no more than maxFailures are checked', async (t) => {
  const h = await startHarness({ config: { tokens: { authFailures: { maxFailures: MAX, windowMs: 600_000, blockMs: 600_000, maxSources: 100 } } } });
  t.teardown(() => h.close());
  const BURST = 3 * MAX;
  const agent = new Agent({ localAddress: '127.0.0.3', connections: BURST });
  t.teardown(() => agent.close());
  const hold = holdSecretChecks(h, h.botId);
  const sent = Promise.all(
    Array.from({ length: BURST }, (_, i) =>
      h.post(
        '/oauth2/token',
        JSON.stringify({ grant_type: 'client_credentials', appkey: h.botId, secretkey: `burst-${i}-${'6b5c4d3e'.repeat(5)}` }),
        {},
        agent,
      ),
    ),
  );
  const started = await hold.release(BURST);
  t.ok(started <= MAX, `with all ${BURST} parsed and none decided, at most ${MAX} were checking their secret (${started})`);
  const outs = await sent;
  const checked = outs.filter((r) => code(r) === 'KG2005').length;
  const refused = outs.filter((r) => code(r) === 'KG3005').length;
  t.ok(checked <= MAX, `at most ${MAX} of ${BURST} simultaneous guesses had their secret checked (${checked}; ${refused} refused KG3005)`);
  t.equal(checked + refused, BURST, 'every one was answered');
  t.equal(
    (await h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: h.botId, secretkey: h.botSecret }))).json.return_code,
    0,
    'the bot logs in from elsewhere',
  );
});

t.test('right secrets sent all at once from an address with no failures: those past maxFailures wait, none is refused', async (t) => {
  const h = await startHarness({ config: { tokens: { authFailures: { maxFailures: MAX, windowMs: 600_000, blockMs: 600_000, maxSources: 100 } } } });
  t.teardown(() => h.close());
  const BURST = 3 * MAX;
  const agent = new Agent({ localAddress: '127.0.0.4', connections: BURST });
  t.teardown(() => agent.close());
  const hold = holdSecretChecks(h, h.botId);
  const sent = Promise.all(
    Array.from({ length: BURST }, () =>
      h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: h.botId, secretkey: h.botSecret }), {}, agent),
    ),
  );
  t.ok((await hold.release(BURST)) <= MAX, `at most ${MAX} in flight`);
  const logins = await sent;
  t.equal(logins.filter((r) => r.json.return_code === 0).length, BURST, `all ${BURST} simultaneous logins with the right secret succeed`);
});

// Many bots reach the sidecar from one address (one host, a NAT, a Kubernetes
// SNAT): one bot with a stale secret retrying in a loop must not lock the
// others on that address out of login. Counted per (source address, bot id).
const DEFAULT_MAX = 10;

t.test("one bot's wrong secrets do not lock out another bot on the same address", async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const stale = await h.sidecar.parts.bots.add({ id: 'bot-stale', owner: 'bob', account: '5555555511' });
  const staleSecret = stale.secret.toString('latin1');
  stale.secret.fill(0);
  const wrong = (i: number) => JSON.stringify({ grant_type: 'client_credentials', appkey: 'bot-stale', secretkey: `stale-${i}-${'7c6d5e4f'.repeat(5)}` });
  for (let i = 0; i < DEFAULT_MAX; i++) t.equal(code(await h.post('/oauth2/token', wrong(i))), 'KG2005', `stale try ${i} refused as a wrong secret`);
  const stillWrong = await h.post('/oauth2/token', wrong(DEFAULT_MAX));
  t.equal(code(stillWrong), 'KG3005', 'the failing bot now cools down at 127.0.0.1');

  const other = await h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: h.botId, secretkey: h.botSecret }));
  t.equal(other.json.return_code, 0, `another bot from the same address logs in: ${other.text}`);
  const token = String(other.json.token);
  t.equal((await h.post('/oauth2/revoke', JSON.stringify({ appkey: h.botId, secretkey: h.botSecret, token }))).json.return_code, 0, 'and revokes');

  const right = JSON.stringify({ grant_type: 'client_credentials', appkey: 'bot-stale', secretkey: staleSecret });
  const cooling = await h.post('/oauth2/token', right);
  t.equal(cooling.status, 429, `the failing bot's right secret from 127.0.0.1 is refused during its cool-down: ${cooling.text}`);
  t.equal(code(cooling), 'KG3005', 'KG3005');
  t.ok(Number(cooling.headers['retry-after']) > 0, 'with retry-after');
  t.notOk(cooling.json.token, 'no token issued');
  const elsewhere = new Agent({ localAddress: '127.0.0.2' });
  t.teardown(() => elsewhere.close());
  const away = await h.post('/oauth2/token', right, {}, elsewhere);
  t.equal(away.json.return_code, 0, `the failing bot logs in from 127.0.0.2: ${away.text}`);
  t.match(
    h.logs(),
    /"source":"127\.0\.0\.1".*"botId":"bot-stale"|"botId":"bot-stale".*"source":"127\.0\.0\.1"/,
    'the cool-down warning names the bot and the address',
  );
  t.notMatch(h.logs(), new RegExp(staleSecret.replace(/[^A-Za-z0-9]/g, '.')), 'never the secret');
});

t.test('an unknown bot id is counted under its (address, id) like a wrong secret, and answered the same', async (t) => {
  const h = await startHarness({ config: { tokens: { authFailures: { maxFailures: MAX, windowMs: 600_000, blockMs: 600_000, maxSources: 100 } } } });
  t.teardown(() => h.close());
  const body = (id: string, i: number) => JSON.stringify({ grant_type: 'client_credentials', appkey: id, secretkey: `nobody-${i}-${'8d7e6f5a'.repeat(5)}` });
  for (const id of ['bot-nobody', h.botId]) {
    const answers: string[] = [];
    for (let i = 0; i <= MAX; i++) {
      const r = await h.post('/oauth2/token', body(id, i));
      answers.push(`${r.status} ${code(r)}`);
    }
    t.same(answers, [...Array<string>(MAX).fill('401 KG2005'), '429 KG3005'], `${id}: ${MAX} refused as wrong, then cooling down`);
  }
});

t.test("a bot's burst of guesses is held to maxFailures while another bot's logins from that address all succeed", async (t) => {
  const h = await startHarness({ config: { tokens: { authFailures: { maxFailures: MAX, windowMs: 600_000, blockMs: 600_000, maxSources: 100 } } } });
  t.teardown(() => h.close());
  const victim = await h.sidecar.parts.bots.add({ id: 'bot-victim', owner: 'bob', account: '5555555511' });
  const victimSecret = victim.secret.toString('latin1');
  victim.secret.fill(0);
  const BURST = 3 * MAX;
  const agent = new Agent({ localAddress: '127.0.0.5', connections: 2 * BURST });
  t.teardown(() => agent.close());
  const login = (id: string, secret: string) =>
    h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: id, secretkey: secret }), {}, agent);
  const hold = holdSecretChecks(h, 'bot-victim');
  const sent = Promise.all([
    Promise.all(Array.from({ length: BURST }, (_, i) => login('bot-victim', `burst-${i}-${'9e8f7a6b'.repeat(5)}`))),
    Promise.all(Array.from({ length: BURST }, () => login(h.botId, h.botSecret))),
  ]);
  const started = await hold.release(BURST);
  t.ok(started <= MAX, `with all ${BURST} guesses parsed and none decided, at most ${MAX} were checking their secret (${started})`);
  const [guesses, logins] = await sent;
  const checked = guesses.filter((r) => code(r) === 'KG2005').length;
  t.ok(checked <= MAX, `at most ${MAX} of ${BURST} simultaneous guesses at bot-victim were checked (${checked})`);
  t.equal(checked + guesses.filter((r) => code(r) === 'KG3005').length, BURST, 'the rest were refused KG3005');
  t.equal(logins.filter((r) => r.json.return_code === 0).length, BURST, `all ${BURST} simultaneous right logins of ${h.botId} from that address succeed`);
  t.equal(code(await login('bot-victim', victimSecret)), 'KG3005', "bot-victim's right secret from that address is refused while it cools down");
});
