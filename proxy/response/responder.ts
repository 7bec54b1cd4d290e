// Emergency lockdown, damage assessment, alerts, recovery and unlock.
// Lockdown runs the issue's steps in order and records when each ran:
//   1. disable credentials, trading state HALTED (and the lock flags)
//   2. kill sidecar sessions, revoke outstanding broker tokens
//   3. cancel every open order per account (all pages), confirm by listing
//   4. suspend conditional activity (condition-search subscribers)
// A failing step never stops the later ones: a lockdown does as much as it
// can and reports what it could not do. Then a damage assessment within its
// deadline, alerts, and a recovery checklist that gates unlock.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Auditor } from '../audit/types.js';
import { GuardError } from '../common/errors.js';
import { counter, histogram } from '../risk/metrics.js';
import type { Store } from '../state/types.js';
import { cancelAll } from './cancel-all.js';
import type { CompensationCause, ResponseConfig } from './config.js';
import {
  computeCompensation, type AccountCancel, type AccountDamage, type ChecklistItem, type CompensationWorksheet, type DamageAssessment,
  type Incident, type IncidentReport, type IncidentTrigger, type LockdownScope, type StepTiming,
} from './incident.js';
import type {
  BrokerGateway, BrokerTokenControl, ConditionSubscriber, CredentialControl, Holding, SessionControl, TradingStateControl,
} from './types.js';
import { createWebhookNotifier, type Alert, type WebhookNotifier } from './webhooks.js';

export interface ResponderOptions {
  readonly config: ResponseConfig;
  readonly gateway: BrokerGateway;
  readonly store: Store;
  readonly vault: CredentialControl;
  readonly sessions: SessionControl;
  readonly policy: TradingStateControl;
  readonly tokens: BrokerTokenControl;
  readonly conditions?: readonly ConditionSubscriber[];
  readonly auditor: Auditor;
  readonly registry: Registry;
  readonly logger: Logger;
  /** Replaces the webhook notifier built from config (tests). */
  readonly notifier?: WebhookNotifier;
  readonly now?: () => number;
}

export interface LockdownRequest extends LockdownScope {
  readonly reason: string;
  readonly actor: string;
  readonly automatic?: boolean;
  readonly trigger?: IncidentTrigger;
}

/** What the pipeline knows about the call that tripped automatic lockdown. */
export interface HighRiskCall {
  readonly botId: string;
  readonly account?: string;
  readonly apiId?: string;
  readonly requestId?: string;
}

export interface RiskLike {
  readonly score: number;
  readonly level?: string;
  readonly contributions: readonly { readonly detector: string; readonly score: number; readonly weight: number; readonly reason: string }[];
}

export interface LockCheckCall {
  readonly botId: string;
  readonly account: string;
  readonly kind?: string;
  readonly body?: unknown;
}

export interface IncidentSummary {
  readonly id: string;
  readonly createdAt: string;
  readonly status: 'locked' | 'unlocked';
  readonly reason: string;
  readonly automatic: boolean;
  readonly bots: readonly string[];
}

export interface Responder {
  lockdown(req: LockdownRequest): Promise<IncidentReport>;
  /** Automatic lockdown for a high-risk call (the pipeline decides "high" with RiskEngine.isHighRisk); no-op when the bot is already locked. */
  onHighRisk(assessment: RiskLike, call: HighRiskCall): Promise<IncidentReport | undefined>;
  /** Medium risk: an alert only, at most once per bot per cooldown. */
  onRiskAlert(assessment: RiskLike, call: HighRiskCall): Promise<void>;
  /** Throws KG3008 while the bot, its account or everything is locked. */
  checkLockdown(call: LockCheckCall): Promise<void>;
  /** Incident id holding a lock on this bot/account, if any. */
  lockedBy(botId: string, account: string): Promise<string | undefined>;
  /** Records current holdings as the baseline damage assessments compare with. */
  snapshotHoldings(botId: string): Promise<void>;
  /** Quantity held in one stock per the last recorded baseline (undefined when none is known). */
  baselineHolding(account: string, stkCd: string): Promise<number | undefined>;
  /** Records holdings the sidecar already saw (a bot's own complete balance inquiry) as the baseline: no extra broker call. */
  recordHoldings(account: string, holdings: readonly Holding[]): Promise<void>;
  get(incidentId: string): Promise<IncidentReport>;
  list(): Promise<IncidentSummary[]>;
  confirmStep(incidentId: string, stepId: string, actor: string, note?: string): Promise<IncidentReport>;
  approveUnlock(incidentId: string, actor: string): Promise<IncidentReport>;
  /** Refused (KG3012) until every required step is confirmed and enough distinct approvers approved. */
  unlock(incidentId: string, actor: string): Promise<IncidentReport>;
  compensation(incidentId: string, cause: CompensationCause, actor: string, opts?: { lossKrw?: number }): Promise<CompensationWorksheet>;
  /** Waits for notifications still being delivered. */
  flush(): Promise<void>;
}

