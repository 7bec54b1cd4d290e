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
  /** status 'done' (a step whose effect is confirmed). */
  readonly ok: boolean;
  /** 'pending': asked for, not confirmed yet (step 2 until Kiwoom confirms the broker tokens revoked). Absent in older records: ok says. */
  readonly status?: 'done' | 'pending' | 'failed';
  readonly errors: readonly string[];
}

/** Step 2's revoke of one app key's broker token, followed after the lockdown's own calls (its own store hash; merged in by the report). */
export interface BrokerTokenRevoke {
  /** The app key's keyed fingerprint (as in the audit's broker_token records); never the token. */
  readonly key: string;
  readonly bots: readonly string[];
  /** pending: still live (held by a call, being revoked); revoked: gone (Kiwoom confirmed, or it expired or was refused [8005]); failed: Kiwoom refused the last revoke, a sweep retries. */
  readonly state: 'pending' | 'revoked' | 'failed';
  /** Why the last revoke failed (or the token could not be checked). */
  readonly code?: string;
  readonly attempts?: number;
  /** When this state was seen. */
  readonly at: string;
  /** When a revoke of it last failed (kept once it is revoked). */
  readonly failedAt?: string;
  /** The token generation followed. */
  readonly version?: string;
}

export interface AccountCancel extends Partial<CancelAllReport> {
  readonly account: string;
  readonly viaBot: string;
  /** The bot a retry's cancel-all went through when it was not viaBot (whose key or record was gone): another of the account. */
  readonly sentVia?: string;
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
    /** Orders listed and still open after the cancel-all (an account that could not be listed is not in here). */
    readonly ordersNotCancelled: number;
    /** Accounts whose open orders could not be listed: how many are open there is unknown (absent in older records). */
    readonly accountsNotListed?: number;
  };
}

/** The cancel-all's part of the damage totals, from the accounts' cancel records (the lockdown's or a retry's). */
export function cancelTotals(
  cancels: readonly AccountCancel[],
): Pick<DamageAssessment['totals'], 'ordersCancelled' | 'ordersNotCancelled' | 'accountsNotListed'> {
  return {
    ordersCancelled: cancels.reduce((a, c) => a + (c.cancelled ?? 0), 0),
    ordersNotCancelled: cancels.reduce((a, c) => a + (c.notCancelled?.length ?? 0), 0),
    accountsNotListed: cancels.filter((c) => c.error !== undefined).length,
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
  /** Targets whose credentials were already disabled when the lockdown began: the unlock leaves them off. */
  readonly keptDisabled?: readonly string[];
  /** The scope's trading state operators had set before the lockdown (REDUCING or HALTED): the unlock puts it back. */
  readonly priorTradingState?: { readonly state: 'REDUCING' | 'HALTED'; readonly reason: string };
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
  /** Step 2's broker tokens, one per app key (kept in their own store hash; merged in by the report). */
  readonly brokerTokens?: readonly BrokerTokenRevoke[];
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
  /** What each replica had in flight for the locked bots when it heard the lockdown, and stopped (never sent). */
  readonly stopped?: readonly { readonly replica: string; readonly at: string; readonly ended: number; readonly refused: number }[];
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
