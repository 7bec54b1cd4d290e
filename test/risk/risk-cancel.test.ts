// cancel_storm on what the broker answers: modifies and cancels it rejects
// (order numbers the bot never received) count toward the storm on their
// own, from cancelStormRejectedPerMinute a minute; the same calls accepted
// stay under the rate threshold and score nothing.
import t from 'tap';
import type { RiskAssessment, RiskInput } from '../../proxy/risk/index.js';
import { RISK_START, riskEngineSetup, riskInput } from '../helpers/risk-setups.js';

const DAY = 86_400_000;
const START = RISK_START;

const setup = riskEngineSetup;
const base = riskInput;
const modify = (now: number): RiskInput => base({ now, apiId: 'kt10002', kind: 'modify', qty: 20, price: 70_000 });
const storm = (a: RiskAssessment) => a.contributions.find((c) => c.detector === 'cancel_storm');

/** Three days of a bot that quotes every 10 minutes and modifies an order now and then (all accepted). */
async function warm(s: ReturnType<typeof setup>): Promise<void> {
  for (let d = 0; d < 3; d++) {
    for (let k = 0; k < 36; k++) {
      const now = START + d * DAY + k * 600_000;
      for (const i of k % 6 === 0 ? [base({ now }), modify(now + 30_000)] : [base({ now })]) {
        s.at(i.now as number);
        await s.engine.assess(i);
        await s.engine.learn(i, { allowed: true, completed: true });
      }
    }
  }
}

/** Twelve modifies three seconds apart from 10:00 on day 4, each answered `completed` by the broker; the assessments. */
async function burst(s: ReturnType<typeof setup>, completed: boolean): Promise<RiskAssessment[]> {
  const out: RiskAssessment[] = [];
  const t0 = START + 3 * DAY + 3_600_000;
  for (let k = 0; k < 12; k++) {
    const i = modify(t0 + k * 3_000);
    s.at(i.now as number);
    out.push(await s.engine.assess(i));
    await s.engine.learn(i, { allowed: true, completed });
  }
  return out;
}

t.test('rejected modifies: cancel_storm from the tenth in a minute, named in the reason', async (t) => {
  const s = setup();
  t.teardown(s.close);
  await warm(s);
  const a = await burst(s, false);
  t.equal(storm(a[9]!), undefined, 'nine rejected before it: nothing (12 a minute is under the rate threshold)');
  const c = storm(a[10]!);
  t.ok(c, 'ten rejected: cancel_storm');
  t.ok(c!.score >= 0.9, `score ${c!.score}`);
  t.match(c!.reason, /10 rejected by the broker in the last minute/);
  t.ok(a[10]!.score > 0.7, `above step-up on this alone (${a[10]!.score})`);
});

t.test('the same modifies accepted by the broker: no cancel_storm', async (t) => {
  const s = setup();
  t.teardown(s.close);
  await warm(s);
  const a = await burst(s, true);
  t.same(a.map((x) => storm(x)).filter(Boolean), [], 'twelve a minute, all accepted: under the rate threshold');
});

t.test('a refused (not allowed) call is not counted as rejected by the broker', async (t) => {
  const s = setup();
  t.teardown(s.close);
  await warm(s);
  const t0 = START + 3 * DAY + 3_600_000;
  for (let k = 0; k < 12; k++) {
    const i = modify(t0 + k * 3_000);
    s.at(i.now as number);
    await s.engine.assess(i);
    await s.engine.learn(i, { allowed: false, completed: false });
  }
  const last = modify(t0 + 12 * 3_000);
  s.at(last.now as number);
  t.equal(storm(await s.engine.assess(last)), undefined);
});
