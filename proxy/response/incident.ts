// The incident record and everything derived from it: the report, its
// Markdown rendering, and the compensation worksheet.
import { DAY_MS, seoulDate, seoulParts } from '../kiwoom/protocol/index.js';
import type { CancelAllReport } from './cancel-all.js';
import type { CompensationCause, ResponseConfig } from './config.js';
import type { DeliveryResult } from './webhooks.js';
import type { Fill } from './types.js';

export interface LockdownScope {
  readonly botId?: string;
  readonly account?: string;
  readonly all?: boolean;
}

export interface StepTiming {
  readonly step: string;
  /** ms after the lockdown was issued */
  readonly startedMs: number;
  readonly endedMs: number;
  readonly ok: boolean;
  readonly errors: readonly string[];
}

export interface AccountCancel extends Partial<CancelAllReport> {
  readonly account: string;
  readonly viaBot: string;
  readonly error?: string;
}

export interface HoldingDelta {
  readonly stkCd: string;
  readonly qty: number;
  readonly baselineQty?: number;
  readonly price: number;
  readonly valueKrw: number;
}

export interface AccountDamage {
  readonly account: string;
  readonly fills: readonly Fill[];
  readonly boughtKrw: number;
  readonly soldKrw: number;
  readonly holdings: readonly HoldingDelta[];
  readonly holdingsValueKrw: number;
  readonly baselineValueKrw?: number;
  readonly baselineAt?: string;
  /** Lower bound: mark-to-market loss of the window's fills at current prices. */
  readonly estimatedLossKrw: number;
  readonly error?: string;
}

export interface DamageAssessment {
  readonly windowStart: string;
  readonly windowEnd: string;
  readonly complete: boolean;
  readonly tookMs: number;
  readonly accounts: readonly AccountDamage[];
  readonly totals: {
    readonly fills: number;
    readonly boughtKrw: number;
    readonly soldKrw: number;
    readonly estimatedLossKrw: number;
    readonly ordersCancelled: number;
    readonly ordersNotCancelled: number;
  };
}

export interface IncidentTrigger {
  readonly score: number;
  readonly level?: string;
  readonly contributions: readonly { readonly detector: string; readonly score: number; readonly weight: number; readonly reason: string }[];
  readonly apiId?: string;
  readonly requestId?: string;
}

export interface Incident {
  readonly id: string;
  readonly createdAt: string;
  readonly scope: LockdownScope;
  readonly targets: readonly { readonly botId: string; readonly account: string }[];
  readonly reason: string;
  readonly actor: string;
  readonly automatic: boolean;
  readonly trigger?: IncidentTrigger;
  status: 'locked' | 'unlocked';
  readonly steps: StepTiming[];
  readonly cancels: AccountCancel[];
  /** ms after issue: steps 1-4 done; every open order cancelled and confirmed by a fresh listing; damage assessment duration. */
  timings: { stepsMs?: number; cancelConfirmedMs?: number; damageMs?: number };
  damage?: DamageAssessment;
  /** Webhook deliveries (kept in their own store hash; merged in by the report). */
  readonly notifications: { event: string; at?: string; results: readonly DeliveryResult[] }[];
  readonly timeline: { at: string; event: string; detail?: string }[];
  unlockedAt?: string;
  unlockedBy?: string;
}

export interface ChecklistItem {
  readonly id: string;
  readonly title: string;
  readonly required: boolean;
  readonly confirmedBy?: string;
  readonly confirmedAt?: string;
  readonly note?: string;
}

export interface CompensationWorksheet {
  readonly incidentId: string;
  readonly cause: CompensationCause;
  readonly rate: number;
  readonly lossKrw: number;
  readonly lossBasis: 'damage_assessment' | 'operator';
  readonly uncappedKrw: number;
  readonly capKrw: number;
  readonly amountKrw: number;
  readonly processing: { readonly minBusinessDays: number; readonly maxBusinessDays: number; readonly earliest: string; readonly latest: string };
  readonly setBy: string;
  readonly setAt: string;
}

