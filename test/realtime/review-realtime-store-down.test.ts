// Review regression: a realtime re-check that could not reach the shared
// store (Redis not answering within its command time-out, KG7001) ended the
// bot's socket as "revoked": SYSTEM KG-REVOKED and kguard_realtime_closes_total
// {reason="revoked"}, the signal an operator reads as a killed or revoked
// session. It still ends the session (fail closed: revocations cannot be read),
// but once the store has failed twice in a row (a time-out that fired after a
// pause, before the answer was read, is asked again), and it says why: SYSTEM
// KG-UNAVAILABLE naming KG7001, reason="unavailable".
import t from 'tap';
import path from 'node:path';
import { request } from 'undici';
import { FIXTURES, startHarness } from '../helpers/harness.js';
import { startRedis } from '../helpers/redis.js';
import { connectBot } from './ws-client.js';

t.test('a store that does not answer ends the realtime session as unavailable, not revoked', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.cleanup());
  const h = await startHarness({
    sim: { wsQuoteIntervalMs: 0, wsConditionIntervalMs: 0 },
    allowed: ['kind:query', 'kind:realtime'],
    policyFile: path.join(FIXTURES, 'policy-realtime.yaml'),
    config: {
      state: { backend: 'redis', redis: { url: redis.url, commandTimeoutMs: 300 } },
      realtime: { recheckMs: 200, pingIntervalMs: 600_000 },
    },
  });
  t.teardown(() => h.close());
  const s = await connectBot(h.sidecar.realtimeUrl);
  t.teardown(() => s.close());
  t.equal((await s.login(await h.token())).return_code, 0);
  redis.pause();
  t.teardown(() => redis.resume());
  const sys = await s.next((f) => f.trnm === 'SYSTEM', 'the session ending');
  redis.resume();
  t.equal(sys.code, 'KG-UNAVAILABLE', JSON.stringify(sys));
  t.match(String(sys.message), /KG7001/);
  t.equal((await s.closed).code, 4003);
  const text = await (await request(`${h.adminUrl}/metrics`)).body.text();
  t.match(text, /^kguard_realtime_closes_total\{reason="unavailable"\} 1$/m);
  t.notMatch(text, /^kguard_realtime_closes_total\{reason="revoked"\} [1-9]/m);
});
