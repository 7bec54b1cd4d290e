// kguard risk explain <request-id>: what the risk engine decided for one call
// and why, read back from the audit trail (the call's intent record, or the
// automatic lockdown it triggered): the score and level, each detector's own
// score, weight and contribution with its reason, and the learned model's
// verdict with the features that drove it (recorded in shadow mode too).
import type { Language } from '../common/errors.js';
import type { Config } from '../common/config.js';
import { listLogFiles, readLines } from '../audit/logfiles.js';
import { parseAuditConfig } from '../audit/index.js';
import { parseRecordLine, type AuditRecord } from '../audit/record.js';
import { configFromFlags, printJson } from './args.js';
import { cliLanguage } from './lang.js';
import type { Handler } from './spec.js';
import { UsageError } from './usage.js';

interface Contribution {
  readonly detector: string;
  readonly score: number;
  readonly weight: number;
  readonly contribution?: number;
  readonly reason: string;
}

export interface RiskExplanation {
  readonly requestId: string;
  readonly seq: number;
  readonly ts: string;
  readonly type: string;
  readonly botId?: string;
  readonly apiId?: string;
  readonly score: number;
  readonly level?: string;
  readonly contributions: readonly Contribution[];
  readonly model?: { readonly score: number; readonly weight: number; readonly top: readonly { feature: string; value: number; share: number }[] };
}

const obj = (v: unknown): Record<string, unknown> | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

/** The risk judgement an audit record carries for this request id, if any. */
export function explanationOf(r: AuditRecord, requestId: string): RiskExplanation | undefined {
  const d = r.data;
  const trigger = obj(d.trigger);
  const risk = d.requestId === requestId ? obj(d.risk) : trigger?.requestId === requestId ? trigger : undefined;
  if (!risk || typeof risk.score !== 'number' || !Array.isArray(risk.contributions)) return undefined;
  const contributions = (risk.contributions as Contribution[]).map((c) => ({
    ...c,
    contribution: c.contribution ?? Math.round(c.weight * c.score * 10_000) / 10_000,
  }));
  return {
    requestId,
    seq: r.seq,
    ts: r.ts,
    type: r.type,
    ...(typeof d.botId === 'string' ? { botId: d.botId } : {}),
    ...(typeof d.apiId === 'string' ? { apiId: d.apiId } : typeof trigger?.apiId === 'string' ? { apiId: trigger.apiId } : {}),
    score: risk.score,
    ...(typeof risk.level === 'string' ? { level: risk.level } : {}),
    contributions,
    ...(obj(risk.model) ? { model: risk.model as RiskExplanation['model'] } : {}),
  };
}

