// The sequence detector through a real sidecar: a trader's bot whose buys
// came five minutes after its last call (a quote or a balance inquiry) on two
// days buys again the same way (its third order-day), and then two seconds
// after a quote of the name: a lead-in none of its orders had, held for
// approval and named in Korean in the audit record. Its balance read, which
// always came after five quiet minutes, now ten seconds after a quote: held
// the same way. Judged from two days here (the default waits for five), with
// the rate of new lead-ins such a young routine shows.
import t, { type Test } from 'tap';
import { riskContributions } from '../helpers/audit-sidecar-log.js';
import type { Harness } from '../helpers/harness.js';
import { RISK_START, warmTraderHarness } from '../helpers/risk-setups.js';

const CODE = '900108';

type Sent = Awaited<ReturnType<Harness['call']>>;

/**
 * A warm trader whose `call` (a buy, a balance read) always came five quiet minutes after its last call: sent so, it
 * goes out unjudged by sequence; sent `gapMs` after a quote of the name, it is held, its sequence reason `reason`.
 * Returns the sender, for what comes next.
 */
async function routineThenOddLeadIn(t: Test, call: (h: Harness, token: string) => Promise<Sent>, gapMs: number, reason: RegExp) {
  const clock = { now: RISK_START };
  const { h, auditDir, token } = await warmTraderHarness(clock, { bought: CODE, risk: { sequence: { minDays: 2, maxNewRate: 0.5 } } });
  t.teardown(() => h.close());
  const quote = () => h.call('ka10001', { stk_cd: CODE }, { token });
  const judged = async (r: Sent) => riskContributions(auditDir, String(r.headers['x-kguard-request-id']));

  t.equal((await quote()).json.return_code, 0);
  clock.now += 300_000;
  const usual = await call(h, token);
  t.equal(usual.json.return_code, 0, `five quiet minutes after its last call, as always: it goes out (${usual.text})`);
  t.notOk(
    (await judged(usual)).some((c) => c.detector === 'sequence'),
    'its routine',
  );

  clock.now += 300_000;
  t.equal((await quote()).json.return_code, 0);
  clock.now += gapMs;
  const odd = await call(h, token);
  t.match(String(odd.json.return_msg), /\[KG3004:/, `held for approval: ${odd.text}`);
  const [sequence] = (await judged(odd)).filter((c) => c.detector === 'sequence');
  t.match(sequence, { score: 1, weight: 0.75, reason });
  return { clock, send: () => call(h, token) };
}

t.test('an order after a lead-in the bot never had is held through the sidecar; its routine one goes out', async (t) => {
  await routineThenOddLeadIn(
    t,
    (h, token) => h.call('kt10000', { dmst_stex_tp: 'KRX', stk_cd: CODE, ord_qty: '10', ord_uv: '1000', trde_tp: '0' }, { token }),
    2_000,
    /^같은 종목 시세 조회 후 5초 미만에 나온 주문: 주문한 3일, 학습된 주문 21건 중 이런 순서는 없음 .*평소: 1분~10분 호출 없이 100%$/,
  );
});

t.test('an account read after a lead-in the bot never had is held through the sidecar; sent again at once, held again', async (t) => {
  const { clock, send } = await routineThenOddLeadIn(
    t,
    (h, token) => h.call('kt00018', { qry_tp: '1', dmst_stex_tp: 'KRX' }, { token }),
    10_000,
    /^시세 조회 후 5초~1분 사이에 나온 계좌 조회: 계좌를 조회한 3일, 학습된 계좌 조회 21건 중 이런 순서는 없음 .*평소: 1분~10분 호출 없이 \d+%/,
  );
  clock.now += 2_000;
  const again = await send();
  t.match(String(again.json.return_msg), /\[KG3004:/, `sent again 2 s later without the approval: held again, not its follow-up (${again.text})`);
});
