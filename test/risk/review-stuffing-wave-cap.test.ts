// A credential-stuffing wave wider than risk.crossTenant.maxTracked (64 by default): the wave's count stops
// growing at the cap, and so did the record of which bots' secrets failed, so every bot tried after the 64th was
// not "a bot whose secret failed in the wave" — the one whose secret the attacker then guessed used it unflagged.
// A registered bot's failure is now always recorded (the registry bounds them); an unknown bot id past the cap
// still is not (an attacker spraying made-up ids cannot grow the Store).
import t from 'tap';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createMemoryStore } from '../../proxy/state/index.js';
import { createRiskEngine, parseRiskConfig, seoulToEpoch, type RiskInput } from '../../proxy/risk/index.js';
import { startHarness } from '../helpers/harness.js';

const now = seoulToEpoch('2026-01-05', 10, 0) + 60_000;

function setup(raw: unknown = {}) {
  const store = createMemoryStore({ now: () => now });
  const config = parseRiskConfig(raw);
  const engine = createRiskEngine({ config, store, registry: new Registry(), logger: pino({ level: 'silent' }), now: () => now, language: 'en' });
  return { store, config, engine };
}

const quote = (botId: string, at: number): RiskInput => ({
  botId,
  account: '5555-01',
  apiId: 'ka10001',
  kind: 'query',
  stkCd: '005930',
  sourceIp: '10.9.9.9',
  now: at,
});

t.test('a wave of 100 registered bots: the 100th, logged in with a guessed secret, is flagged as the first', async (t) => {
  const { store, config, engine } = setup();
  t.teardown(() => store.close());
  t.equal(config.crossTenant.maxTracked, 64, 'the default cap');
  // Each from its own address: only the wave, not one source, connects them.
  for (let i = 0; i < 100; i++) await engine.noteAuthFailure(`bot${i}`, `192.0.2.${i}`, now, true);
  for (const bot of ['bot0', 'bot63', 'bot64', 'bot99']) {
    const a = await engine.assess(quote(bot, now + 1000));
    const c = a.contributions.find((x) => x.detector === 'stuffing');
    t.equal(c?.score, 0.7, `${bot}: its secret failed in the wave`);
    t.match(c?.reason, /wave of 64 bots/, `${bot}: the wave named (its count capped)`);
  }
  t.notOk(
    (await engine.assess(quote('bot100', now + 1000))).contributions.some((x) => x.detector === 'stuffing'),
    'a bot whose secret did not fail is not flagged',
  );
});

t.test('made-up bot ids past the cap are not recorded: the Store does not grow with them', async (t) => {
  const { store, engine } = setup();
  t.teardown(() => store.close());
  for (let i = 0; i < 100; i++) await engine.noteAuthFailure(`ghost${i}`, `192.0.2.${i}`, now, false);
  const win = Math.floor(now / 600_000);
  const recorded = await store.mget(Array.from({ length: 64 }, (_, i) => `risk:xfail:all:${win}:m:ghost${36 + i}`));
  t.equal(recorded.filter((v) => v !== null).length, 28, 'only the first 64 made-up ids (36..63 of these)');
  t.equal(await store.get(`risk:xfail:all:${win}:n`), '64', 'the count stops at the cap');
});

t.test('through the sidecar: a registered bot failing past the cap is recorded, a made-up id is not', async (t) => {
  const clock = seoulToEpoch('2026-01-05', 10, 0);
  const h = await startHarness({ clock: () => clock, config: { risk: { crossTenant: { maxTracked: 10 } } } });
  t.teardown(() => h.close());
  const fail = (appkey: string) =>
    h.post('/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey, secretkey: `wrong-secret-${'x'.repeat(32)}` }));
  const ids = [...Array.from({ length: 11 }, (_, i) => `made-up-${i + 1}`), h.botId];
  for (const id of ids) t.not((await fail(id)).json.return_code, 0, `${id}: refused`);
  const win = Math.floor(clock / 600_000);
  const store = h.sidecar.parts.store;
  t.equal(await store.get(`risk:xfail:all:${win}:m:${h.botId}`), '1', 'the registered bot, second past a cap of 10');
  t.equal(await store.get(`risk:xfail:all:${win}:m:made-up-11`), null, 'the made-up id past the cap');
});
