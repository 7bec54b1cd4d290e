// An order at the market has no price of its own. For a name the bot's last
// balance read does not hold, the risk stage prices it at the policy's
// reference price: a quote (ka10001) the sidecar fetches from the simulator
// once, shared with the policy's notional rule. A bot that always bought ten
// shares at 1,000 KRW and now buys ten at 500,000 at the market is far above
// anything it ever bought in KRW; by quantity alone it is not.
import t, { type Test } from 'tap';
import { parseAuditConfig } from '../../proxy/audit/index.js';
import { seoulToEpoch } from '../../proxy/risk/index.js';
import { readAuditRecords, recordsFor } from '../helpers/audit-sidecar-log.js';
import { startHarness, waitFor } from '../helpers/harness.js';
import { RISK_START } from '../helpers/risk-setups.js';

const CHEAP = '900107';
const DEAR = '900114';

async function setUp(t: Test, risk: Record<string, unknown> = {}) {
  const clock = { now: RISK_START };
  const h = await startHarness({ clock: () => clock.now, sim: { ideal: true }, config: { approval: { mode: 'pending' }, upstream: { limits: 'off' }, risk } });
  t.teardown(() => h.close());
  const auditDir = parseAuditConfig({}, h.dataDir).sinks.find((s) => s.type === 'file')!.dir;
  h.sim.setQuote(CHEAP, 1_000);
  h.sim.setQuote(DEAR, 500_000);
  const token = await h.token();
  // Two days of a bot that reads its balance, quotes both names and buys ten shares of the cheap one at
  // 1,000 KRW: the envelope of its buys is ten shares, 10,000 KRW.
  for (const day of ['2026-01-05', '2026-01-06']) {
    for (let i = 0; i < 30; i++) {
      clock.now = seoulToEpoch(day, 10, 0) + i * 5 * 60_000;
      const r =
        i % 3 === 0
          ? await h.call('kt00018', { qry_tp: '1', dmst_stex_tp: 'KRX' }, { token })
          : i % 3 === 1
            ? await h.call('ka10001', { stk_cd: i % 2 === 0 ? CHEAP : DEAR }, { token })
            : await h.call('kt10000', { dmst_stex_tp: 'KRX', stk_cd: CHEAP, ord_qty: '10', ord_uv: '1000', trde_tp: '0' }, { token });
      if (r.json.return_code !== 0) throw new Error(`warm-up call refused: ${r.text}`);
    }
  }
  await waitFor(
    async () =>
      ((JSON.parse((await h.sidecar.parts.store.get('risk:baseline:bot-e2e')) ?? '{}') as { buyEnvelope?: { orders: number } }).buyEnvelope?.orders ?? 0) >= 20,
    10_000,
    'twenty buys learned',
  );
  clock.now = seoulToEpoch('2026-01-07', 10, 0);
  const marketBuy = () => h.call('kt10000', { dmst_stex_tp: 'KRX', stk_cd: DEAR, ord_qty: '10', ord_uv: '', trde_tp: '3' }, { token });
  const sizeOf = async (requestId: string) => {
    let intent: Record<string, unknown> | undefined;
    await waitFor(
      async () =>
        (intent = recordsFor(await readAuditRecords(auditDir), requestId).find((x) => x.type === 'call.intent')?.data as Record<string, unknown>) !== undefined,
      10_000,
      'intent record',
    );
    const risk = intent!.risk as { contributions: { detector: string; score: number; reason: string }[] } | undefined;
    return (risk?.contributions ?? []).filter((c) => c.detector === 'order_size');
  };
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
  t.same(await sizeOf(String(r.headers['x-kguard-request-id'])), [], 'no size finding without a price');
});