export interface IncidentReport extends Incident {
  readonly checklist: readonly ChecklistItem[];
  readonly unlockApprovals: readonly { readonly approver: string; readonly at: string }[];
  readonly unlockApprovalsRequired: number;
  readonly compensation?: CompensationWorksheet;
}

/** Adds business days (Mon-Fri, skipping configured holidays) to a Seoul date. */
export function addBusinessDays(fromMs: number, days: number, holidays: ReadonlySet<string>): string {
  let t = fromMs;
  let left = days;
  while (left > 0) {
    t += DAY_MS;
    const d = seoulParts(t);
    if (d.weekday !== 0 && d.weekday !== 6 && !holidays.has(d.date)) left--;
  }
  return seoulDate(t);
}

export function computeCompensation(
  report: IncidentReport,
  cause: CompensationCause,
  actor: string,
  cfg: ResponseConfig['compensation'],
  nowMs: number,
  lossOverrideKrw?: number,
): CompensationWorksheet {
  const rate = cfg.rates[cause];
  const lossKrw = Math.max(0, Math.round(lossOverrideKrw ?? report.damage?.totals.estimatedLossKrw ?? 0));
  const uncapped = Math.round(lossKrw * rate);
  return {
    incidentId: report.id,
    cause,
    rate,
    lossKrw,
    lossBasis: lossOverrideKrw === undefined ? 'damage_assessment' : 'operator',
    uncappedKrw: uncapped,
    capKrw: cfg.capKrw,
    amountKrw: Math.min(uncapped, cfg.capKrw),
    processing: {
      minBusinessDays: cfg.minBusinessDays,
      maxBusinessDays: cfg.maxBusinessDays,
      earliest: addBusinessDays(nowMs, cfg.minBusinessDays, cfg.holidays),
      latest: addBusinessDays(nowMs, cfg.maxBusinessDays, cfg.holidays),
    },
    setBy: actor,
    setAt: new Date(nowMs).toISOString(),
  };
}

const krw = (n: number | undefined): string => (n === undefined ? '-' : `${Math.round(n).toLocaleString('en-US')} KRW`);
const cell = (s: unknown): string => String(s ?? '').replace(/[|\r\n]/g, ' ');

