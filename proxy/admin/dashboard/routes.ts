// Read routes the dashboard needs that no part offered: recent audit records
// (decisions, denials, approvals, lockdowns), the latest risk score per bot
// with its contributions, and the audit chain's status. All three read the
// newest window of the primary file sink's log (audit-tail.ts), memoised for
// a moment so several dashboards refreshing every few seconds read it once.
// What leaves is a projection of named, non-secret fields: audit records are
// already redacted, and the projection keeps order bodies and addresses out.
import { parseAuditConfig, type AuditorHandle, type AuditRecord } from '../../audit/index.js';
import type { AdminRoute } from '../../common/admin-route.js';
import type { Config } from '../../common/config.js';
import { GuardError } from '../../common/errors.js';
import { checkCheckpoints, readAuditTail, type AuditTail, type CheckpointCheck } from './audit-tail.js';

export interface DashboardRouteOptions {
  readonly auditor: Pick<AuditorHandle, 'status' | 'keyId' | 'publicKeyPem'> & Partial<Pick<AuditorHandle, 'previousKeys'>>;
  /** The first file sink (its log is read); undefined when only Redis/stdout sinks are configured. */
  readonly fileSink: { readonly id: string; readonly dir: string } | undefined;
  /** Newest bytes of the log that are read and checked (config admin.dashboard.auditTailBytes; default 512 KiB). */
  readonly tailBytes?: number;
  /** How long one read of the log serves every request (default 1000 ms). */
  readonly cacheMs?: number;
}

export const DEFAULT_TAIL_BYTES = 512 * 1024;
export const MAX_RECENT = 500;
const MAX_TEXT = 300;
const EVENT_TYPE = /^[a-z][a-z0-9_.]{0,63}$/;

