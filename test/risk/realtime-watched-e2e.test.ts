// A bot that watches its names over the WebSocket (REG 0B) has looked at them,
// as one that quotes them over REST has: through a real sidecar, its first
// order in a name it registered is a fresh name's (0.6, goes out), where an
// order in a name it never registered nor quoted is a new name's and is held.
// Which REG items are stocks: registrationRiskInput.
import path from 'node:path';
import t from 'tap';
import { registrationRiskInput } from '../../proxy/server/realtime-risk.js';
import { riskContributions } from '../helpers/audit-sidecar-log.js';
import { FIXTURES } from '../helpers/harness.js';
import { RISK_START, warmTraderHarness } from '../helpers/risk-setups.js';
import { connectBot } from '../realtime/ws-client.js';

const BOUGHT = '900107';
const WATCHED = '900108';
const UNSEEN = '900109';

t.test('a name registered over the WebSocket is a fresh name at its first order, not a new one', async (t) => {
  const clock = { now: RISK_START };
  const { h, auditDir, token } = await warmTraderHarness(clock, {
    bought: BOUGHT,
    allowed: ['kind:query', 'kind:account', 'kind:order', 'kind:realtime'],
    policyFile: path.join(FIXTURES, 'policy-realtime.yaml'),
  });
  t.teardown(() => h.close());
  h.sim.setQuote(WATCHED, 1_000);
  h.sim.setQuote(UNSEEN, 1_000);
  const ws = await connectBot(h.sidecar.realtimeUrl);
  t.teardown(() => ws.close());
  t.equal((await ws.login(token)).return_code, 0, 'LOGIN');
  ws.send({ trnm: 'REG', grp_no: '1', refresh: '1', data: [{ item: [WATCHED], type: ['0B'] }] });
  const ack = await ws.next((f) => f.trnm === 'REG', 'REG ack');
  t.equal(ack.return_code, 0, `REG 0B: ${JSON.stringify(ack)}`);

  const buy = (code: string) => h.call('kt10000', { dmst_stex_tp: 'KRX', stk_cd: code, ord_qty: '10', ord_uv: '1000', trde_tp: '0' }, { token });
  clock.now += 60_000;
  const watched = await buy(WATCHED);
  t.equal(watched.json.return_code, 0, `the registered name's order goes out: ${watched.text}`);
  const [fresh] = await riskContributions(auditDir, String(watched.headers['x-kguard-request-id']), 'new_symbol');
  t.match(fresh, { score: 0.6, reason: `1분 전에 처음 보고 주문한 적 없는 종목 ${WATCHED}의 주문` }, 'a fresh name: seen a minute ago (the REG)');

  const unseen = await buy(UNSEEN);
  t.match(String(unseen.json.return_msg), /\[KG3004:/, `a name it never registered nor quoted is held: ${unseen.text}`);
  const [novel] = await riskContributions(auditDir, String(unseen.headers['x-kguard-request-id']), 'new_symbol');
  t.match(novel, { score: 1, reason: `이 봇이 거래하거나 조회한 적 없는 종목 ${UNSEEN}의 주문` });
});

t.test('the stocks of a REG: not account feeds, sectors, gold or the market clock; each once', async (t) => {
  const bot = { id: 'b1', account: 'a1' };
  const input = registrationRiskInput(
    bot,
    [
      { type: '0B', item: '005930' },
      { type: '0D', item: '005930' },
      { type: '0H', item: '000660_NX' },
      { type: '00', item: '' },
      { type: '0J', item: '001' },
      { type: '0I', item: 'MGD' },
      { type: '0s', item: '' },
      { type: '1h', item: '' },
    ],
    '10.0.0.5',
    1,
  );
  t.same(input, { botId: 'b1', account: 'a1', apiId: 'REG', kind: 'realtime', sourceIp: '10.0.0.5', now: 1, watched: ['005930', '000660_NX'] });
  t.equal(registrationRiskInput(bot, [{ type: '04', item: '' }], '10.0.0.5', 1), undefined, 'account feeds only: nothing to learn');
});
