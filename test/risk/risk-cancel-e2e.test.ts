// cancel_storm through a real sidecar and the simulator (issue 17): modifies
// of order numbers the account never had are rejected by the broker; the
// after-stage reports them (outcome not ok), and from the tenth rejected in a
// minute the next modify is held for approval, cancel_storm naming the rejections.
import t from 'tap';
import { seoulToEpoch } from '../../proxy/risk/index.js';
import { waitForRequestRecords } from '../helpers/audit-sidecar-log.js';
import { waitFor, type CallResult, type Harness } from '../helpers/harness.js';
import { warmRiskHarness } from '../helpers/risk-setups.js';

const code = (r: CallResult): string | undefined => /\[(KG\d{4})/.exec(String(r.json.return_msg ?? ''))?.[1];

const clock = { now: seoulToEpoch('2026-01-05', 10, 0) }; // Monday 10:00 Seoul
let h: Harness;
let auditDir: string;

t.before(async () => {
  ({ h, auditDir } = await warmRiskHarness(clock));
});
t.teardown(async () => {
  await h?.close();
});

t.test('modifies of orders the account never had: rejected by the broker, then held on cancel_storm', async (t) => {
  const token = await h.token();
  const results: CallResult[] = [];
  for (let k = 0; k < 11; k++) {
    clock.now = seoulToEpoch('2026-01-07', 10, 0) + k * 3_000;
    const body = { dmst_stex_tp: 'KRX', orig_ord_no: String(9_100_000 + k), stk_cd: '005930', mdfy_qty: '1', mdfy_uv: '70000' };
    const r = await h.call('kt10002', body, { token });
    results.push(r);
    // The after-stages run once the bot has its answer: a bot's next modify seconds later finds this one counted.
    const key = `risk:cxlrej:${h.botId}:${Math.floor(clock.now / 60_000)}`;
    if (k < 10) await waitFor(async () => Number((await h.sidecar.parts.store.get(key)) ?? 0) >= k + 1, 20_000, `rejection ${k + 1} counted`);
  }
  const first = results.slice(0, 10);
  t.same(
    first.map(code),
    first.map(() => undefined),
    'the first ten go out (no guard code)',
  );
  t.ok(
    first.every((r) => r.json.return_code !== 0),
    'and the broker rejects each',
  );
  const held = results[10]!;
  t.equal(code(held), 'KG3004', `the eleventh is held for approval: ${held.text}`);
  const id = String(held.headers['x-kguard-request-id']);
  const recs = await waitForRequestRecords(auditDir, [id], (rs) => rs.some((x) => x.type === 'call.intent'));
  const intent = recs.find((x) => x.type === 'call.intent' && x.data.requestId === id)!;
  const risk = intent.data.risk as { contributions: { detector: string; reason: string }[] };
  const storm = risk.contributions.find((c) => c.detector === 'cancel_storm');
  t.ok(storm, 'cancel_storm in the decision record');
  t.match(storm?.reason, /그중 증권사가 거부한 것 10건/, 'named in Korean, the default language');
});
