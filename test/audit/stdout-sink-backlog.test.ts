// The stdout sink when stdout's reader stalls (a log shipper that stopped reading): every record waited in
// memory, each append timed out after audit.sinkTimeoutMs, and the sink still said it was up, so /readyz
// stayed green while calls were refused one timeout at a time and the backlog grew without bound. Past
// maxPendingBytes the sink is down (records refused at once, /readyz says why) and comes back once the
// reader has caught up.
import { PassThrough } from 'node:stream';
import t from 'tap';
import { auditEnv } from '../helpers/audit-env.js';

t.test('a stalled stdout takes the sink down past maxPendingBytes, and it comes back', async (t) => {
  const env = await auditEnv({ sinks: [{ type: 'stdout', maxPendingBytes: 64 * 1024 }], sinkTimeoutMs: 50 });
  t.teardown(env.cleanup);
  // Nobody reads: past its small buffers every write waits.
  const out = new PassThrough({ highWaterMark: 1024 });
  const a = await env.open({ stdout: out });
  const note = 'x'.repeat(400);
  const results = await Promise.allSettled(Array.from({ length: 400 }, (_, i) => a.append({ type: 'decision', requestId: `r${i}`, note })));
  t.ok(
    results.some((r) => r.status === 'rejected'),
    'records were refused',
  );
  t.ok(out.writableLength <= 64 * 1024 + 4096, `the backlog stayed bounded (${out.writableLength} bytes)`);
  await t.rejects(a.health(), /not keeping up/, '/readyz says the sink is down and why');
  t.same(
    a.status().map((s) => [s.id, s.up]),
    [['stdout', false]],
  );
  // The reader catches up: the sink is back.
  out.resume();
  await new Promise((r) => setImmediate(r));
  await a.health();
  const ack = await a.append({ type: 'decision', requestId: 'after', note: 'y' });
  t.equal(ack.sink, 'stdout', 'records are taken again');
});
