// Review regression (red team): the approval grace says "the owner approved a
// call flagged by these detectors". The engine inferred it from a call that
// scored above step-up and went out — but a realtime condition clear goes out
// at any score below lockdown (the policy is not asked: clearing only narrows
// what the bot receives), and nobody approved it. A trader's bot sends CNSRCLR,
// an api-id it never used (above step-up: the operator here weighs a new api-id
// as a step-up on its own, risk.weights.new_api 0.75; not held); its first
// cancel, another api-id it never used (above step-up), must still be held for
// the owner, not waved through as "owner approved". (It was told from a new address
// once; a realtime LOGIN above step-up is now refused, so the socket is the
// bot's own.)
import t from 'tap';
import { riskContributions } from '../helpers/audit-sidecar-log.js';
import { RISK_START, warmTraderHarness } from '../helpers/risk-setups.js';
import { connectBot } from '../realtime/ws-client.js';

const CODE = '900131';

t.test('a condition clear above step-up, never held, opens no approval grace for the call that follows', async (t) => {
  const clock = { now: RISK_START };
  const { h, auditDir, token } = await warmTraderHarness(clock, { bought: CODE, risk: { weights: { new_api: 0.75 } } });
  t.teardown(() => h.close());

  const ws = await connectBot(h.sidecar.realtimeUrl);
  t.teardown(() => ws.close());
  t.equal((await ws.login(token)).return_code, 0, 'logged in');
  ws.send({ trnm: 'CNSRCLR', seq: '1' });
  const cleared = await ws.next((f) => f.trnm === 'CNSRCLR', 'the clear');
  t.equal(cleared.return_code, 0, `the clear goes out, unheld: ${JSON.stringify(cleared)}`);

  clock.now += 60_000;
  const cancel = await h.call('kt10003', { dmst_stex_tp: 'KRX', orig_ord_no: '0000001', stk_cd: CODE, cncl_qty: '0' }, { token });
  const judged = await riskContributions(auditDir, String(cancel.headers['x-kguard-request-id']));
  t.ok(
    judged.some((c) => c.detector === 'new_api'),
    `the cancel is flagged for its new api-id: ${JSON.stringify(judged)}`,
  );
  t.notMatch(JSON.stringify(judged), /승인함|owner approved/, 'no approval is claimed for it');
  t.equal(cancel.status, 202, `held for the owner: ${cancel.text}`);
  t.notOk(
    h.sim.requestLog().some((r) => r.apiId === 'kt10003'),
    'the cancel did not reach the broker',
  );
});