/** The first file sink of the audit configuration, where the dashboard reads the log. */
export function primaryFileSink(config: Pick<Config, 'audit' | 'dataDir'>): { id: string; dir: string } | undefined {
  const sink = parseAuditConfig(config.audit, config.dataDir).sinks.find((s) => s.type === 'file');
  return sink && sink.type === 'file' ? { id: sink.id, dir: sink.dir } : undefined;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: unknown): string | undefined => (typeof v === 'string' ? v.slice(0, MAX_TEXT) : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Only the named fields that are present and of the expected type. */
function pick(src: Obj, fields: Record<string, (v: unknown) => unknown>): Obj {
  const out: Obj = {};
  for (const [k, f] of Object.entries(fields)) {
    const v = f(src[k]);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

export interface RiskSummary {
  readonly score: number;
  readonly contributions: { detector: string; score: number; weight: number; reason: string }[];
}

function riskOf(v: unknown): RiskSummary | undefined {
  if (!isObj(v) || num(v.score) === undefined) return undefined;
  const contributions = (Array.isArray(v.contributions) ? v.contributions : []).filter(isObj).map((c) => ({
    detector: text(c.detector) ?? '?',
    score: num(c.score) ?? 0,
    weight: num(c.weight) ?? 0,
    reason: text(c.reason) ?? '',
  }));
  return { score: num(v.score)!, contributions };
}

/** One audit record as the dashboard shows it. */
export function summarise(r: AuditRecord): Obj {
  const d = r.data;
  const decision = isObj(d.decision) ? pick(d.decision, { outcome: text, ruleId: text, reason: text }) : undefined;
  const risk = riskOf(d.risk);
  return {
    seq: r.seq,
    ts: r.ts,
    type: r.type,
    ...pick(d, {
      requestId: text,
      botId: text,
      apiId: text,
      kind: text,
      route: text,
      action: text,
      actor: text,
      approvalId: text,
      incidentId: text,
      reason: text,
      ok: (v) => (typeof v === 'boolean' ? v : undefined),
      code: text,
      stage: text,
    }),
    ...(decision && Object.keys(decision).length > 0 ? { decision } : {}),
    ...(risk ? { risk } : {}),
  };
}

function intParam(q: URLSearchParams, name: string, def: number, max: number): number {
  const raw = q.get(name);
  if (raw === null) return def;
  const n = Number(raw);
  if (!/^[0-9]{1,6}$/.test(raw) || n < 1 || n > max) throw new GuardError('KG3016', `${name} must be an integer from 1 to ${max}`);
  return n;
}

const EMPTY: AuditTail = { records: [], fromSeq: null, toSeq: null, head: null, bytes: 0 };

export function dashboardRoutes(o: DashboardRouteOptions, prefix = '/admin/v1'): AdminRoute[] {
  const tailBytes = o.tailBytes ?? DEFAULT_TAIL_BYTES;
  const cacheMs = o.cacheMs ?? 1000;
  let cached: { at: number; tail: Promise<AuditTail> } | undefined;
  const tail = (): Promise<AuditTail> => {
    const sink = o.fileSink;
    if (!sink) return Promise.resolve(EMPTY);
    if (!cached || Date.now() - cached.at > cacheMs) {
      const read = readAuditTail(sink.dir, tailBytes);
      cached = { at: Date.now(), tail: read };
      // A failed read is not remembered: the next request tries again.
      read.catch(() => {
        if (cached?.tail === read) cached = undefined;
      });
    }
    return cached.tail;
  };
  const window = (t: AuditTail) => (t.fromSeq === null ? null : { fromSeq: t.fromSeq, toSeq: t.toSeq });
  // The highest validly signed checkpoint this process has read. Checkpoints only ever grow, so one that is gone
  // later (the file cut back to before an edit), or whose record now has another hash, is a break.
  let seen: { seq: number; head: string } | undefined;
  const verified = new Map<string, boolean>();
  const checkpointProblem = (c: CheckpointCheck, t: AuditTail): { seq: number; reason: string } | undefined => {
    if (c.problem) return c.problem;
    if (seen && (c.newest?.seq ?? 0) < seen.seq) return { seq: seen.seq, reason: `checkpoint #${seen.seq}, read before, is gone from the checkpoint file` };
    const now = seen && t.records.find((r) => r.seq === seen!.seq);
    if (seen && now && now.hash !== seen.head) return { seq: seen.seq, reason: `record #${seen.seq} is not the one checkpoint #${seen.seq} signed` };
    if ((c.newest?.signature === 'valid' || c.newest?.signature === 'handed-over') && c.newestHead && (!seen || c.newest.seq > seen.seq))
      seen = { seq: c.newest.seq, head: c.newestHead };
    return undefined;
  };

  return [
    {
      // Who the token is: the dashboard shows only the actions its role may take (no lockdown for a viewer).
      method: 'GET',
      path: `${prefix}/whoami`,
      role: 'viewer',
      async handler({ principal }) {
        return { body: { name: principal.name, role: principal.role } };
      },
    },
    {
      method: 'GET',
      path: `${prefix}/audit/recent`,
      role: 'viewer',
      async handler({ query }) {
        const limit = intParam(query, 'limit', 100, MAX_RECENT);
        const types = (query.get('type') ?? '').split(',').filter((s) => s.length > 0);
        if (types.length > 32 || types.some((s) => !EVENT_TYPE.test(s)))
          throw new GuardError('KG3016', 'type must be a comma-separated list of audit event types');
        const bot = query.get('bot');
        const t = await tail();
        const wanted = t.records.filter((r) => (types.length === 0 || types.includes(r.type)) && (bot === null || r.data.botId === bot));
        return { body: { window: window(t), records: wanted.slice(-limit).reverse().map(summarise) } };
      },
    },
    {
      method: 'GET',
      path: `${prefix}/risk/bots`,
      role: 'viewer',
      async handler() {
        const t = await tail();
        const latest = new Map<string, Obj>();
        for (const r of t.records) {
          if (r.type !== 'call.intent' || typeof r.data.botId !== 'string') continue;
          const s = summarise(r);
          if (s.risk) latest.set(r.data.botId, s);
        }
        const bots = [...latest.entries()]
          .map(([botId, s]) => ({
            botId,
            seq: s.seq,
            ts: s.ts,
            ...(s.requestId ? { requestId: s.requestId } : {}),
            ...(s.apiId ? { apiId: s.apiId } : {}),
            ...(isObj(s.decision) && typeof s.decision.outcome === 'string' ? { outcome: s.decision.outcome } : {}),
            ...(s.risk as RiskSummary),
          }))
          .sort((a, b) => b.score - a.score || a.botId.localeCompare(b.botId));
        return { body: { window: window(t), bots } };
      },
    },
    {
      method: 'GET',
      path: `${prefix}/audit/status`,
      role: 'viewer',
      async handler() {
        const sink = o.fileSink;
        const t = await tail();
        const checked = sink ? await checkCheckpoints(sink.dir, o.auditor, t, verified) : null;
        const checkpoint = checked?.newest ?? null;
        const problem = t.problem ?? (checked ? checkpointProblem(checked, t) : undefined);
        return {
          body: {
            keyId: o.auditor.keyId,
            sinks: o.auditor.status(),
            chain: sink
              ? {
                  sink: sink.id,
                  checkedRecords: t.records.length,
                  fromSeq: t.fromSeq,
                  toSeq: t.toSeq,
                  head: t.head,
                  windowBytes: t.bytes,
                  // Only a validly signed newest checkpoint vouches for the window; 'other-key' does not.
                  intact:
                    !problem &&
                    (checkpoint === null || ((checkpoint.signature === 'valid' || checkpoint.signature === 'handed-over') && checkpoint.matchesLog !== false)),
                  ...(problem ? { problem } : {}),
                }
              : null,
            checkpoint,
          },
        };
      },
    },
  ];
}
