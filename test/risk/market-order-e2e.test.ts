// An order at the market has no price of its own. For a name the bot's last
// balance read does not hold, the risk stage prices it at the policy's
// reference price: a quote (ka10001) the sidecar fetches from the simulator
// once, shared with the policy's notional rule. A bot that always bought ten
// shares at 1,000 KRW and now buys ten at 500,000 at the market is far above
// anything it ever bought in KRW; by quantity alone it is not.
import t, { type Test } from 'tap';
import { riskContributions } from '../helpers/audit-sidecar-log.js';
import { RISK_START, warmTraderHarness } from '../helpers/risk-setups.js';

const CHEAP = '900107';
const DEAR = '900114';

async function setUp(t: Test, risk: Record<string, unknown> = {}) {
  const { h, auditDir, token } = await warmTraderHarness({ now: RISK_START }, { bought: CHEAP, others: { [DEAR]: 500_000 }, risk });
  t.teardown(() => h.close());
  const marketBuy = () => h.call('kt10000', { dmst_stex_tp: 'KRX', stk_cd: DEAR, ord_qty: '10', ord_uv: '', trde_tp: '3' }, { token });
  const sizeOf = (requestId: string) => riskContributions(auditDir, requestId, 'order_size');
  const quotes = () => h.sim.requestLog().filter((r) => r.apiId === 'ka10001').length;
  return { marketBuy, sizeOf, quotes };
}

t.test('a market buy of an unheld name is sized in KRW at the quote the policy also uses: one broker call', async (t) => {
  const { marketBuy, sizeOf, quotes } = await setUp(t);
  const before = quotes();
  const r = await marketBuy();
  t.match(String(r.json.return_msg), /\[KG3004:/, `held for approval above step-up: ${r.text}`);
  const [size] = await sizeOf(String(r.headers['x-kguard-request-id']));
  t.match(size, { score: 1, reason: /5,000,000/ }, 'named by order size, in KRW');
  t.equal(quotes() - before, 1, "one quote of the name: the risk stage's, reused by the policy's notional rule");
});

t.test('orderSize.quoteMarketOrders false: judged by quantity alone, as its usual ten shares', async (t) => {
  const { marketBuy, sizeOf } = await setUp(t, { orderSize: { quoteMarketOrders: false } });
  const r = await marketBuy();
  t.equal(r.json.return_code, 0, `it goes out: ${r.text}`);
  t.same(await sizeOf(String(r.headers['x-kguard-request-id'])), [], 'no size finding without a price');
});