/** The text around the recorded reasons (which are in the language the sidecar wrote them in). */
const TEXT = {
  ko: {
    head: (e: RiskExplanation) =>
      `요청 ${e.requestId}: ${e.type} (seq ${e.seq}, ${e.ts})${e.botId ? ` 봇 ${e.botId}` : ''}${e.apiId ? ` api-id ${e.apiId}` : ''}`,
    score: (score: number, level: string) => `위험 점수 ${score}${level} = 1 - prod(1 - 가중치 x 점수), 작동한 탐지기 전체`,
    lowered: (score: number, level: string, combined: string) =>
      `위험 점수 ${score}${level}: 아래 탐지기의 결합 ${combined}에서 낮춘 점수 (학습 중 상한 또는 소유자 승인 유예: 사유의 [...] 참조)`,
    none: '  작동한 탐지기 없음',
    line: (c: Contribution) =>
      `  ${c.detector.padEnd(14)} 점수 ${c.score.toFixed(2)} x 가중치 ${c.weight.toFixed(2)} = ${(c.contribution ?? 0).toFixed(2)}  ${c.reason}`,
    model: (m: NonNullable<RiskExplanation['model']>, drivers: string) =>
      `  학습 모델        이상 점수 ${m.score}, 가중치 ${m.weight}${m.weight === 0 ? ' (섀도 모드: 점수에 더하지 않음)' : ''}; 주요 특징: ${drivers || '없음'}`,
    notFound: (id: string, dir: string) => `요청 ${id}의 위험 판단이 ${dir}의 감사 기록에 없습니다`,
  },
  en: {
    head: (e: RiskExplanation) =>
      `request ${e.requestId}: ${e.type} (seq ${e.seq}, ${e.ts})${e.botId ? ` bot ${e.botId}` : ''}${e.apiId ? ` api-id ${e.apiId}` : ''}`,
    score: (score: number, level: string) => `risk score ${score}${level} = 1 - prod(1 - weight x score) over the detectors that fired`,
    lowered: (score: number, level: string, combined: string) =>
      `risk score ${score}${level}: lowered from ${combined}, what the detectors below combine to (the warm-up cap or an owner's approval grace: see [...] in the reasons)`,
    none: '  no detector fired',
    line: (c: Contribution) =>
      `  ${c.detector.padEnd(14)} score ${c.score.toFixed(2)} x weight ${c.weight.toFixed(2)} = ${(c.contribution ?? 0).toFixed(2)}  ${c.reason}`,
    model: (m: NonNullable<RiskExplanation['model']>, drivers: string) =>
      `  learned model  anomaly ${m.score} at weight ${m.weight}${m.weight === 0 ? ' (shadow: adds nothing)' : ''}; driven by ${drivers || 'none'}`,
    notFound: (id: string, dir: string) => `no risk judgement recorded for request ${id} in ${dir}`,
  },
} as const;

/** The explanation as text in `lang` (the sidecar's language, Korean by default). */
export function formatExplanation(e: RiskExplanation, lang: Language): string {
  const say = TEXT[lang];
  const level = e.level ? ` (${e.level})` : '';
  // A warming-up bot's score is capped and one within an owner's approval grace lowered: not the combination then.
  const combined = 1 - e.contributions.reduce((keep, c) => keep * (1 - (c.contribution ?? 0)), 1);
  const out = [say.head(e), combined > e.score + 0.001 ? say.lowered(e.score, level, combined.toFixed(2)) : say.score(e.score, level)];
  if (e.contributions.length === 0) out.push(say.none);
  for (const c of e.contributions) out.push(say.line(c));
  if (e.model) out.push(say.model(e.model, e.model.top.map((f) => `${f.feature} ${f.value} (${Math.round(100 * f.share)}%)`).join(', ')));
  return `${out.join('\n')}\n`;
}

export const explain: Handler = async (ctx) => {
  const id = ctx.positionals[0];
  if (!id) return ctx.usage('give the request id');
  let dir = ctx.str('dir');
  let config: Config | undefined;
  if (!dir) {
    config = await configFromFlags(ctx.values, ctx.io);
    const sink = parseAuditConfig(config.audit, config.dataDir).sinks.find((s) => s.type === 'file');
    if (sink?.type !== 'file') throw new UsageError('no file sink configured: name the log directory with --dir');
    dir = sink.dir;
  }
  const found: RiskExplanation[] = [];
  for (const file of await listLogFiles(dir)) {
    for await (const raw of readLines(file.path)) {
      const line = raw.bytes.toString('utf8');
      if (!line.includes(id)) continue;
      const parsed = parseRecordLine(line);
      const e = parsed.ok ? explanationOf(parsed.record, id) : undefined;
      if (e) found.push(e);
    }
  }
  if (ctx.bool('json') && found.length > 0) {
    printJson(ctx.io, found);
    return 0;
  }
  const lang = await cliLanguage(ctx, config);
  if (found.length === 0) {
    ctx.io.stderr.write(`${TEXT[lang].notFound(id, dir)}\n`);
    return 1;
  }
  ctx.io.stdout.write(found.map((e) => formatExplanation(e, lang)).join('\n'));
  return 0;
};