// trde_tp values whose execution depends on a condition (KIWOOM.md): conditional limit, stop-limit.
export const CONDITIONAL_TRDE_TP: ReadonlySet<string> = new Set(['5', '28']);

const K = {
  incident: (id: string) => `response:incident:${id}`,
  checklist: (id: string) => `response:incident:${id}:checklist`,
  approvals: (id: string) => `response:incident:${id}:unlock`,
  compensation: (id: string) => `response:incident:${id}:compensation`,
  notifications: (id: string) => `response:incident:${id}:notifications`,
  index: 'response:incidents',
  lockAll: 'response:lock:all',
  lockBot: (b: string) => `response:lock:bot:${b}`,
  lockAccount: (a: string) => `response:lock:account:${a}`,
  holdings: (a: string) => `response:holdings:${a}`,
  alertCooldown: (b: string) => `response:alerted:${b}`,
};
const CHANNEL = 'response:lockdown';
const ID = /^[0-9a-f-]{36}$/;
const ACTOR = /^[A-Za-z0-9._@:-]{1,64}$/;
/** Bound on locally remembered alert cooldowns (one per bot); beyond it the store alone decides. */
const MAX_REMEMBERED_COOLDOWNS = 10_000;

function maskAccount(a: string): string {
  return a.length <= 4 ? '****' : `${'*'.repeat(a.length - 4)}${a.slice(-4)}`;
}

function checkActor(actor: string): string {
  if (typeof actor !== 'string' || !ACTOR.test(actor)) throw new GuardError('KG3016', `actor must match ${ACTOR}`);
  return actor;
}

