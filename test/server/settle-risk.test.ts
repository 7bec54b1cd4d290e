// settleRisk (pipeline/risk.ts): a high-risk call opens the incident and is
// refused KG3008, naming each detector that drove it once.
import pino from 'pino';
import t from 'tap';
import type { RiskAssessment } from '../../proxy/risk/index.js';
import { settleRisk } from '../../proxy/server/pipeline/risk.js';

const contribution = (detector: string, score = 1) =>
  ({ detector, score, weight: 1, contribution: score, reason: 'r' }) as RiskAssessment['contributions'][number];

t.test('a lockdown names each detector once, after opening the incident', async (t) => {
  const opened: string[] = [];
  const deps = {
    risk: { isHighRisk: () => true },
    responder: {
      onHighRisk: async (_a: unknown, call: { requestId: string }) => void opened.push(call.requestId),
      onRiskAlert: async () => undefined,
    },
    logger: pino({ level: 'silent' }),
  };
  const a: RiskAssessment = {
    score: 1,
    level: 'lockdown',
    contributions: [contribution('escalation'), contribution('escalation', 0.6), contribution('location', 0.55)],
    warmingUp: false,
    baselineCalls: 100,
    assessedAt: new Date(0).toISOString(),
  };
  await t.rejects(settleRisk(deps as never, a, { botId: 'b1', account: 'a1', apiId: 'kt10000', requestId: 'req-1' }), {
    code: 'KG3008',
    detail: 'automatic lockdown: risk 1.00 (escalation, location)',
  });
  t.same(opened, ['req-1'], 'the incident was opened first');
});
