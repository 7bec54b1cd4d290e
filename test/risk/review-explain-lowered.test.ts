// `kguard risk explain` says the score is 1 - prod(1 - weight x score) over the detectors listed, but a warming-up
// bot's score is capped (risk.warmupMaxScore) and a call within an owner's approval grace is lowered to step-up,
// so the lines it printed added up to more than the score it printed, with nothing saying why: an analyst asking
// why a call from a new address at night went out unheld saw 0.75 worth of detectors and a score of 0.6.
import t from 'tap';
import type { AuditRecord } from '../../proxy/audit/record.js';
import { explanationOf, formatExplanation } from '../../proxy/cli/risk.js';
import { seoulToEpoch, type RiskAssessment, type RiskInput } from '../../proxy/risk/index.js';
import { riskEngineSetup, riskInput } from '../helpers/risk-setups.js';

const record = (a: RiskAssessment): AuditRecord =>
  ({
    v: 1,
    sink: 'file',
    seq: 3,
    prev: '0'.repeat(64),
    hash: '1'.repeat(64),
    ts: '2026-01-05T14:00:00.000Z',
    replica: 'r1',
    type: 'call.intent',
    data: { requestId: 'req-1', botId: 'b1', apiId: 'ka10001', risk: { score: a.score, level: a.level, contributions: a.contributions } },
  }) as unknown as AuditRecord;

t.test('a warming-up bot at night from a new address: the capped score is said to be lowered, and from what', async (t) => {
  let clock = seoulToEpoch('2026-01-05', 10, 0);
  const { engine, at, close } = riskEngineSetup();
  t.teardown(close);
  const call = (over: Partial<RiskInput> = {}): RiskInput => ({ ...riskInput({ account: '5555-01', now: at(clock) }), ...over });
  // 60 calls within the morning: past warmupCalls, but the baseline is hours old, not a day.
  for (let i = 0; i < 60; i++) {
    clock += 60_000;
    await engine.learn(call(), { allowed: true, completed: true });
  }
  clock = seoulToEpoch('2026-01-05', 23, 0);
  const a = await engine.assess(call({ sourceIp: '203.0.113.9' }));
  t.ok(a.warmingUp, 'still warming up');
  const combined = 1 - a.contributions.reduce((keep, c) => keep * (1 - c.contribution), 1);
  t.ok(combined > a.score + 0.05, `the detectors combine to more (${combined.toFixed(4)}) than the score (${a.score})`);

  const e = explanationOf(record(a), 'req-1')!;
  const en = formatExplanation(e, 'en');
  t.match(en, `risk score ${a.score} (${a.level})`);
  t.match(en, `lowered from ${combined.toFixed(2)}, what the detectors below combine to`, 'the combination and that the score is below it');
  t.notMatch(en, /= 1 - prod/, 'not claimed to be the combination');
  const ko = formatExplanation(e, 'ko');
  t.match(ko, `위험 점수 ${a.score} (${a.level})`);
  t.match(ko, `아래 탐지기의 결합 ${combined.toFixed(2)}에서 낮춘 점수`);
});

t.test('a score that is the combination is still shown as one', async (t) => {
  const a: RiskAssessment = {
    score: 0.7525,
    level: 'step_up',
    contributions: [
      { detector: 'location', score: 1, weight: 0.55, contribution: 0.55, reason: 'new source' },
      { detector: 'time', score: 1, weight: 0.45, contribution: 0.45, reason: 'quiet hour' },
    ],
    warmingUp: false,
    baselineCalls: 500,
    assessedAt: '2026-01-05T14:00:00.000Z',
  };
  const en = formatExplanation(explanationOf(record(a), 'req-1')!, 'en');
  t.match(en, 'risk score 0.7525 (step_up) = 1 - prod(1 - weight x score) over the detectors that fired');
  t.notMatch(en, /lowered/);
});
