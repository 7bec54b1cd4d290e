// The network detector through a real sidecar: a trader's bot that always ran
// from 127.0.0.1 places an order from 127.0.0.2 (a new address in the network
// it used, 127.0.0.0/16: a moved pod) and from 127.1.0.1 (a network it never
// used). Loopback is all of 127/8, so the client picks its source address.
import t from 'tap';
import { Agent } from 'undici';
import { riskContributions } from '../helpers/audit-sidecar-log.js';
import { RISK_START, warmTraderHarness } from '../helpers/risk-setups.js';

const CODE = '900107';

t.test('an order from a network the bot never used is held and named in Korean; a new address in its own is not', async (t) => {
  const { h, auditDir, token } = await warmTraderHarness({ now: RISK_START }, { bought: CODE });
  const moved = new Agent({ localAddress: '127.0.0.2' });
  const away = new Agent({ localAddress: '127.1.0.1' });
  t.teardown(async () => {
    await moved.close();
    await away.close();
    await h.close();
  });
  const buy = (dispatcher: Agent) =>
    h.call('kt10000', { dmst_stex_tp: 'KRX', stk_cd: CODE, ord_qty: '10', ord_uv: '1000', trde_tp: '0' }, { token, dispatcher });
  const judged = async (r: Awaited<ReturnType<typeof buy>>) => riskContributions(auditDir, String(r.headers['x-kguard-request-id']));

  const near = await buy(moved);
  t.equal(near.json.return_code, 0, `a moved pod's order goes out: ${near.text}`);
  const nearFlags = (await judged(near)).map((c) => c.detector);
  t.ok(nearFlags.includes('location'), `a new address (${nearFlags.join(', ')})`);
  t.notOk(nearFlags.includes('network'), 'in the network it always used');

  const far = await buy(away);
  t.match(String(far.json.return_msg), /\[KG3004:/, `held for approval: ${far.text}`);
  const [network] = (await judged(far)).filter((c) => c.detector === 'network');
  t.match(network, { score: 1, weight: 0.5, reason: '이 봇이 쓴 적 없는 네트워크 127.1.0.0/16에서의 주문 (다른 네트워크 1개)' });
});
