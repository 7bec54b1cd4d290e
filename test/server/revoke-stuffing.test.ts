// A wrong bot secret counts towards the credential-stuffing detector whichever
// drop-in endpoint it was presented to: /oauth2/revoke takes appkey +
// secretkey exactly as /oauth2/token does, so secrets guessed there must be
// counted too, or an attacker tries bots' secrets through revoke unseen and
// the next correct secret from the same address is not stepped up.
import t from 'tap';
import { Agent } from 'undici';
import { seoulToEpoch } from '../../proxy/risk/index.js';
import { CANARY, startHarness, type CallResult } from '../helpers/harness.js';

const code = (r: CallResult): string | undefined => /\[(KG\d{4})/.exec(String(r.json.return_msg ?? ''))?.[1];
const NOW = seoulToEpoch('2026-01-06', 10, 30); // Tuesday 10:30 Seoul: in session
const VICTIMS = 3;
const ATTACKER = '127.0.0.2';
const BUY = { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '70000', trde_tp: '0' };

t.test('wrong secrets at /oauth2/revoke are counted: the next correct secret from that address is stepped up', async (t) => {
  const h = await startHarness({ clock: () => NOW, config: { approval: { mode: 'pending' }, risk: { stuffing: { minBots: VICTIMS } } } });
  const attacker = new Agent({ localAddress: ATTACKER });
  t.teardown(async () => {
    await attacker.close();
    await h.close();
  });
  for (let i = 0; i < VICTIMS; i++) await h.sidecar.parts.bots.add({ id: `victim-${i}`, owner: `owner-${i}`, account: `66660000${10 + i}` });
  const someToken = await h.token();
  for (let i = 0; i < VICTIMS; i++) {
    const body = JSON.stringify({ appkey: `victim-${i}`, secretkey: `wrong-${i}-${'9f8e7d6c'.repeat(5)}`, token: someToken });
    const r = await h.post('/oauth2/revoke', body, {}, attacker);
    t.equal(code(r), 'KG2005', `victim-${i}: wrong secret refused at revoke`);
  }
  const token = await h.token(attacker);
  const r = await h.call('kt10000', BUY, { token, dispatcher: attacker });
  t.equal(code(r), 'KG3004', `the order from the stuffing address is held for approval: ${r.text}`);
  t.equal(h.sim.orders(CANARY.account).filter((o) => o.side === 'buy').length, 0, 'nothing reached the simulator');
});
