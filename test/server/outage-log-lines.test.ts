// What a replica logs through an outage of a dependency, on the real sidecar:
// each failure that repeats per call or per sweep is logged once when the
// outage starts, at most once per log.outageReminderMs while it lasts (with a
// count), and once when it ends. Before, an audit sink down logged a line per
// refused call, Redis down a line per broker-session sweep (every
// sweepIntervalMs) and, with readOnlyQueriesWhenDown: allow, a line per store
// operation of every read-only call: a flood of the log pipeline while
// kguard_audit_healthy / kguard_state_up and /readyz said it all along.
import t from 'tap';
import { startHarness, waitFor } from '../helpers/harness.js';
import { breakAuditSink } from '../helpers/audit-sidecar-log.js';
import { startRedis } from '../helpers/redis.js';

const count = (logs: string, msg: string) => logs.split('\n').filter((l) => l.includes(`"msg":"${msg}`)).length;

t.test('audit sink down: one line for the refusals, not one per refused call; one when records are accepted again', async (t) => {
  // Small files: the sink reopens its directory at each rotation, which is what is broken below.
  const h = await startHarness({ config: { audit: { sinks: [{ type: 'file', rotateBytes: 4096 }], sinkRetryMs: 600_000 } } });
  t.teardown(() => h.close());
  const token = await h.token();
  const sink = await breakAuditSink(t, h);
  t.ok(sink.broken, 'the audit sink is down');
  const refusals = 30;
  for (let i = 0; i < refusals; i++) {
    const r = await h.call('ka10001', { stk_cd: '005930' }, { token });
    t.match(String(r.json.return_msg), /KG6001/, `call ${i} refused for the audit`);
  }
  t.equal(count(h.logs(), 'audit record could not be written to any sink; refusing'), 1, `one line for ${refusals} refused calls`);

  await sink.restore();
  await h.sidecar.parts.auditor.health().catch(() => undefined); // what /readyz does: reopens a sink that is back
  await waitFor(async () => (await h.call('ka10001', { stk_cd: '005930' }, { token })).json.return_code === 0, 20_000, 'calls go through again');
  t.equal(count(h.logs(), 'audit records accepted again'), 1, 'the end of the refusals is logged once');
  t.match(h.logs(), /"failures":\d+.*"msg":"audit records accepted again"|"msg":"audit records accepted again".*"failures":\d+/, 'with the count');
});

t.test('Redis down: one line for the failing sweeps and for the read-only fallback, not one per sweep or per call', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.cleanup());
  const h = await startHarness({
    config: {
      state: { backend: 'redis', redis: { url: redis.url, commandTimeoutMs: 2_000, maxReconnectDelayMs: 100, readOnlyQueriesWhenDown: 'allow' } },
      brokerTokens: { sweepIntervalMs: 100 },
      risk: { enabled: false },
    },
  });
  t.teardown(() => h.close());
  const token = await h.token();
  t.equal((await h.call('ka10001', { stk_cd: '005930' }, { token })).json.return_code, 0, 'a quote while Redis is up');
  const sweepsBefore = count(h.logs(), 'broker session sweep failed');

  await redis.kill();
  let sweeps = 0;
  const sessions = h.sidecar.parts.brokerSessions as unknown as { sweep(): Promise<number> };
  const calls: string[] = [];
  // Many sweeps (each fails: Redis is down) and many read-only calls judged on local state.
  for (let i = 0; i < 20; i++) {
    await sessions.sweep();
    sweeps++;
    const r = await h.call('ka10001', { stk_cd: '005930' }, { token });
    calls.push(String(r.json.return_code));
  }
  t.comment(`quotes during the outage answered ${[...new Set(calls)].join(', ')}`);
  const logs = h.logs();
  t.equal(count(logs, 'broker session sweep failed') - sweepsBefore, 1, `one sweep line for ${sweeps}+ failed sweeps`);
  t.equal(count(logs, 'redis state connection lost'), 1, 'one connection line');
  const fallback = count(logs, 'shared state unavailable: read-only call');
  t.ok(fallback <= 2, `at most one line each for the fallback and its refusals over 20 calls (${fallback})`);

  await redis.restart();
  await waitFor(() => count(h.logs(), 'broker session sweeps work again') === 1, 30_000, 'a sweep works again and says so');
  t.equal(count(h.logs(), 'redis state connection restored'), 1, 'the connection is back, once');
});
