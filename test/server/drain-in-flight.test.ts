// Shutdown (SIGTERM: sidecar.close()) while an order is with Kiwoom: the
// order was sent and cannot be un-sent, so the bot must get Kiwoom's answer,
// the outcome must reach the audit log before the auditor closes, and the
// key's broker token must be revoked once the call ends. Meanwhile no new call
// is taken, and the admin port still answers (/readyz names the shutdown,
// /metrics shows the drain) until the calls are done.
import path from 'node:path';
import t from 'tap';
import { request } from 'undici';
import { startSimulator, type Simulator } from '../../proxy/sim/index.js';
import { readAuditRecords, recordsFor } from '../helpers/audit-sidecar-log.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { holdAnswers, startHostileUpstream, type HostileUpstream } from '../helpers/hostile-upstream.js';

let sim: Simulator;
let up: HostileUpstream;
let h: Harness;

t.before(async () => {
  sim = await startSimulator();
  up = await startHostileUpstream(sim.url);
  // Kiwoom's answer is held while the test checks the drain; on a loaded machine that takes longer than the harness's
  // 2 s upstream time-outs, which would end the order KG5011 instead of answering it.
  h = await startHarness({ simulator: sim, config: { upstream: { url: up.url, headersTimeoutMs: 60_000, bodyTimeoutMs: 60_000 } } });
});
t.teardown(async () => {
  await h.close().catch(() => undefined);
  await up.close();
  await sim.close();
});

const BUY = { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '70000', trde_tp: '0' };

t.test('an order mid-forward when shutdown starts is answered, audited, and its token revoked', async (t) => {
  const token = await h.token();
  // Kiwoom placed it; its answer is held back until the test lets it go.
  const gate = holdAnswers(up, 'kt10000');
  const order = h.call('kt10000', BUY, { token });
  await gate.waiting;
  const closing = h.sidecar.close();
  // The listener stops taking calls at once (refused, or the port closed).
  const late = await request(`${h.url}/api/dostk/mrkcond`, {
    method: 'POST',
    headers: { 'content-type': 'application/json;charset=UTF-8', 'api-id': 'ka10001', authorization: `Bearer ${token}` },
    body: JSON.stringify({ stk_cd: '005930' }),
  }).then(
    async (r) => ({ status: r.statusCode, text: await r.body.text() }),
    (err: Error) => ({ status: 0, text: err.message }),
  );
  t.not(late.status, 200, `a call arriving during the drain is not taken (${late.status} ${late.text.slice(0, 120)})`);
  // The admin port stays up while calls drain: probes see why, Prometheus sees the drain, operators can still act.
  const admin = async (p: string) =>
    request(`${h.adminUrl}${p}`).then(
      async (r) => ({ status: r.statusCode, text: await r.body.text() }),
      (err: Error) => ({ status: 0, text: err.message }),
    );
  const ready = await admin('/readyz');
  t.equal(ready.status, 503, `/readyz during the drain: ${ready.text.slice(0, 160)}`);
  t.match(ready.text, /"shutdown":\{"ok":false,"reason":"KG9002/, 'naming the shutdown');
  t.equal((await admin('/healthz')).status, 200, '/healthz during the drain');
  t.match((await admin('/metrics')).text, /kguard_requests_total/, '/metrics during the drain');
  gate.release();
  const r = await order;
  t.equal(r.json.return_code, 0, `the order in flight is answered with Kiwoom's answer: ${r.text.slice(0, 160)}`);
  t.ok(r.json.ord_no, 'with its order number');
  await closing;
  const id = String(r.headers['x-kguard-request-id']);
  const records = recordsFor(await readAuditRecords(path.join(h.dataDir, 'audit')), id);
  t.ok(
    records.some((x) => x.type === 'call.intent'),
    'intent audited',
  );
  t.ok(
    records.some((x) => x.type === 'call.outcome'),
    `outcome audited before the auditor closed (${records.map((x) => x.type).join(', ')})`,
  );
  await h.waitNoLiveTokens(10_000);
  t.pass('no broker token left live at Kiwoom');
});
