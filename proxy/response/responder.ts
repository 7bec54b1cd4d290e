// Emergency response: lockdown, the per-call lock check, damage assessment,
// alerts, recovery and unlock. This file only wires the parts together and
// keeps the Responder interface callers depend on; each concern lives in its
// own module:
//   lockdown.ts        issuing a lockdown (timed steps, cancel-all), automatic trigger
//   lockdown-channel.ts every replica hears each lockdown (onLockdown ends its calls there)
//   lock-check.ts      the hot-path "is this bot locked?" check
//   incident-store.ts  incident records, the index, reports
//   token-revokes.ts   step 2's broker tokens followed until Kiwoom revoked them
//   cancel-retries.ts  step 3's cancel-all tried again until Kiwoom confirms it
//   recovery.ts        checklist, unlock approvals, unlock, compensation
//   open-lockdowns.ts  the lockdowns in force now (kguard_lockdowns_open), the same on every replica
//   holdings.ts        holdings baselines and damage assessment
//   alerts.ts          incident alerts, the medium-risk alert cooldown, approval requests and refusals
//   context.ts / keys.ts  what the parts share (options, tracking, store keys)
import type { Language } from '../common/errors.js';
import type { ApprovalWords, RefusalWords } from './alert-text.js';
import { createAlerts } from './alerts.js';
import { type AcceptedOrder, createCancelRetries } from './cancel-retries.js';
import type { CompensationCause } from './config.js';
import { createContext, type ResponderOptions } from './context.js';
import { type BaselineHolding, createHoldings, type HoldingsPage } from './holdings.js';
import type { CompensationWorksheet, Incident, IncidentReport } from './incident.js';
import { createIncidentStore, type IncidentSummary } from './incident-store.js';
import { createLockCheck, type LockCheckCall } from './lock-check.js';
import { createLockdown, type HighRiskCall, type LockdownRequest, type RiskLike } from './lockdown.js';
import { subscribeLockdowns } from './lockdown-channel.js';
import { createOpenLockdowns } from './open-lockdowns.js';
import { snapshotReport } from './lockdown-record.js';
import { createRecovery } from './recovery.js';
import { createTokenRevokes } from './token-revokes.js';
import type { Holding } from './types.js';
import type { Alert } from './webhooks.js';

// Re-exported so index.ts and existing imports of './responder.js' keep working.
export type { ResponderOptions } from './context.js';
export type { IncidentSummary } from './incident-store.js';
export { CONDITIONAL_TRDE_TP, type LockCheckCall } from './lock-check.js';
export type { HighRiskCall, LockdownRequest, RiskLike } from './lockdown.js';

