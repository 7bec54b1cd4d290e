// Kiwoom's per-key limits held across two replicas on one real Redis under
// bursts: many bots of one app key fire queries and orders at once on both
// replicas (each its own Store connection, governor and broker sessions), and
// the faithful simulator counts what it would refuse.
import t from 'tap';
import { lookupApi } from '../../proxy/kiwoom/catalogue.js';
import { KIWOOM_LIMITS } from '../../proxy/kiwoom/governor.js';
import { isGuardError } from '../../proxy/common/errors.js';
import { brokerWorld, WORLD_OPTS } from '../helpers/broker-world.js';

const QUOTE = Buffer.from(JSON.stringify({ stk_cd: '005930' }));
const BUY = (i: number) => Buffer.from(JSON.stringify({ dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: String(50_000 - i), trde_tp: '0' }));
// Patient callers: what is measured is what reaches Kiwoom, not who waited too long.
const PATIENT = { ...KIWOOM_LIMITS, queryMaxWaitMs: 60_000, orderMaxWaitMs: 60_000, holdMs: 15_000 };

t.test('bursts from 10 bots on both replicas: Kiwoom refuses nothing, every order arrives once', async (t) => {
  const { sim, replica } = await brokerWorld(t);
  const opts = { ...WORLD_OPTS, sessionWaitMs: 60_000 };
  const A = await replica('A', undefined, opts, undefined, PATIENT);
  const B = await replica('B', undefined, opts, undefined, PATIENT);
  const quote = lookupApi('ka10001')!;
  const buy = lookupApi('kt10000')!;
  const outcomes: string[] = [];
  let orders = 0;
  for (let wave = 0; wave < 3; wave++) {
    const calls: Promise<void>[] = [];
    for (let i = 0; i < 24; i++) {
      const r = i % 2 === 0 ? A : B;
      const botId = `bot-${i % 10}`;
      const order = i % 4 === 3;
      if (order) orders++;
      calls.push(
        r.upstream.call({ botId, entry: order ? buy : quote, body: order ? BUY(wave * 100 + i) : QUOTE }).then(
          (res) => {
            outcomes.push(/"return_code"\s*:\s*0/.test(res.body.toString()) ? 'ok' : res.body.toString().slice(0, 120));
          },
          (err: unknown) => {
            outcomes.push(isGuardError(err) ? `${err.code} ${err.message}` : String(err));
          },
        ),
      );
    }
    await Promise.all(calls);
  }
  const failed = outcomes.filter((o) => o !== 'ok');
  t.equal(failed.length, 0, `every call succeeded (${failed.slice(0, 3).join(' | ')})`);
  const s = sim.stats();
  t.same(s.refusals, { 1634: 0, 1700: 0, 1701: 0, 1702: 0, 8005: 0, 8010: 0 }, 'the simulator refused nothing');
  t.equal(s.refusedIssues, 0, 'au10001 never over its limit');
  t.equal(sim.orders('7000111122').length, orders, 'every order reached Kiwoom once');
});

t.test('a herd of first calls on a cold key, on both replicas: au10001 is asked once', async (t) => {
  const { sim, replica } = await brokerWorld(t);
  const opts = { ...WORLD_OPTS, sessionWaitMs: 60_000 };
  const A = await replica('A', undefined, opts, undefined, PATIENT);
  const B = await replica('B', undefined, opts, undefined, PATIENT);
  const leases = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? A : B).sessions.acquire(`bot-${i}`)));
  const s = sim.stats();
  t.equal(s.tokensIssued + s.tokensReused, 1, `one au10001 for 20 first calls (${s.tokensIssued} new, ${s.tokensReused} reused)`);
  t.equal(new Set(leases.map((l) => l.fingerprint)).size, 1, 'every call holds the one token');
  for (const l of leases) l.release();
});

t.test('the key token revoked behind both replicas: one re-issue for all, every call succeeds', async (t) => {
  const { sim, replica } = await brokerWorld(t);
  const opts = { ...WORLD_OPTS, sessionWaitMs: 60_000, idleRevokeMs: 60_000 };
  const A = await replica('A', undefined, opts, undefined, PATIENT);
  const B = await replica('B', undefined, opts, undefined, PATIENT);
  const quote = lookupApi('ka10001')!;
  for (const r of [A, B]) await r.upstream.call({ botId: 'bot-0', entry: quote, body: QUOTE });
  t.equal(sim.liveTokens(), 1);
  const issued = sim.stats().tokensIssued;
  t.equal(sim.revokeAll(), 1);
  const outcomes = await Promise.all(
    Array.from({ length: 16 }, (_, i) =>
      (i % 2 ? A : B).upstream.call({ botId: `bot-${i % 5}`, entry: quote, body: QUOTE }).then(
        (res) => (/"return_code"\s*:\s*0/.test(res.body.toString()) ? 'ok' : res.body.toString().slice(0, 100)),
        (err: unknown) => (isGuardError(err) ? `${err.code} ${err.message}` : String(err)),
      ),
    ),
  );
  t.same(
    outcomes.filter((o) => o !== 'ok'),
    [],
    'every call succeeded',
  );
  const s = sim.stats();
  t.equal(s.tokensIssued, issued + 1, `one re-issue for both replicas (${s.tokensIssued - issued})`);
  t.equal(s.refusedIssues, 0);
});
