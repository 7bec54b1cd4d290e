// Review regression (red team): the approval grace says "the owner approved a
// call flagged by these detectors". The engine inferred it from a call that
// scored above step-up and went out — but a realtime condition clear goes out
// at any score below lockdown (the policy is not asked: clearing only narrows
// what the bot receives), and nobody approved it. A trader's bot, from a new
// address in its own network, sends CNSRCLR first (new address, new api-id:
// above step-up, not held); its order from there (new address: above step-up) must still
// be held for the owner, not waved through as "owner approved". (The operator
// here weighs a new address as a step-up on its own: risk.weights.location 0.75.)
import t from 'tap';
import { Agent } from 'undici';
import { riskContributions } from '../helpers/audit-sidecar-log.js';
import { CANARY } from '../helpers/harness.js';
import { RISK_START, warmTraderHarness } from '../helpers/risk-setups.js';
import { connectBot } from '../realtime/ws-client.js';

const CODE = '900131';
const NEW_ADDRESS = '127.0.0.2';

t.test('a condition clear above step-up, never held, opens no approval grace for the order that follows', async (t) => {
  const clock = { now: RISK_START };
  const { h, auditDir, token } = await warmTraderHarness(clock, { bought: CODE, risk: { weights: { location: 0.75 } } });
  const moved = new Agent({ localAddress: NEW_ADDRESS });
  t.teardown(async () => {
    await moved.close();
    await h.close();
  });

  const ws = await connectBot(h.sidecar.realtimeUrl, { localAddress: NEW_ADDRESS });
  t.teardown(() => ws.close());
  t.equal((await ws.login(token)).return_code, 0, 'logged in from the new address');
  ws.send({ trnm: 'CNSRCLR', seq: '1' });
  const cleared = await ws.next((f) => f.trnm === 'CNSRCLR', 'the clear');
  t.equal(cleared.return_code, 0, `the clear goes out, unheld: ${JSON.stringify(cleared)}`);

  clock.now += 60_000;
  const order = await h.call('kt10000', { dmst_stex_tp: 'KRX', stk_cd: CODE, ord_qty: '10', ord_uv: '1000', trde_tp: '0' }, { token, dispatcher: moved });
  const judged = await riskContributions(auditDir, String(order.headers['x-kguard-request-id']));
  t.same(judged.map((c) => c.detector).sort(), ['location'], `the order is flagged for the new address: ${JSON.stringify(judged)}`);
  t.notMatch(JSON.stringify(judged), /승인함|owner approved/, 'no approval is claimed for it');
  t.equal(order.status, 202, `held for the owner: ${order.text}`);
  t.notOk(
    h.sim.orders(CANARY.account).some((o) => o.stkCd === CODE && o.ordNo > '0000020'),
    'the order did not reach the broker',
  );
});