function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} exceeded ${ms} ms`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

export function createResponder(opts: ResponderOptions): Responder {
  const { config: cfg, store, logger } = opts;
  const now = opts.now ?? Date.now;
  const notifier = opts.notifier ?? createWebhookNotifier({ webhooks: cfg.webhooks, ...cfg.webhook, logger, registry: opts.registry, now });
  const lockSeconds = histogram(opts.registry, 'kguard_lockdown_seconds', 'Lockdown issue to all orders cancelled and confirmed', [0.1, 0.25, 0.5, 0.75, 1, 2, 5, 10, 30]);
  const lockdowns = counter(opts.registry, 'kguard_lockdowns_total', 'Lockdowns by trigger', ['trigger']);
  const pending = new Set<Promise<unknown>>();

  const track = <T>(p: Promise<T>): Promise<T> => {
    const q = p.catch((err: unknown) => { logger.error({ err: (err as Error).message }, 'background response task failed'); });
    pending.add(q);
    void q.finally(() => pending.delete(q));
    return p;
  };

  async function auditSafe(event: Parameters<Auditor['append']>[0]): Promise<string | undefined> {
    // An emergency stop is never blocked by the audit sink; the failure is recorded in the incident.
    try {
      await opts.auditor.append(event);
      return undefined;
    } catch (err) {
      logger.error({ err: (err as Error).message, type: event.type }, 'audit append failed during response');
      return `audit failed: ${(err as Error).message.slice(0, 120)}`;
    }
  }

  async function saveIncident(inc: Incident): Promise<void> {
    await store.set(K.incident(inc.id), JSON.stringify(inc), cfg.incidentRetentionMs);
  }

  async function loadIncident(id: string): Promise<Incident> {
    if (typeof id !== 'string' || !ID.test(id)) throw new GuardError('KG3015', 'malformed incident id');
    const json = await store.get(K.incident(id));
    if (!json) throw new GuardError('KG3015', `incident ${id}`);
    return JSON.parse(json) as Incident;
  }

  async function report(inc: Incident): Promise<IncidentReport> {
    const [confirmed, approvals, comp, sent] = await Promise.all([
      store.hgetall(K.checklist(inc.id)), store.hgetall(K.approvals(inc.id)), store.get(K.compensation(inc.id)), store.hgetall(K.notifications(inc.id)),
    ]);
    const notifications = [...inc.notifications, ...Object.keys(sent).sort().map((k) => JSON.parse(sent[k]!) as Incident['notifications'][number])];
    const checklist: ChecklistItem[] = cfg.recoverySteps.map((s) => {
      const c = confirmed[s.id] ? (JSON.parse(confirmed[s.id]!) as { by: string; at: string; note?: string }) : undefined;
      return { ...s, ...(c ? { confirmedBy: c.by, confirmedAt: c.at, ...(c.note ? { note: c.note } : {}) } : {}) };
    });
    return {
      ...inc,
      notifications,
      checklist,
      unlockApprovals: Object.entries(approvals).map(([approver, at]) => ({ approver, at })).sort((a, b) => a.at.localeCompare(b.at)),
      unlockApprovalsRequired: inc.automatic ? cfg.unlock.automaticApprovers : cfg.unlock.adminTriggeredApprovers,
      ...(comp ? { compensation: JSON.parse(comp) as CompensationWorksheet } : {}),
    };
  }

  async function resolveTargets(scope: LockdownScope): Promise<{ botId: string; account: string }[]> {
    const all = await opts.vault.list();
    if (scope.all) return all.map(({ botId, account }) => ({ botId, account }));
    if (scope.account) return all.filter((m) => m.account === scope.account).map(({ botId, account }) => ({ botId, account }));
    const found = all.find((m) => m.botId === scope.botId);
    // A bot without a credential record is still locked (its flag and sessions), just with nothing to cancel.
    return [{ botId: scope.botId!, account: found?.account ?? '' }];
  }

  function alertFor(inc: Incident, event: Alert['event'], severity: Alert['severity'], title: string, lines: string[], details?: Record<string, unknown>): Alert {
    return { event, severity, audience: ['owner', 'admin'], title, incidentId: inc.id, botIds: inc.targets.map((t) => t.botId), lines, ...(details ? { details } : {}) };
  }

  async function notify(inc: Incident, alert: Alert): Promise<void> {
    const results = await notifier.notify(alert);
    // A field of its own per delivery: the lockdown that is still writing the incident
    // document must not overwrite (or be overwritten by) a delivery that finished meanwhile.
    const at = new Date(now()).toISOString();
    await store.hset(K.notifications(inc.id), `${at}|${alert.event}|${randomUUID().slice(0, 8)}`, JSON.stringify({ event: alert.event, at, results }), cfg.incidentRetentionMs);
  }

  async function holdingsBaseline(account: string): Promise<{ at: string; holdings: Holding[] } | undefined> {
    const json = await store.get(K.holdings(account));
    return json ? (JSON.parse(json) as { at: string; holdings: Holding[] }) : undefined;
  }

  async function assessAccount(botId: string, account: string, since: number): Promise<AccountDamage> {
    const [fills, holdings] = await opts.gateway.withSession(botId, (s) => Promise.all([s.fills(since), s.holdings()]));
    const baseline = await holdingsBaseline(account);
    const priceOf = new Map(holdings.map((h) => [h.stkCd.replace(/_(NX|AL)$/, ''), h.price]));
    let bought = 0, sold = 0, loss = 0;
    for (const f of fills) {
      const notional = f.qty * f.price;
      const cur = priceOf.get(f.stkCd.replace(/^A/, '').replace(/_(NX|AL)$/, ''));
      if (f.side === 'buy') {
        bought += notional;
        if (cur !== undefined) loss += Math.max(0, (f.price - cur) * f.qty);
      } else if (f.side === 'sell') {
        sold += notional;
        if (cur !== undefined) loss += Math.max(0, (cur - f.price) * f.qty);
      }
    }
    const baseQty = new Map((baseline?.holdings ?? []).map((h) => [h.stkCd, h]));
    const symbols = new Set([...holdings.map((h) => h.stkCd), ...baseQty.keys()]);
    const deltas = [...symbols].map((stkCd) => {
      const h = holdings.find((x) => x.stkCd === stkCd);
      const b = baseQty.get(stkCd);
      const price = h?.price ?? b?.price ?? 0;
      return { stkCd, qty: h?.qty ?? 0, ...(baseline ? { baselineQty: b?.qty ?? 0 } : {}), price, valueKrw: (h?.qty ?? 0) * price };
    });
    return {
      account: maskAccount(account),
      fills: fills.slice(0, 500),
      boughtKrw: bought,
      soldKrw: sold,
      holdings: deltas,
      holdingsValueKrw: deltas.reduce((a, d) => a + d.valueKrw, 0),
      ...(baseline ? { baselineValueKrw: baseline.holdings.reduce((a, h) => a + h.qty * h.price, 0), baselineAt: baseline.at } : {}),
      estimatedLossKrw: Math.round(loss),
    };
  }

  async function assessDamage(inc: Incident, t0: number): Promise<DamageAssessment> {
    const start = now();
    const since = t0 - cfg.damage.lookbackMs;
    const byAccount = new Map<string, string>();
    for (const t of inc.targets) if (t.account && !byAccount.has(t.account)) byAccount.set(t.account, t.botId);
    const accounts = await Promise.all([...byAccount].map(async ([account, botId]): Promise<AccountDamage> => {
      try {
        return await withDeadline(assessAccount(botId, account, since), cfg.damage.deadlineMs, 'damage assessment');
      } catch (err) {
        return { account: maskAccount(account), fills: [], boughtKrw: 0, soldKrw: 0, holdings: [], holdingsValueKrw: 0, estimatedLossKrw: 0, error: (err as Error).message.slice(0, 200) };
      }
    }));
    const sum = (f: (a: AccountDamage) => number) => accounts.reduce((a, x) => a + f(x), 0);
    return {
      windowStart: new Date(since).toISOString(),
      windowEnd: new Date(now()).toISOString(),
      complete: accounts.every((a) => !a.error),
      tookMs: now() - start,
      accounts,
      totals: {
        fills: sum((a) => a.fills.length),
        boughtKrw: sum((a) => a.boughtKrw),
        soldKrw: sum((a) => a.soldKrw),
        estimatedLossKrw: sum((a) => a.estimatedLossKrw),
        ordersCancelled: inc.cancels.reduce((a, c) => a + (c.cancelled ?? 0), 0),
        ordersNotCancelled: inc.cancels.reduce((a, c) => a + (c.notCancelled?.length ?? 0) + (c.error ? 1 : 0), 0),
      },
    };
  }

  async function lockdown(req: LockdownRequest): Promise<IncidentReport> {
    const t0 = now();
    const actor = checkActor(req.actor);
    const reason = String(req.reason ?? '').replace(/[\r\n\t]+/g, ' ').slice(0, 500);
    if (!reason) throw new GuardError('KG3016', 'a lockdown needs a reason');
    const scopes = [req.all ? 1 : 0, req.account ? 1 : 0, req.botId ? 1 : 0].reduce((a, b) => a + b, 0);
    if (scopes !== 1) throw new GuardError('KG3016', 'give exactly one of botId, account or all');
    const scope: LockdownScope = req.all ? { all: true } : req.account ? { account: req.account } : { botId: req.botId! };
    const id = randomUUID();
    const at = (ms = now()) => new Date(ms).toISOString();
    const rel = () => now() - t0;
    const targets = await resolveTargets(scope).catch(() => (scope.botId ? [{ botId: scope.botId, account: '' }] : []));
    const inc: Incident = {
      id, createdAt: at(t0), scope, targets, reason, actor, automatic: req.automatic === true,
      ...(req.trigger ? { trigger: req.trigger } : {}),
      status: 'locked', steps: [], cancels: [], timings: {}, notifications: [], timeline: [{ at: at(t0), event: 'lockdown issued', detail: `${actor}: ${reason}` }],
    };
    lockdowns.inc({ trigger: inc.automatic ? 'automatic' : 'manual' });
    logger.warn({ incidentId: id, scope, actor, automatic: inc.automatic, bots: targets.length }, 'LOCKDOWN issued');

    const step = async (name: string, tasks: (() => Promise<unknown>)[]): Promise<StepTiming> => {
      const startedMs = rel();
      const results = await Promise.allSettled(tasks.map((f) => f()));
      const errors = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error)?.message?.slice(0, 200) ?? 'error'] : []));
      const s: StepTiming = { step: name, startedMs, endedMs: rel(), ok: errors.length === 0, errors };
      inc.steps.push(s);
      inc.timeline.push({ at: at(), event: `${name} ${s.ok ? 'done' : 'FAILED'}`, ...(errors.length ? { detail: errors.join('; ') } : {}) });
      return s;
    };

    // Step 1: nothing can be decrypted for these bots, trading is HALTED, and every replica sees the lock.
    const lockScope = scope.all ? { global: true as const } : scope.account ? { account: scope.account } : { botId: scope.botId! };
    await step('1 disable credentials + HALTED', [
      ...(scope.all ? [() => store.set(K.lockAll, id)] : []),
      ...(scope.account ? [() => store.set(K.lockAccount(scope.account!), id)] : []),
      ...targets.map((t) => () => store.set(K.lockBot(t.botId), id)),
      ...targets.map((t) => () => opts.vault.setEnabled(t.botId, false)),
      () => opts.policy.setTradingState(lockScope, 'HALTED', `lockdown ${id}: ${reason}`),
      () => store.publish(CHANNEL, JSON.stringify({ incidentId: id, scope })),
    ]);
    const auditErr = await auditSafe({ type: 'lockdown', action: 'issued', incidentId: id, scope, actor, reason, automatic: inc.automatic, bots: targets.map((t) => t.botId), trigger: req.trigger });
    if (auditErr) inc.timeline.push({ at: at(), event: 'audit', detail: auditErr });

    // Step 2: sessions and broker tokens.
    await step('2 kill sessions + revoke broker tokens', targets.flatMap((t) => [() => opts.sessions.killAll(t.botId), () => opts.tokens.revokeOutstanding(t.botId)]));
    await saveIncident(inc);
    await store.hset(K.index, id, inc.createdAt, cfg.incidentRetentionMs);
    track(notify(inc, alertFor(inc, 'lockdown', 'CRITICAL', `Lockdown: ${targets.map((t) => t.botId).join(', ') || 'no bots'}`, [
      `reason: ${reason}`, `by: ${actor}${inc.automatic ? ' (automatic)' : ''}`,
      ...(req.trigger ? [`risk score ${req.trigger.score}: ${req.trigger.contributions.slice(0, 4).map((c) => c.detector).join(', ')}`] : []),
      'credentials disabled, trading HALTED, sessions and broker tokens revoked; cancelling open orders',
    ])));

    // Step 3: one cancel-all per account.
    const byAccount = new Map<string, string>();
    for (const t of targets) if (t.account && !byAccount.has(t.account)) byAccount.set(t.account, t.botId);
    // When each account's confirmation listing came back empty (the broker token is revoked after that, off this clock).
    const confirmedAt: number[] = [];
    await step('3 cancel all open orders', [...byAccount].map(([account, botId]) => async () => {
      try {
        const r = await opts.gateway.withSession(botId, async (s) => {
          const rep = await cancelAll(s, cfg.cancel);
          if (rep.confirmed) confirmedAt.push(rel());
          return rep;
        });
        inc.cancels.push({ account: maskAccount(account), viaBot: botId, ...r });
        if (!r.confirmed) throw new Error(`${r.notCancelled.length} order(s) on ${maskAccount(account)} could not be cancelled`);
      } catch (err) {
        if (!inc.cancels.some((c) => c.viaBot === botId)) inc.cancels.push({ account: maskAccount(account), viaBot: botId, error: (err as Error).message.slice(0, 200) });
        throw err;
      }
    }));
    const s3 = inc.steps.at(-1)!;
    if (s3.ok) {
      inc.timings.cancelConfirmedMs = confirmedAt.length ? Math.max(...confirmedAt) : s3.endedMs;
      lockSeconds.observe(inc.timings.cancelConfirmedMs / 1000);
    }

    // Step 4: conditional activity.
    await step('4 suspend conditional activity', (opts.conditions ?? []).flatMap((c) => targets.map((t) => () => c.suspendConditions(t))));
    inc.timings.stepsMs = rel();
    await saveIncident(inc);

    // Damage assessment, bounded by its deadline.
    const dStart = rel();
    inc.damage = await assessDamage(inc, t0);
    inc.timings.damageMs = rel() - dStart;
    inc.timeline.push({ at: at(), event: 'damage assessment', detail: `${inc.damage.totals.fills} fills, bought ${inc.damage.totals.boughtKrw} KRW, sold ${inc.damage.totals.soldKrw} KRW${inc.damage.complete ? '' : ' (incomplete)'}` });
    inc.timeline.push({ at: at(), event: 'recovery plan', detail: cfg.recoverySteps.map((s) => s.id).join(', ') });
    await saveIncident(inc);
    await auditSafe({ type: 'incident', action: 'opened', incidentId: id, timings: inc.timings, steps: inc.steps, totals: inc.damage.totals });
    const d = inc.damage.totals;
    track(notify(inc, alertFor(inc, 'damage_assessment', 'CRITICAL', 'Damage assessment', [
      `fills in window: ${d.fills}; bought ${d.boughtKrw.toLocaleString('en-US')} KRW; sold ${d.soldKrw.toLocaleString('en-US')} KRW`,
      `orders cancelled: ${d.ordersCancelled}; NOT cancelled: ${d.ordersNotCancelled}`,
      `estimated loss (lower bound): ${d.estimatedLossKrw.toLocaleString('en-US')} KRW`,
      `recovery: ${cfg.recoverySteps.map((s) => s.title).join(' → ')}`,
    ], { timings: inc.timings, totals: d, complete: inc.damage.complete })));
    return report(inc);
  }

  const alertedUntil = new Map<string, number>();

  async function lockedBy(botId: string, account: string): Promise<string | undefined> {
    // One MGET: the lockdown check sits on every call's path.
    const [all, bot, acct] = await store.mget(account ? [K.lockAll, K.lockBot(botId), K.lockAccount(account)] : [K.lockAll, K.lockBot(botId)]);
    return all ?? bot ?? acct ?? undefined;
  }

  async function recordHoldings(account: string, holdings: readonly Holding[]): Promise<void> {
    await store.set(K.holdings(account), JSON.stringify({ at: new Date(now()).toISOString(), holdings }), 30 * 86_400_000);
  }

  const responder: Responder = {
    lockdown,

    async onHighRisk(assessment, call) {
      const existing = await lockedBy(call.botId, call.account ?? '');
      if (existing) return undefined;
      return lockdown({
        botId: call.botId,
        reason: `automatic: risk score ${assessment.score} (${assessment.contributions.slice(0, 3).map((c) => c.detector).join(', ')})`,
        actor: 'risk-engine',
        automatic: true,
        trigger: { score: assessment.score, ...(assessment.level ? { level: assessment.level } : {}), contributions: assessment.contributions.map(({ detector, score, weight, reason }) => ({ detector, score, weight, reason })), ...(call.apiId ? { apiId: call.apiId } : {}), ...(call.requestId ? { requestId: call.requestId } : {}) },
      });
    },

    async onRiskAlert(assessment, call) {
      if (cfg.alertCooldownMs > 0) {
        // A cooldown this replica started itself is remembered here, so the
        // orders during it send no SET NX; one started elsewhere is still asked.
        const t = now();
        if ((alertedUntil.get(call.botId) ?? 0) > t) return;
        if (!(await store.setIfAbsent(K.alertCooldown(call.botId), '1', cfg.alertCooldownMs))) return;
        if (alertedUntil.size >= MAX_REMEMBERED_COOLDOWNS) for (const [b, until] of alertedUntil) if (until <= t) alertedUntil.delete(b);
        if (alertedUntil.size < MAX_REMEMBERED_COOLDOWNS) alertedUntil.set(call.botId, t + cfg.alertCooldownMs);
      }
      const alert: Alert = {
        event: 'risk_alert', severity: 'WARNING', audience: ['owner', 'admin'], title: `Unusual activity: ${call.botId}`, botIds: [call.botId],
        lines: [`risk score ${assessment.score}${call.apiId ? ` on ${call.apiId}` : ''}`, ...assessment.contributions.slice(0, 5).map((c) => `${c.detector}: ${c.reason}`)],
      };
      track(notifier.notify(alert));
    },

    async checkLockdown(call) {
      // Lock flags live in the shared store: if it was wiped, "no flag" proves nothing (fail closed until confirmed).
      if (store.flushDetected()) throw new GuardError('KG7003', 'lockdown flags may have been lost');
      const id = await lockedBy(call.botId, call.account);
      if (!id) return;
      const tp = call.body && typeof call.body === 'object' ? (call.body as Record<string, unknown>).trde_tp : undefined;
      const conditional = typeof tp === 'string' && CONDITIONAL_TRDE_TP.has(tp);
      throw new GuardError('KG3008', conditional ? `incident ${id}; conditional orders suspended` : `incident ${id}`);
    },

    lockedBy,

    async snapshotHoldings(botId) {
      const all = await opts.vault.list();
      const account = all.find((m) => m.botId === botId)?.account;
      if (!account) throw new GuardError('KG4003', botId);
      await recordHoldings(account, await opts.gateway.withSession(botId, (s) => s.holdings()));
    },

    recordHoldings,

    async baselineHolding(account, stkCd) {
      const base = await holdingsBaseline(account);
      if (!base) return undefined;
      const code = stkCd.replace(/_(NX|AL)$/, '');
      return base.holdings.filter((h) => h.stkCd.replace(/_(NX|AL)$/, '') === code).reduce((sum, h) => sum + h.qty, 0);
    },

    async get(id) {
      return report(await loadIncident(id));
    },

    async list() {
      const index = await store.hgetall(K.index);
      const out: IncidentSummary[] = [];
      for (const id of Object.keys(index)) {
        const json = await store.get(K.incident(id));
        if (!json) {
          await store.hdel(K.index, id);
          continue;
        }
        const inc = JSON.parse(json) as Incident;
        out.push({ id, createdAt: inc.createdAt, status: inc.status, reason: inc.reason, automatic: inc.automatic, bots: inc.targets.map((t) => t.botId) });
      }
      return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    },

    async confirmStep(id, stepId, actor, note) {
      checkActor(actor);
      const inc = await loadIncident(id);
      const stepDef = cfg.recoverySteps.find((s) => s.id === stepId);
      if (!stepDef) throw new GuardError('KG3016', `no recovery step ${stepId}; steps: ${cfg.recoverySteps.map((s) => s.id).join(', ')}`);
      if (inc.status !== 'locked') throw new GuardError('KG3016', 'incident is already unlocked');
      const cleanNote = note ? String(note).replace(/[\r\n\t]+/g, ' ').slice(0, 300) : undefined;
      await opts.auditor.append({ type: 'recovery', action: 'step_confirmed', incidentId: id, step: stepId, actor, note: cleanNote });
      await store.hset(K.checklist(id), stepId, JSON.stringify({ by: actor, at: new Date(now()).toISOString(), ...(cleanNote ? { note: cleanNote } : {}) }), cfg.incidentRetentionMs);
      return report(inc);
    },

    async approveUnlock(id, actor) {
      checkActor(actor);
      const inc = await loadIncident(id);
      if (inc.status !== 'locked') throw new GuardError('KG3016', 'incident is already unlocked');
      await opts.auditor.append({ type: 'recovery', action: 'unlock_approved', incidentId: id, actor });
      await store.hset(K.approvals(id), actor, new Date(now()).toISOString(), cfg.incidentRetentionMs);
      return report(inc);
    },

    async unlock(id, actor) {
      checkActor(actor);
      const inc = await loadIncident(id);
      if (inc.status !== 'locked') throw new GuardError('KG3016', 'incident is already unlocked');
      const r = await report(inc);
      const missing = r.checklist.filter((c) => c.required && !c.confirmedBy).map((c) => c.id);
      if (missing.length) throw new GuardError('KG3012', `unconfirmed recovery steps: ${missing.join(', ')}`);
      if (r.unlockApprovals.length < r.unlockApprovalsRequired) {
        throw new GuardError('KG3012', `${r.unlockApprovals.length} of ${r.unlockApprovalsRequired} distinct unlock approvals${inc.automatic ? '' : ' (admin-triggered lockdown needs two)'}`);
      }
      await opts.auditor.append({ type: 'recovery', action: 'unlocked', incidentId: id, actor, approvers: r.unlockApprovals.map((a) => a.approver) });
      const scope = inc.scope;
      const lockScope = scope.all ? { global: true as const } : scope.account ? { account: scope.account } : { botId: scope.botId! };
      // Clear only flags this incident set: a later incident on the same bot keeps its own lock.
      const clearIfOurs = async (key: string) => { if ((await store.get(key)) === id) await store.del(key); };
      await Promise.all([
        ...(scope.all ? [clearIfOurs(K.lockAll)] : []),
        ...(scope.account ? [clearIfOurs(K.lockAccount(scope.account))] : []),
        ...inc.targets.map((t) => clearIfOurs(K.lockBot(t.botId))),
      ]);
      for (const t of inc.targets) await opts.vault.setEnabled(t.botId, true).catch((err: unknown) => {
        inc.timeline.push({ at: new Date(now()).toISOString(), event: 'credential re-enable failed', detail: `${t.botId}: ${(err as Error).message.slice(0, 120)}` });
      });
      await opts.policy.setTradingState(lockScope, 'ACTIVE', `unlock of incident ${id} by ${actor}`);
      await store.publish(CHANNEL, JSON.stringify({ incidentId: id, unlocked: true }));
      inc.status = 'unlocked';
      inc.unlockedAt = new Date(now()).toISOString();
      inc.unlockedBy = actor;
      inc.timeline.push({ at: inc.unlockedAt, event: 'unlocked', detail: actor });
      await saveIncident(inc);
      track(notify(inc, alertFor(inc, 'unlock', 'INFO', `Unlocked: ${inc.targets.map((t) => t.botId).join(', ')}`, [`by ${actor}`, `approvals: ${r.unlockApprovals.map((a) => a.approver).join(', ')}`])));
      return report(inc);
    },

    async compensation(id, cause, actor, o) {
      checkActor(actor);
      if (!(cause in cfg.compensation.rates)) throw new GuardError('KG3016', `cause must be one of ${Object.keys(cfg.compensation.rates).join(', ')}`);
      if (o?.lossKrw !== undefined && (!Number.isFinite(o.lossKrw) || o.lossKrw < 0)) throw new GuardError('KG3016', 'loss must be a non-negative number of KRW');
      const r = await report(await loadIncident(id));
      const sheet = computeCompensation(r, cause, actor, cfg.compensation, now(), o?.lossKrw);
      await opts.auditor.append({ type: 'incident', action: 'compensation_set', incidentId: id, cause, actor, amountKrw: sheet.amountKrw, lossKrw: sheet.lossKrw });
      await store.set(K.compensation(id), JSON.stringify(sheet), cfg.incidentRetentionMs);
      return sheet;
    },

    async flush() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
  };
  return responder;
}