export function renderIncidentMarkdown(r: IncidentReport): string {
  const out: string[] = [];
  out.push(`# Security incident ${r.id}`, '');
  out.push(`- **Status:** ${r.status}${r.unlockedAt ? ` (unlocked ${r.unlockedAt} by ${cell(r.unlockedBy)})` : ''}`);
  out.push(`- **Opened:** ${r.createdAt} by ${cell(r.actor)} (${r.automatic ? 'automatic' : 'manual'})`);
  out.push(
    `- **Scope:** ${r.scope.all ? 'all bots' : r.scope.account ? `account ${cell(r.scope.account)}` : `bot ${cell(r.scope.botId)}`}; bots: ${r.targets.map((t) => cell(t.botId)).join(', ') || '-'}`,
  );
  out.push(`- **Reason:** ${cell(r.reason)}`, '');
  if (r.trigger) {
    out.push('## Detectors', '', `Risk score **${r.trigger.score}**${r.trigger.apiId ? ` on ${cell(r.trigger.apiId)}` : ''}.`, '');
    out.push('| detector | score | weight | reason |', '|---|---|---|---|');
    for (const c of r.trigger.contributions) out.push(`| ${cell(c.detector)} | ${c.score} | ${c.weight} | ${cell(c.reason)} |`);
    out.push('');
  }
  out.push('## Actions', '', '| step | started (ms) | ended (ms) | result |', '|---|---|---|---|');
  for (const s of r.steps) out.push(`| ${cell(s.step)} | ${s.startedMs} | ${s.endedMs} | ${s.ok ? 'ok' : `FAILED: ${cell(s.errors.join('; '))}`} |`);
  out.push(
    '',
    `Lockdown steps took ${r.timings.stepsMs ?? '-'} ms; all orders cancelled and confirmed at ${r.timings.cancelConfirmedMs ?? 'NOT CONFIRMED'} ms; damage assessment ${r.timings.damageMs ?? '-'} ms.`,
    '',
  );
  out.push('## Orders', '');
  for (const c of r.cancels) {
    out.push(
      `- account ${cell(c.account)} (via ${cell(c.viaBot)}): listed ${c.listed ?? 0}, cancelled ${c.cancelled ?? 0}, not cancelled ${c.notCancelled?.length ?? 0}${c.error ? `, error: ${cell(c.error)}` : ''}`,
    );
    for (const f of c.notCancelled ?? []) out.push(`  - order ${cell(f.ordNo)} ${cell(f.stkCd)}: ${cell(f.reason)}`);
  }
  out.push('');
  if (r.damage) {
    const d = r.damage;
    out.push('## Damage assessment', '', `Window ${d.windowStart} – ${d.windowEnd}${d.complete ? '' : ' (INCOMPLETE)'}, took ${d.tookMs} ms.`, '');
    out.push(`- fills: ${d.totals.fills}; bought ${krw(d.totals.boughtKrw)}; sold ${krw(d.totals.soldKrw)}`);
    out.push(`- estimated loss (lower bound): ${krw(d.totals.estimatedLossKrw)}`);
    out.push(`- orders cancelled: ${d.totals.ordersCancelled}; not cancelled: ${d.totals.ordersNotCancelled}`, '');
    for (const a of d.accounts) {
      out.push(
        `### Account ${cell(a.account)}`,
        '',
        `Holdings value ${krw(a.holdingsValueKrw)}${a.baselineValueKrw !== undefined ? ` vs baseline ${krw(a.baselineValueKrw)} (${a.baselineAt})` : ' (no baseline)'}${a.error ? `; error: ${cell(a.error)}` : ''}`,
        '',
      );
      if (a.holdings.length) {
        out.push('| symbol | qty | baseline qty | price | value |', '|---|---|---|---|---|');
        for (const h of a.holdings) out.push(`| ${cell(h.stkCd)} | ${h.qty} | ${h.baselineQty ?? '-'} | ${h.price} | ${krw(h.valueKrw)} |`);
        out.push('');
      }
    }
  }
  out.push('## Recovery checklist', '');
  for (const c of r.checklist)
    out.push(
      `- [${c.confirmedBy ? 'x' : ' '}] ${cell(c.title)}${c.required ? '' : ' (optional)'}${c.confirmedBy ? ` — ${cell(c.confirmedBy)} at ${c.confirmedAt}${c.note ? `: ${cell(c.note)}` : ''}` : ''}`,
    );
  out.push('', `Unlock approvals: ${r.unlockApprovals.map((a) => cell(a.approver)).join(', ') || 'none'} (${r.unlockApprovalsRequired} required).`, '');
  if (r.compensation) {
    const c = r.compensation;
    out.push(
      '## Compensation worksheet',
      '',
      `Cause **${c.cause}** at ${Math.round(c.rate * 100)}% of ${krw(c.lossKrw)} (${c.lossBasis}) = ${krw(c.uncappedKrw)}, capped at ${krw(c.capKrw)}: **${krw(c.amountKrw)}**.`,
    );
    out.push(
      `Processing ${c.processing.minBusinessDays}-${c.processing.maxBusinessDays} business days (${c.processing.earliest} – ${c.processing.latest}). Set by ${cell(c.setBy)} at ${c.setAt}.`,
      '',
    );
  }
  out.push('## Timeline', '');
  for (const e of r.timeline) out.push(`- ${e.at} ${cell(e.event)}${e.detail ? `: ${cell(e.detail)}` : ''}`);
  out.push('');
  for (const n of r.notifications)
    out.push(
      `- notification ${cell(n.event)}: ${n.results.map((x) => `${x.kind} ${x.ok ? 'delivered' : `failed (${cell(x.error)})`}`).join(', ') || 'no webhooks configured'}`,
    );
  return `${out.join('\n')}\n`;
}
