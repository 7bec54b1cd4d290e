// Review regression (an operator's): the start-up line said "kiwoom-guard ready" even when the replica was not:
// started during a Redis outage, /readyz answered 503 (state: KG7001) and every call was refused, while the log
// said ready. Now the line says ready only when /readyz does; otherwise a warning names the checks that fail.
import t from 'tap';
import { startHarness } from '../helpers/harness.js';

const lines = (text: string) =>
  text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

t.test('ready: the line says so', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  t.ok(
    lines(h.logs()).some((l) => l.msg === 'kiwoom-guard ready'),
    'kiwoom-guard ready',
  );
});

t.test('not ready (no Redis at start): a warning naming the failing check, never "ready"', async (t) => {
  // Port 1 (tcpmux): nothing listens there, so the connection is refused. A free port picked at random could be
  // taken by another test's Redis before the sidecar connects, and this replica would then be ready.
  const h = await startHarness({ config: { state: { backend: 'redis', redis: { url: 'redis://127.0.0.1:1', commandTimeoutMs: 300 } } } });
  t.teardown(() => h.close());
  const logged = lines(h.logs());
  t.notOk(
    logged.some((l) => l.msg === 'kiwoom-guard ready'),
    'no "ready" line',
  );
  const started = logged.find((l) => String(l.msg).startsWith('kiwoom-guard started, not ready'));
  t.ok(started, 'a "started, not ready" line');
  t.equal(started?.level, 'warn', 'at warn');
  t.match(started?.notReady, [/^state: KG7001/], 'naming the check and why');
  const r = await fetch(`${h.adminUrl}/readyz`);
  t.equal(r.status, 503, 'as /readyz says');
});
