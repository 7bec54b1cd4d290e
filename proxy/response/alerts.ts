// Alerts to the bot owner and admins: incident alerts (lockdown, damage
// assessment, unlock), whose deliveries are recorded on the incident, and the
// medium-risk "unusual activity" alert, rate-limited per bot by a cooldown,
// and the alerts that a call waits for approval or was refused as not the bot's.
import { randomUUID } from 'node:crypto';
import type { AlertWords, ApprovalWords, LateOrderWords, RefusalWords } from './alert-text.js';
import type { ResponseContext } from './context.js';
import type { Incident } from './incident.js';
import { K } from './keys.js';
import type { HighRiskCall, RiskLike } from './lockdown.js';
import type { Alert } from './webhooks.js';

export interface Alerts {
  alertFor(inc: Incident, event: Alert['event'], severity: Alert['severity'], words: AlertWords, details?: Record<string, unknown>): Alert;
  /** Delivers an incident alert and records the delivery results on the incident. */
  notify(inc: Pick<Incident, 'id'>, alert: Alert): Promise<void>;
  /** An order Kiwoom accepted (or may have) for a bot already locked down: told at once, recorded on the incident. */
  onLateOrder(l: LateOrderWords): Promise<void>;
  /** Medium risk: an alert only, at most once per bot per cooldown. */
  onRiskAlert(assessment: RiskLike, call: HighRiskCall): Promise<void>;
  /** A security event that is no incident (a real Kiwoom key in a bot's hands): at most once per `key` per cooldown. */
  onSecurityAlert(key: string, alert: Alert): Promise<void>;
  /**
   * A call held for approval: every one is told (bounded by approval.maxPending and escalation), to the owner and the
   * admins for a step-up, to the admins for an admin-level call (the owner may not approve it).
   */
  onApprovalRequested(a: ApprovalWords): void;
  /** A held call refused as one the bot did not make: a sign of compromise, told to the owner and the admins at once. */
  onApprovalRefused(r: RefusalWords): void;
}

/** Bound on locally remembered alert cooldowns (one per bot); beyond it the store alone decides. */
const MAX_REMEMBERED_COOLDOWNS = 10_000;

export function createAlerts(ctx: ResponseContext): Alerts {
  const { cfg, store, now, notifier, text } = ctx;
  const alertedUntil = new Map<string, number>();

  function alertFor(inc: Incident, event: Alert['event'], severity: Alert['severity'], words: AlertWords, details?: Record<string, unknown>): Alert {
    return {
      event,
      severity,
      audience: ['owner', 'admin'],
      ...words,
      incidentId: inc.id,
      botIds: inc.targets.map((t) => t.botId),
      ...(details ? { details } : {}),
    };
  }

  async function notify(inc: Pick<Incident, 'id'>, alert: Alert): Promise<void> {
    const results = await notifier.notify(alert);
    // A field of its own per delivery: the lockdown that is still writing the incident
    // document must not overwrite (or be overwritten by) a delivery that finished meanwhile.
    const at = new Date(now()).toISOString();
    await store.hset(
      K.notifications(inc.id),
      `${at}|${alert.event}|${randomUUID().slice(0, 8)}`,
      JSON.stringify({ event: alert.event, at, results }),
      cfg.incidentRetentionMs,
    );
  }

  async function onRiskAlert(assessment: RiskLike, call: HighRiskCall): Promise<void> {
    if (cfg.alertCooldownMs > 0) {
      // A cooldown this replica started itself is remembered here, so the
      // orders during it send no SET NX; one started elsewhere is still asked.
      const t = now();
      if ((alertedUntil.get(call.botId) ?? 0) > t) return;
      if (!(await store.setIfAbsent(K.alertCooldown(call.botId), '1', cfg.alertCooldownMs))) return;
      if (alertedUntil.size >= MAX_REMEMBERED_COOLDOWNS) for (const [b, until] of alertedUntil) if (until <= t) alertedUntil.delete(b);
      if (alertedUntil.size < MAX_REMEMBERED_COOLDOWNS) alertedUntil.set(call.botId, t + cfg.alertCooldownMs);
    }
    const words = text.risk({ botId: call.botId, score: assessment.score, apiId: call.apiId, reasons: assessment.contributions });
    const alert: Alert = { event: 'risk_alert', severity: 'WARNING', audience: ['owner', 'admin'], botIds: [call.botId], ...words };
    ctx.track(notifier.notify(alert));
  }

  async function onSecurityAlert(key: string, alert: Alert): Promise<void> {
    if (cfg.alertCooldownMs > 0 && !(await store.setIfAbsent(K.alertCooldown(`security:${alert.event}:${key}`), '1', cfg.alertCooldownMs))) return;
    ctx.track(notifier.notify(alert));
  }

  function onApprovalRequested(a: ApprovalWords): void {
    ctx.track(
      notifier.notify({
        event: 'approval_requested',
        severity: 'WARNING',
        audience: a.level === 'admin' ? ['admin'] : ['owner', 'admin'],
        botIds: [a.botId],
        ...text.approval(a),
        details: {
          approvalId: a.id,
          botId: a.botId,
          apiId: a.apiId,
          level: a.level,
          score: a.score,
          expiresAt: a.expiresAt,
          summary: a.summary,
          ...(a.ruleId ? { ruleId: a.ruleId } : {}),
        },
      }),
    );
  }

  function onApprovalRefused(r: RefusalWords): void {
    ctx.track(
      notifier.notify({
        event: 'approval_refused',
        severity: 'CRITICAL',
        audience: ['owner', 'admin'],
        botIds: [r.botId],
        ...text.refusal(r),
        details: { approvalId: r.id, botId: r.botId, apiId: r.apiId, approver: r.approver, summary: r.summary },
      }),
    );
  }

  function onLateOrder(l: LateOrderWords): Promise<void> {
    const details = { apiId: l.apiId, account: l.account, confirmed: l.confirmed, ...(l.ordNo ? { ordNo: l.ordNo } : { requestId: l.requestId }) };
    const alert: Alert = {
      event: 'late_order',
      severity: 'CRITICAL',
      audience: ['owner', 'admin'],
      ...text.lateOrder(l),
      incidentId: l.incidentId,
      botIds: [l.botId],
      details,
    };
    return ctx.track(notify({ id: l.incidentId }, alert));
  }

  return { alertFor, notify, onLateOrder, onRiskAlert, onSecurityAlert, onApprovalRequested, onApprovalRefused };
}
