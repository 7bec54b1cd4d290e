// Kiwoom unreachable: every bot call is answered KG5001 in Kiwoom's shape, and
// /readyz said all green (every check ok). It stays 200 (every replica shares
// the one upstream: taking them out of the Service would only swap a clear
// refusal for connection errors), but it now names the upstream as a warning
// with the error and since when, and says nothing once Kiwoom answers again.
import t from 'tap';
import { request } from 'undici';
import { startSimulator } from '../../proxy/sim/index.js';
import { startHarness, waitFor } from '../helpers/harness.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';

const sim = await startSimulator({});
t.teardown(() => sim.close());
const proxy = await startTcpProxy(Number(new URL(sim.url).port));
t.teardown(() => proxy.close());
const h = await startHarness({ simulator: sim, config: { upstream: { url: `http://127.0.0.1:${proxy.port}` }, risk: { enabled: false } } });
t.teardown(() => h.close());

const readyz = async () => {
  const r = await request(`${h.adminUrl}/readyz`);
  return {
    status: r.statusCode,
    body: (await r.body.json()) as { ready: boolean; checks: Record<string, { ok: boolean; reason?: string; severity?: string }> },
  };
};

t.test('Kiwoom refusing connections: /readyz names it (warning, still 200); clear once it answers', async (t) => {
  const token = await h.token();
  t.equal((await h.call('ka10001', { stk_cd: '005930' }, { token })).json.return_code, 0, 'a quote while Kiwoom answers');
  t.match(await readyz(), { status: 200, body: { checks: { upstream: { ok: true } } } });

  proxy.setRefusing(true);
  const r = await h.call('ka10001', { stk_cd: '005930' }, { token });
  t.match(String(r.json.return_msg), /KG500[12]/, `the call is refused in Kiwoom's shape: ${r.text.slice(0, 120)}`);
  const down = await readyz();
  t.equal(down.status, 200, 'still 200: every replica shares the upstream');
  t.match(
    down.body.checks.upstream,
    { ok: false, severity: 'warn', reason: /^KG500[12].*no answer since \d{4}-\d\d-\d\dT.*requests failed/ },
    'the upstream named, with since when',
  );

  proxy.setRefusing(false);
  await waitFor(async () => (await h.call('ka10001', { stk_cd: '005930' }, { token })).json.return_code === 0, 30_000, 'a quote goes through again');
  t.match(await readyz(), { status: 200, body: { checks: { upstream: { ok: true } } } }, 'clear again');
});
