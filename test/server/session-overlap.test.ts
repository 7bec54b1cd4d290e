// The session's store check (revoked / disabled / killed) runs overlapped
// with the assess reads instead of before the body is read. These prove the
// overlap changes nothing a bot or an attacker can see: the session's own
// error wins over any later stage's error, nothing reaches the broker, and a
// dead session causes no risk side effects (behaviour counters, alerts).
import t from 'tap';
import type { Test } from 'tap';
import { startHarness, type Harness, type CallResult } from '../helpers/harness.js';

let h: Harness;
const storeOps: { op: string; key: string }[] = [];
t.before(async () => {
  h = await startHarness();
  // Record every store op by key, to see which parts a refused call touched.
  const store = h.sidecar.parts.store as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  for (const op of ['get', 'mget', 'set', 'setIfAbsent', 'incr', 'hget', 'hmget', 'hset', 'consume', 'peek']) {
    const inner = store[op]!.bind(store);
    store[op] = (...a: unknown[]) => {
      const first = a[0];
      const keys = Array.isArray(first) ? first.map((x) => (typeof x === 'string' ? x : String((x as { key?: string }).key))) : [String(first)];
      for (const key of keys) storeOps.push({ op, key });
      return inner(...a);
    };
  }
});
t.teardown(() => h.close());

const QUOTE = { stk_cd: '005930' };

async function refused(t: Test, fn: () => Promise<CallResult>, status: number, code: string): Promise<void> {
  await h.waitNoLiveTokens();
  const before = h.sim.stats().requests;
  storeOps.length = 0;
  const r = await fn();
  t.equal(r.status, status, `HTTP ${status}: ${r.text}`);
  t.match(String(r.json.return_msg), new RegExp(`\\[${code}`), `names ${code}`);
  t.equal(h.sim.stats().requests, before, 'nothing reached the simulator');
  const touched = storeOps.filter((o) => /^risk:|^response:alerted|rl:/.test(o.key));
  t.same(touched, [], 'no risk counters, alert cooldowns or rate limits touched');
}

t.test('a revoked token is refused as revoked, whatever else is wrong with the call', async (t) => {
  const token = await h.token();
  const claims = await h.sidecar.parts.sessions.verify(token);
  await h.sidecar.parts.sessions.revoke(claims);
  await refused(t, () => h.call('ka10001', QUOTE, { token }), 401, 'KG2004');
  await refused(t, () => h.call('zz99999', QUOTE, { token }), 401, 'KG2004');
  await refused(t, () => h.call('ka10001', '{"stk_cd":', { token }), 401, 'KG2004');
  await refused(t, () => h.call('ka10001', {}, { token }), 401, 'KG2004');
});

t.test('killed sessions and a bot disabled in the shared store keep their codes', async (t) => {
  const old = await h.token();
  await h.sidecar.parts.sessions.killAll(h.botId);
  await refused(t, () => h.call('ka10001', QUOTE, { token: old }), 401, 'KG2007');
  await refused(t, () => h.call('ka10001', 'not json', { token: old }), 401, 'KG2007');
  const fresh = await h.token();
  t.equal((await h.call('ka10001', QUOTE, { token: fresh })).json.return_code, 0, 'a new token works');
  // Disabled through the store (another replica's admin call), not the local bot file.
  await h.sidecar.parts.sessions.setDisabled(h.botId, true, 'drill');
  const afterDisable = await h.sidecar.parts.sessions.issue(h.botId);
  await refused(t, () => h.call('ka10001', QUOTE, { token: afterDisable.token }), 403, 'KG2006');
  await refused(t, () => h.call('zz99999', QUOTE, { token: afterDisable.token }), 403, 'KG2006');
  await h.sidecar.parts.sessions.setDisabled(h.botId, false);
});

t.test('a live session still works and does reach risk', async (t) => {
  const token = await h.token();
  storeOps.length = 0;
  const r = await h.call('ka10001', QUOTE, { token });
  t.equal(r.json.return_code, 0, r.text);
  t.ok(
    storeOps.some((o) => o.key.startsWith('risk:')),
    'risk ran for the live session',
  );
  t.ok(
    storeOps.some((o) => o.op === 'mget' && o.key.startsWith('jti:')),
    'session checked with one mget',
  );
});