export interface Responder {
  /** The language of its alerts and incident reports (config `language`). */
  readonly language: Language;
  /** How long POST /lockdown waits for the whole lockdown before answering 202 with the incident so far (response.answerWithinMs). */
  readonly lockdownAnswerMs: number;
  lockdown(req: LockdownRequest): Promise<IncidentReport>;
  /** Automatic lockdown for a high-risk call (the pipeline decides "high" with RiskEngine.isHighRisk); no-op when the bot is already locked. */
  onHighRisk(assessment: RiskLike, call: HighRiskCall): Promise<IncidentReport | undefined>;
  /** Medium risk: an alert only, at most once per bot per cooldown. */
  onRiskAlert(assessment: RiskLike, call: HighRiskCall): Promise<void>;
  /** A security alert that opens no incident (e.g. a real Kiwoom app key presented), at most once per `key` per cooldown. */
  onSecurityAlert(key: string, alert: Alert): Promise<void>;
  /** Tells the owner and the admins (the admins only for an admin-level call) that a call waits for their approval. */
  onApprovalRequested(a: ApprovalWords): void;
  /** Tells the owner and the admins that a held call was refused as one the bot did not make. */
  onApprovalRefused(r: RefusalWords): void;
  /** Throws KG3008 while the bot, its account or everything is locked. */
  checkLockdown(call: LockCheckCall): Promise<void>;
  /**
   * An order or modify Kiwoom accepted (its answer just read), or one whose answer was lost (no ordNo): when the bot
   * is locked down by then, it was written before the lock and may have been placed after the cancel-all listed its
   * account, so that runs again now. In the background; resolves when done.
   */
  orderAccepted(o: AcceptedOrder): Promise<void>;
  /** Incident id holding a lock on this bot/account, if any. */
  lockedBy(botId: string, account: string): Promise<string | undefined>;
  /** Records current holdings as the baseline damage assessments compare with. */
  snapshotHoldings(botId: string): Promise<void>;
  /** Quantity held in one stock and its price per the last recorded baseline (undefined when none is known). */
  baselineHolding(account: string, stkCd: string): Promise<BaselineHolding | undefined>;
  /** Records holdings the sidecar already saw (a bot's own complete balance inquiry) as the baseline: no extra broker call. */
  recordHoldings(account: string, holdings: readonly Holding[]): Promise<void>;
  /** One page of a bot's own balance inquiry; true once the whole read is recorded (Holdings.recordHoldingsPage). */
  recordHoldingsPage(page: HoldingsPage): Promise<boolean>;
  get(incidentId: string): Promise<IncidentReport>;
  /** The report of a lockdown's own copy of its incident, when the Store cannot give it (lockdown-record.ts). */
  snapshot(inc: Incident): IncidentReport;
  list(): Promise<IncidentSummary[]>;
  confirmStep(incidentId: string, stepId: string, actor: string, note?: string): Promise<IncidentReport>;
  approveUnlock(incidentId: string, actor: string): Promise<IncidentReport>;
  /** Refused (KG3012) until every required step is confirmed and enough distinct approvers approved. */
  unlock(incidentId: string, actor: string): Promise<IncidentReport>;
  compensation(incidentId: string, cause: CompensationCause, actor: string, opts?: { lossKrw?: number }): Promise<CompensationWorksheet>;
  /** Waits for notifications still being delivered. */
  flush(): Promise<void>;
  /** Shutdown: stops hearing lockdowns and following broker tokens, then flushes. */
  close(): Promise<void>;
}

export function createResponder(opts: ResponderOptions): Responder {
  const ctx = createContext(opts);
  const revokes = createTokenRevokes(ctx);
  const cancelRetries = createCancelRetries(ctx);
  const incidents = createIncidentStore(ctx, revokes, cancelRetries);
  const alerts = createAlerts(ctx);
  const lockCheck = createLockCheck(ctx);
  const holdings = createHoldings(ctx);
  const open = createOpenLockdowns(ctx);
  const { lockdown, onHighRisk } = createLockdown(ctx, { incidents, holdings, alerts, lockCheck, revokes, cancelRetries, open });
  const recovery = createRecovery(ctx, { incidents, alerts, open });
  const channel = opts.onLockdown ? subscribeLockdowns(ctx, opts.onLockdown) : undefined;

  return {
    language: opts.language ?? 'ko',
    lockdownAnswerMs: ctx.cfg.answerWithinMs,
    lockdown,
    onHighRisk,
    onRiskAlert: alerts.onRiskAlert,
    onSecurityAlert: alerts.onSecurityAlert,
    onApprovalRequested: alerts.onApprovalRequested,
    onApprovalRefused: alerts.onApprovalRefused,
    checkLockdown: lockCheck.checkLockdown,
    orderAccepted: (o) =>
      ctx.track(
        lockCheck.lockedBy(o.botId, o.account).then(async (id) => {
          if (!id) return;
          // Money may have moved after the lockdown: the owner and the admins are told at once, not only the log.
          const late = await cancelRetries.acceptedWhileLocked(id, o);
          await alerts.onLateOrder({ incidentId: id, botId: o.botId, ...late });
        }),
      ),
    lockedBy: lockCheck.lockedBy,
    snapshotHoldings: holdings.snapshotHoldings,
    recordHoldings: holdings.recordHoldings,
    recordHoldingsPage: holdings.recordHoldingsPage,
    baselineHolding: holdings.baselineHolding,
    get: incidents.get,
    snapshot: (inc) => snapshotReport(ctx.cfg, inc),
    list: incidents.list,
    confirmStep: recovery.confirmStep,
    approveUnlock: recovery.approveUnlock,
    unlock: recovery.unlock,
    compensation: recovery.compensation,
    flush: ctx.flush,
    async close() {
      revokes.close();
      await cancelRetries.close();
      open.close();
      await channel?.close();
      await ctx.flush();
    },
  };
}
