// A buy judged against the symbol's average daily volume, learned from a
// daily chart (ka10081) a bot fetched through the sidecar from the simulator:
// a buy of 10 % of a thin name's volume is draining into an illiquid stock
// (drain, risk.pattern.illiquidAdvFraction 5 %) and says so in the audit
// record; 1 % is not; a name nobody charted is not judged on volume at all.
import path from 'node:path';
import t from 'tap';
import { seoulDay } from '../../proxy/common/kst.js';
import { readAuditRecords, recordsFor, riskContributions } from '../helpers/audit-sidecar-log.js';
import { startHarness, waitFor } from '../helpers/harness.js';
import { RISK_START } from '../helpers/risk-setups.js';

const THIN = '900107';
const UNCHARTED = '900114';

t.test('a buy of 10% of a thin name’s daily volume is named by drain; 1% is not; an uncharted name is not judged', async (t) => {
  // Inside market hours (Monday 10:00 Seoul), whatever the wall clock says: an order after hours scores on session too.
  const now = RISK_START + 3_600_000;
  const h = await startHarness({ clock: () => now, config: { approval: { mode: 'pending' }, upstream: { limits: 'off' } } });
  t.teardown(() => h.close());
  for (const code of [THIN, UNCHARTED]) {
    h.sim.setQuote(code, 1_000);
    h.sim.setVolume(code, 20_000);
  }
  const token = await h.token();
  const chart = await h.call('ka10081', { stk_cd: THIN, base_dt: seoulDay(now), upd_stkpc_tp: '1' }, { token });
  t.equal(chart.json.return_code, 0, chart.text);
  t.equal((chart.json.stk_dt_pole_chart_qry as unknown[]).length, 600, "a page of Kiwoom's: 600 daily rows");
  t.ok(chart.text.length > 64 * 1024, `over the 64 KB the outcome stage reads (${chart.text.length} bytes): the volume is still learned`);
  const learned = async () => Number(await h.sidecar.parts.store.get(`risk:adv:${THIN}`));
  await waitFor(async () => (await learned()) > 0, 10_000, 'the daily volume learned');
  // The simulator's days lie within ±30 % of 20,000 shares.
  const adv = await learned();
  t.ok(adv >= 14_000 && adv <= 26_000, `average daily volume ${adv}`);
  // A large answer completed OK like any other: its outcome says so, and the bot's baseline learned the call.
  const dir = path.join(h.dataDir, 'audit');
  const chartId = String(chart.headers['x-kguard-request-id']);
  let outcome: Record<string, unknown> | undefined;
  await waitFor(
    async () =>
      (outcome = recordsFor(await readAuditRecords(dir), chartId).find((x) => x.type === 'call.outcome')?.data as Record<string, unknown>) !== undefined,
    10_000,
    'outcome record',
  );
  t.match(outcome, { ok: true, returnCode: 0 }, 'the outcome of a 600-day chart');
  await waitFor(
    async () => 'ka10081' in ((JSON.parse((await h.sidecar.parts.store.get('risk:baseline:bot-e2e')) ?? '{}') as { apis?: object }).apis ?? {}),
    10_000,
    'the chart call learned into the baseline',
  );

  const buy = (code: string, qty: number) =>
    h.call('kt10000', { dmst_stex_tp: 'KRX', stk_cd: code, ord_qty: String(qty), ord_uv: '1000', trde_tp: '0' }, { token });
  const drainOf = (r: Awaited<ReturnType<typeof buy>>) => riskContributions(dir, String(r.headers['x-kguard-request-id']), 'drain');
  t.same(await drainOf(await buy(THIN, Math.round(adv / 100))), [], '1% of the daily volume is not draining');
  const big = await buy(THIN, Math.round(adv / 10));
  t.match(String(big.json.return_msg), /\[KG3004:/, `held for approval above step-up: ${big.text}`);
  const [hit] = await drainOf(big);
  t.match(hit, { score: 1, reason: /^매수 \d+주: 종목 일 거래량의 10% \(유동성 부족\)$/ }, 'named in the audit record, in Korean');
  t.same(await drainOf(await buy(UNCHARTED, 2_000)), [], 'no chart, no volume: not judged on it');
});
