// kguard risk explain <request-id>: what the risk engine decided for one call
// and why, read back from the audit trail (the call's intent record, or the
// automatic lockdown it triggered): the score and level, each detector's own
// score, weight and contribution with its reason, and the learned model's
// verdict with the features that drove it (recorded in shadow mode too).
import { listLogFiles, readLines } from '../audit/logfiles.js';
import { parseAuditConfig } from '../audit/index.js';
import { parseRecordLine, type AuditRecord } from '../audit/record.js';
import { configFromFlags, printJson } from './args.js';
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

export function formatExplanation(e: RiskExplanation): string {
  const out = [
    `request ${e.requestId}: ${e.type} (seq ${e.seq}, ${e.ts})${e.botId ? ` bot ${e.botId}` : ''}${e.apiId ? ` api-id ${e.apiId}` : ''}`,
    `risk score ${e.score}${e.level ? ` (${e.level})` : ''} = 1 - prod(1 - weight x score) over the detectors that fired`,
  ];
  if (e.contributions.length === 0) out.push('  no detector fired');
  for (const c of e.contributions)
    out.push(`  ${c.detector.padEnd(14)} score ${c.score.toFixed(2)} x weight ${c.weight.toFixed(2)} = ${(c.contribution ?? 0).toFixed(2)}  ${c.reason}`);
  if (e.model) {
    const drivers = e.model.top.map((f) => `${f.feature} ${f.value} (${Math.round(100 * f.share)}%)`).join(', ') || 'none';
    out.push(
      `  learned model  anomaly ${e.model.score} at weight ${e.model.weight}${e.model.weight === 0 ? ' (shadow: adds nothing)' : ''}; driven by ${drivers}`,
    );
  }
  return `${out.join('\n')}\n`;
}

export const explain: Handler = async (ctx) => {
  const id = ctx.positionals[0];
  if (!id) return ctx.usage('give the request id');
  let dir = ctx.str('dir');
  if (!dir) {
    const config = await configFromFlags(ctx.values, ctx.io);
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
  if (found.length === 0) {
    ctx.io.stderr.write(`no risk judgement recorded for request ${id} in ${dir}\n`);
    return 1;
  }
  if (ctx.bool('json')) printJson(ctx.io, found);
  else ctx.io.stdout.write(found.map(formatExplanation).join('\n'));
  return 0;
};
