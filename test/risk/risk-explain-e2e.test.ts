// `kguard risk explain <request-id>` against the audit log a real sidecar
// wrote (issue 17): a bot with two days of daytime history is used at 23:00
// Seoul from a new address; the call is held for approval, and the third such
// call escalates to an automatic lockdown. The operator then runs the CLI
// (in process, the same entry) with --data-dir, as on the host, and reads
// back each detector's contribution and the decision for both requests.
import t from 'tap';
import { Agent } from 'undici';
import type { AuditRecord } from '../../proxy/audit/record.js';
import { seoulToEpoch } from '../../proxy/risk/index.js';
import { cli } from '../cli/run-cli.js';
import { readAuditRecords, waitForRequestRecords } from '../helpers/audit-sidecar-log.js';
import { waitFor, type CallResult, type Harness } from '../helpers/harness.js';
import { warmRiskHarness } from '../helpers/risk-setups.js';

const code = (r: CallResult): string | undefined => /\[(KG\d{4})/.exec(String(r.json.return_msg ?? ''))?.[1];
const NEW_ADDRESS = '127.0.0.2';

interface Contribution {
  detector: string;
  score: number;
  weight: number;
  contribution: number;
  reason: string;
}
interface Risk {
  score: number;
  level: string;
  contributions: Contribution[];
  model?: { score: number; weight: number; top: { feature: string; value: number; share: number }[] };
}

const clock = { now: seoulToEpoch('2026-01-05', 10, 0) }; // Monday 10:00 Seoul
let h: Harness;
let auditDir: string;
const night = new Agent({ localAddress: NEW_ADDRESS });

t.before(async () => {
  ({ h, auditDir } = await warmRiskHarness(clock));
});
t.teardown(async () => {
  await night.close();
  await h?.close();
});

/** Each contribution as `kguard risk explain` prints it: name, score x weight = contribution, reason (Korean by default). */
function line(c: Contribution, lang: 'ko' | 'en' = 'ko'): RegExp {
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const [score, weight] = lang === 'ko' ? ['점수', '가중치'] : ['score', 'weight'];
  return new RegExp(
    `^  ${esc(c.detector)}\\s+${score} ${c.score.toFixed(2)} x ${weight} ${c.weight.toFixed(2)} = ${c.contribution.toFixed(2)}  ${esc(c.reason)}$`,
    'm',
  );
}

/** A balance inquiry at 23:00 Seoul from the new address. */
async function nightCall(minute: number): Promise<{ r: CallResult; id: string }> {
  clock.now = seoulToEpoch('2026-01-07', 23, minute);
  const r = await h.call('kt00018', { qry_tp: '1', dmst_stex_tp: 'KRX' }, { dispatcher: night });
  return { r, id: String(r.headers['x-kguard-request-id']) };
}

t.test('a held call: the explanation lists every detector the audit recorded, the score and the level', async (t) => {
  const { r, id } = await nightCall(0);
  t.equal(code(r), 'KG3004', `held for approval: ${r.text}`);
  t.match(id, /^[0-9a-f-]{36}$/, 'the request id the bot was given');
  const recs = await waitForRequestRecords(auditDir, [id], (rs) => rs.some((x) => x.type === 'call.intent'));
  const intent = recs.find((x) => x.type === 'call.intent' && x.data.requestId === id)!;
  const risk = intent.data.risk as Risk;
  const detectors = risk.contributions.map((c) => c.detector);
  for (const d of ['time', 'location']) t.ok(detectors.includes(d), `${d} fired (${detectors.join(', ')})`);
  t.ok(risk.score > 0.7 && risk.score < 0.95, `held, not locked: ${risk.score}`);
  t.equal((intent.data.decision as { outcome: string }).outcome, 'step-up', 'the policy held it on the risk score');
  t.equal(risk.level, 'step_up');

  const run = await cli(['risk', 'explain', id, '--data-dir', h.dataDir]);
  t.equal(run.code, 0, run.err);
  t.equal(run.err, '');
  // Korean by default (the sidecar's language), as the reasons the audit trail recorded.
  const ts = intent.ts.replace(/\./g, '\\.');
  t.match(run.out, new RegExp(`^요청 ${id}: call\\.intent \\(seq ${intent.seq}, ${ts}\\) 봇 ${h.botId} api-id kt00018$`, 'm'));
  t.match(run.out, new RegExp(`^위험 점수 ${risk.score} \\(${risk.level}\\) = 1 - prod\\(1 - 가중치 x 점수\\)`, 'm'), 'score and level');
  for (const c of risk.contributions) t.match(run.out, line(c), `${c.detector}: its score, weight, contribution and reason`);
  t.equal(run.out.split('\n').filter((l) => /^ {2}\S+\s+점수 /.test(l)).length, risk.contributions.length, 'one line per detector, no more');
  t.notMatch(run.out, /\b(request|risk score|weight|learned model|no detector)\b/, 'no English around the Korean reasons');
  // The learned model gives a verdict once its window has filled (256 calls by default): 60 learned calls give none.
  if (risk.model) t.match(run.out, new RegExp(`^  학습 모델\\s+이상 점수 ${risk.model.score}, 가중치 0 \\(섀도 모드`, 'm'));
  else t.notMatch(run.out, /학습 모델/, 'no model verdict recorded, none printed');

  // --lang en: the same lines in English.
  const en = await cli(['risk', 'explain', id, '--data-dir', h.dataDir, '--lang', 'en']);
  t.equal(en.code, 0, en.err);
  t.match(en.out, new RegExp(`^request ${id}: call\\.intent \\(seq ${intent.seq}, ${ts}\\) bot ${h.botId} api-id kt00018$`, 'm'));
  t.match(en.out, new RegExp(`^risk score ${risk.score} \\(${risk.level}\\) = 1 - prod\\(1 - weight x score\\)`, 'm'), 'score and level');
  for (const c of risk.contributions) t.match(en.out, line(c, 'en'), `${c.detector} in English`);
  if (risk.model) t.match(en.out, new RegExp(`^  learned model  anomaly ${risk.model.score} at weight 0 \\(shadow: adds nothing\\)`, 'm'));

  // --dir names the log directory directly (an auditor's copy, say): the same answer.
  const byDir = await cli(['risk', 'explain', id, '--dir', auditDir]);
  t.same(byDir, run, '--dir gives the same output');

  // --json: the same judgement, machine-readable.
  const json = await cli(['risk', 'explain', id, '--data-dir', h.dataDir, '--json']);
  t.equal(json.code, 0);
  const parsed = JSON.parse(json.out) as { requestId: string; type: string; score: number; level: string; contributions: Contribution[] }[];
  t.equal(parsed.length, 1);
  t.match(parsed[0], { requestId: id, type: 'call.intent', score: risk.score, level: risk.level });
  t.same(parsed[0]!.contributions, risk.contributions);
});

t.test('the third such call locks the bot down: explained from the lockdown record, escalation included', async (t) => {
  const second = await nightCall(1);
  t.equal(code(second.r), 'KG3004', `second: still held (${second.r.text})`);
  const { r, id } = await nightCall(2);
  t.equal(code(r), 'KG3008', `third: automatic lockdown (${r.text})`);
  let lock: AuditRecord | undefined;
  await waitFor(
    async () => {
      lock = (await readAuditRecords(auditDir)).find((x) => x.type === 'lockdown' && (x.data.trigger as { requestId?: string } | undefined)?.requestId === id);
      return lock !== undefined;
    },
    10_000,
    'the lockdown record',
  );
  const trigger = lock!.data.trigger as Risk;
  t.ok(
    trigger.contributions.some((c) => c.detector === 'escalation'),
    'escalation is in the trigger',
  );

  const run = await cli(['risk', 'explain', id, '--data-dir', h.dataDir]);
  t.equal(run.code, 0, run.err);
  t.match(run.out, new RegExp(`^요청 ${id}: lockdown \\(seq ${lock!.seq}, `, 'm'), 'found in the lockdown record');
  t.match(run.out, new RegExp(`^위험 점수 ${trigger.score} \\(lockdown\\)`, 'm'));
  for (const c of trigger.contributions) t.match(run.out, line(c), `${c.detector} listed`);
  t.match(run.out, /^ {2}escalation\s+점수 1\.00 x 가중치 1\.00 = 1\.00 {2}72시간 안에 추가 승인 기준\(0\.7\)을 넘은 3번째 호출 \(기준 3번\)$/m);
});

t.test('an unknown request id: a clear error naming the id and the directory, exit 1, nothing on stdout', async (t) => {
  const unknown = '00000000-0000-4000-8000-000000000000';
  const run = await cli(['risk', 'explain', unknown, '--data-dir', h.dataDir]);
  t.equal(run.code, 1);
  t.equal(run.out, '');
  t.equal(run.err, `요청 ${unknown}의 위험 판단이 ${auditDir}의 감사 기록에 없습니다\n`);
  const en = await cli(['risk', 'explain', unknown, '--data-dir', h.dataDir, '--lang', 'en']);
  t.equal(en.err, `no risk judgement recorded for request ${unknown} in ${auditDir}\n`, 'in English with --lang en');
  // A request that exists but was never judged by the risk engine (a token exchange) is not explained either.
  const exchange = (await readAuditRecords(auditDir)).find((x) => x.type === 'session.issued')!;
  const none = await cli(['risk', 'explain', String(exchange.data.requestId), '--data-dir', h.dataDir]);
  t.equal(none.code, 1, 'a record without a risk judgement');
  const missing = await cli(['risk', 'explain', '--data-dir', h.dataDir]);
  t.equal(missing.code, 2, 'no request id: a usage error');
  t.match(missing.err, /^kguard risk: missing <request-id>$/m);
});
