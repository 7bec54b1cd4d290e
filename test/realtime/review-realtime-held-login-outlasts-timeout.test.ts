// A LOGIN's refusal held longer than realtime.loginTimeoutMs (holdMs above it) was cut short by the login timer:
// the socket closed with KG2001 ("LOGIN not received in time") after the time-out, and the refusal that was
// decided never reached the bot. The timer now stops once the refusal is decided. No wall clock: the test waits
// for the answer, which is the refusal (KG2002) or, with the timer left running, a KG2001 close.
import t from 'tap';
import { errorMessage } from '../../proxy/common/errors.js';
import { startHarness } from '../helpers/harness.js';
import { connectBot } from './ws-client.js';

const h = await startHarness({
  sim: { wsQuoteIntervalMs: 0 } as never,
  allowed: ['kind:query', 'kind:realtime'],
  config: {
    realtime: { loginTimeoutMs: 100 },
    limits: { authFailureHold: { afterFailures: 0, windowMs: 3_600_000, holdMs: 1_500, maxSources: 100 } },
  },
});
t.teardown(() => h.close());
const timedOut = errorMessage('KG2001', 'ko');

t.test('a forged LOGIN held past the login time-out still gets its refusal, then the socket closes', async (t) => {
  const token = await h.token();
  const forged = `${token.slice(0, token.lastIndexOf('.'))}.AAAA`;
  const s = await connectBot(h.sidecar.realtimeUrl);
  const reply = await s.login(forged);
  t.match(String(reply.return_msg), /KG2002/, 'the refusal arrives, not the login time-out');
  const closed = await s.closed;
  t.notOk(JSON.stringify(s.frames).includes(timedOut), 'no login time-out frame');
  t.equal(closed.code, 4001, 'closed as a refused LOGIN');
  t.match(closed.reason, /KG2002/, `closed for the refusal, not the time-out: ${closed.reason}`);
  const slowed = await h.sidecar.parts.registry.getSingleMetric('kguard_auth_failures_slowed_total')!.get();
  t.equal(slowed.values[0]?.value, 1, 'the refusal was held (counted as slowed)');
});

t.test('a socket that sends no LOGIN is still closed by the login time-out', async (t) => {
  const s = await connectBot(h.sidecar.realtimeUrl);
  const closed = await s.closed;
  t.match(s.frames, [{ code: 'KG-LOGIN', message: timedOut }], 'told KG2001');
  t.equal(closed.code, 4001, 'closed as a LOGIN not received in time');
});
