// Issuing a lockdown. The steps run in order and each is timed:
//   1. disable credentials, trading state HALTED (and the lock flags)
//   2. kill sidecar sessions, revoke outstanding broker tokens (pending until
//      Kiwoom confirms: token-revokes.ts follows them after the lockdown's calls)
//   3. cancel every open order per account (all pages), confirm by listing
//   4. suspend conditional activity (condition-search subscribers)
// A failing step never stops the later ones: a lockdown does as much as it
// can and reports what it could not do. Then the damage assessment and alerts.
import { randomUUID } from 'node:crypto';
import { GuardError } from '../common/errors.js';
import { counter, histogram } from '../common/metrics.js';
import { ACCOUNT_PATTERN, BOT_ID_PATTERN } from '../vault/index.js';
import type { Alerts } from './alerts.js';
import { cancelAll, notConfirmedText, type CancelAllReport } from './cancel-all.js';
import { cancelRecorder, type CancelRecorder } from './cancel-audit.js';
import { CANCEL_STEP, cancelError, type CancelRetries } from './cancel-retries.js';
import { checkActor, maskAccount, tradingScope, type ResponseContext } from './context.js';
import type { Holdings } from './holdings.js';
import type { Incident, IncidentReport, IncidentTrigger, LockdownScope, StepTiming } from './incident.js';
import type { IncidentStore } from './incident-store.js';
import { CHANNEL, K } from './keys.js';
import type { LockCheck } from './lock-check.js';
import type { OpenLockdowns } from './open-lockdowns.js';
import { lockdownRecorder } from './lockdown-record.js';
import { REVOKE_STEP, type TokenRevokes } from './token-revokes.js';

export interface LockdownRequest extends LockdownScope {
  readonly reason: string;
  readonly actor: string;
  readonly automatic?: boolean;
  readonly trigger?: IncidentTrigger;
  /**
   * Told the incident after steps 1 and 2, before the cancel-all waits on Kiwoom; its record may not have reached the
   * Store (lockdown-record.ts), and the answer names it all the same.
   */
  readonly onRecorded?: (inc: Incident) => void;
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
  readonly contributions: readonly {
    readonly detector: string;
    readonly score: number;
    readonly weight: number;
    readonly contribution?: number;
    readonly reason: string;
  }[];
}

export interface Lockdown {
  lockdown(req: LockdownRequest): Promise<IncidentReport>;
  /** Automatic lockdown for a high-risk call; no-op when the bot is already locked. */
  onHighRisk(assessment: RiskLike, call: HighRiskCall): Promise<IncidentReport | undefined>;
}

export interface LockdownParts {
  readonly incidents: IncidentStore;
  readonly holdings: Holdings;
  readonly alerts: Alerts;
  readonly lockCheck: LockCheck;
  readonly revokes: TokenRevokes;
  readonly cancelRetries: CancelRetries;
  readonly open: OpenLockdowns;
}

/** The first `n` distinct detectors of a call's contributions (strongest first; escalation can appear twice). The
 * response part takes the assessment's shape only (RiskLike), not the risk part: risk's detectorsOf, kept apart. */
function topDetectors(contributions: readonly { readonly detector: string }[], n: number): string[] {
  return [...new Set(contributions.map((c) => c.detector))].slice(0, n);
}

/** How long one replica's claim to lock a bot down automatically holds if it dies before releasing it. */
const AUTO_CLAIM_MS = 120_000;

export function createLockdown(ctx: ResponseContext, parts: LockdownParts): Lockdown {
  const { opts, cfg, store, logger, now, track } = ctx;
  const { incidents, holdings, alerts, lockCheck, revokes, cancelRetries, open } = parts;
  const recorder = lockdownRecorder(ctx, incidents, open);
  const lockSeconds = histogram(
    opts.registry,
    'kguard_lockdown_seconds',
    'Lockdown issue to all orders cancelled and confirmed',
    [0.1, 0.25, 0.5, 0.75, 1, 2, 5, 10, 30],
  );
  const lockdowns = counter(opts.registry, 'kguard_lockdowns_total', 'Lockdowns by trigger', ['trigger']);
  // At 0 from start: a series born at 1 shows Prometheus no increase, and the first lockdown would raise no alert.
  for (const trigger of ['manual', 'automatic']) lockdowns.inc({ trigger }, 0);

  /** Credentials found off: an operator's kill switch, unless an open incident turned them off (then as that one says). */
  async function offByOperator(botId: string): Promise<boolean> {
    // Not knowing keeps them off after the unlock (fail closed; kguard keys enable turns them on).
    const holder = await store.get(K.lockBot(botId)).catch(() => undefined);
    if (holder === undefined) return true;
    const earlier = holder ? await incidents.load(holder).catch(() => undefined) : undefined;
    return earlier?.status !== 'locked' || (earlier.keptDisabled?.includes(botId) ?? false);
  }

  /** The scope's own trading-state record before this lockdown; one an open (or earlier) lockdown set hands on its own prior. */
  async function priorTradingState(scope: LockdownScope): Promise<Incident['priorTradingState']> {
    if (!opts.policy.tradingState) return undefined;
    const s = await opts.policy.tradingState(scope.botId ?? '', scope.account ?? '');
    const rec = scope.all ? s.global : scope.account ? s.account : s.bot;
    if (!rec || (rec.state !== 'REDUCING' && rec.state !== 'HALTED')) return undefined;
    const byLockdown = /^lockdown ([0-9a-f-]{36}): /.exec(rec.reason);
    const earlier = byLockdown ? await incidents.load(byLockdown[1]!).catch(() => undefined) : undefined;
    return earlier ? earlier.priorTradingState : { state: rec.state, reason: rec.reason };
  }

  async function resolveTargets(scope: LockdownScope): Promise<{ targets: { botId: string; account: string }[]; keptDisabled: string[] }> {
    const all = await opts.vault.list();
    const inScope = scope.all ? all : scope.account ? all.filter((m) => m.account === scope.account) : all.filter((m) => m.botId === scope.botId);
    const keptDisabled: string[] = [];
    for (const m of inScope.filter((x) => x.enabled === false)) if (await offByOperator(m.botId)) keptDisabled.push(m.botId);
    // A bot without a credential record is still locked (its flag and sessions), just with nothing to cancel.
    if (scope.botId && inScope.length === 0) return { targets: [{ botId: scope.botId, account: '' }], keptDisabled };
    return { targets: inScope.map(({ botId, account }) => ({ botId, account })), keptDisabled };
  }

  async function lockdown(req: LockdownRequest): Promise<IncidentReport> {
    const t0 = now();
    const actor = checkActor(req.actor);
    const reason = String(req.reason ?? '')
      .replace(/[\r\n\t]+/g, ' ')
      .slice(0, 500);
    if (!reason) throw new GuardError('KG3016', 'a lockdown needs a reason');
    const scopes = [req.all ? 1 : 0, req.account ? 1 : 0, req.botId ? 1 : 0].reduce((a, b) => a + b, 0);
    if (scopes !== 1) throw new GuardError('KG3016', 'give exactly one of botId, account or all');
    // A scope no bot or account could have (a stray space, a bidi mark, a path) would lock nothing the operator meant.
    if (req.botId && !BOT_ID_PATTERN.test(req.botId)) throw new GuardError('KG3016', `bot id must match ${BOT_ID_PATTERN}`);
    if (req.account && !ACCOUNT_PATTERN.test(req.account)) throw new GuardError('KG3016', `account must match ${ACCOUNT_PATTERN}`);
    const scope: LockdownScope = req.all ? { all: true } : req.account ? { account: req.account } : { botId: req.botId! };
    const id = randomUUID();
    const at = (ms = now()) => new Date(ms).toISOString();
    const rel = () => now() - t0;
    // The lockdown goes on without the bots' list (the lock flags still stop every call), but the steps that needed it
    // are reported failed: no step may say "done" (nor a cancel-all "confirmed") for bots and accounts it never saw.
    let unresolved: string | undefined;
    const { targets, keptDisabled } = await resolveTargets(scope).catch((err: unknown) => {
      unresolved = `the bots in scope could not be listed (${String((err as Error)?.message ?? err).slice(0, 120)})`;
      return { targets: scope.botId ? [{ botId: scope.botId, account: '' }] : [], keptDisabled: [] };
    });
    const unknownTargets = (what: string) =>
      unresolved
        ? [
            async () => {
              throw new Error(`${what}: ${unresolved}`);
            },
          ]
        : [];
    // An account no bot's record here holds (typed another way: 8888-0000-11, or records this replica does not have):
    // its flag is set all the same, but no credential is disabled and no order cancelled, which steps 1 and 3 must say.
    const noBotOnAccount = (what: string) =>
      scope.account && !unresolved && targets.length === 0
        ? [
            async () => {
              throw new Error(`${what}: no bot's record holds account ${maskAccount(scope.account!)} (give it as kguard bots list shows it)`);
            },
          ]
        : [];
    // Unreadable: the unlock sets ACTIVE, as it always did.
    const prior = await priorTradingState(scope).catch(() => undefined);
    const inc: Incident = {
      id,
      createdAt: at(t0),
      scope,
      targets,
      ...(keptDisabled.length ? { keptDisabled } : {}),
      ...(prior ? { priorTradingState: prior } : {}),
      reason,
      actor,
      automatic: req.automatic === true,
      ...(req.trigger ? { trigger: req.trigger } : {}),
      status: 'locked',
      steps: [],
      cancels: [],
      timings: {},
      notifications: [],
      timeline: [{ at: at(t0), event: 'lockdown issued', detail: `${actor}: ${reason}` }],
    };
    lockdowns.inc({ trigger: inc.automatic ? 'automatic' : 'manual' });
    logger.warn({ incidentId: id, scope, actor, automatic: inc.automatic, bots: targets.length }, 'LOCKDOWN issued');
    // Listed before any lock flag is written: no lock without an incident that can be found and unlocked.
    await recorder.write(inc, true);

    // A step whose effect is confirmed later (step 2: Kiwoom revoking the tokens) is pending until then, not done.
    const step = async (name: string, tasks: (() => Promise<unknown>)[], confirmedLater = false): Promise<StepTiming> => {
      const startedMs = rel();
      const results = await Promise.allSettled(tasks.map((f) => f()));
      const errors = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error)?.message?.slice(0, 200) ?? 'error'] : []));
      const status = errors.length ? 'failed' : confirmedLater ? 'pending' : 'done';
      const s: StepTiming = { step: name, startedMs, endedMs: rel(), ok: status === 'done', status, errors };
      inc.steps.push(s);
      inc.timeline.push({ at: at(), event: `${name} ${status === 'failed' ? 'FAILED' : status}`, ...(errors.length ? { detail: errors.join('; ') } : {}) });
      return s;
    };

    // Step 1: nothing can be decrypted for these bots, trading is HALTED, and every replica sees the lock.
    // Published once the lock flags are written (or failed): a replica that hears it ends the calls it holds,
    // and any call it starts afterwards reads the flags, so no call falls between the two.
    const flagsWritten = [
      ...(scope.all ? [K.lockAll] : []),
      ...(scope.account ? [K.lockAccount(scope.account)] : []),
      ...targets.map((t) => K.lockBot(t.botId)),
    ].map((key) => store.set(key, id));
    await step('1 disable credentials + HALTED', [
      ...flagsWritten.map((written) => () => written),
      ...targets.map((t) => () => opts.vault.setEnabled(t.botId, false)),
      ...unknownTargets('credentials not disabled'),
      ...noBotOnAccount('no credentials disabled'),
      () => opts.policy.setTradingState(tradingScope(scope), 'HALTED', `lockdown ${id}: ${reason}`),
      () => Promise.allSettled(flagsWritten).then(() => store.publish(CHANNEL, JSON.stringify({ incidentId: id, scope }))),
    ]);
    const auditErr = await ctx.auditSafe({
      type: 'lockdown',
      action: 'issued',
      incidentId: id,
      scope,
      actor,
      reason,
      automatic: inc.automatic,
      bots: targets.map((t) => t.botId),
      trigger: req.trigger,
    });
    if (auditErr) inc.timeline.push({ at: at(), event: 'audit', detail: auditErr });

    // Step 2: sessions and broker tokens (the revoke is asked for here; followed after the lockdown's own calls).
    await step(
      REVOKE_STEP,
      [
        ...targets.flatMap((t) => [() => opts.sessions.killAll(t.botId), () => opts.tokens.revokeOutstanding(t.botId)]),
        ...unknownTargets('sessions and broker tokens not ended'),
      ],
      revokes.followed,
    );
    await recorder.write(inc, false);
    req.onRecorded?.(inc);
    track(
      alerts.notify(
        inc,
        alerts.alertFor(
          inc,
          'lockdown',
          'CRITICAL',
          ctx.text.lockdown({
            bots: targets.map((t) => t.botId),
            reason,
            actor,
            automatic: inc.automatic,
            trigger: req.trigger && { score: req.trigger.score, detectors: topDetectors(req.trigger.contributions, 4) },
          }),
        ),
      ),
    );

    // Step 3: one cancel-all per account.
    const byAccount = new Map<string, string>();
    for (const t of targets) if (t.account && !byAccount.has(t.account)) byAccount.set(t.account, t.botId);
    // When each account's confirmation listing came back empty (the broker token is revoked after that, off this clock).
    const confirmedAt: number[] = [];
    // Each cancel sent is recorded in the audit chain beside the cancels; their failures go in the timeline below.
    const recorders: CancelRecorder[] = [];
    await step(CANCEL_STEP, [
      ...unknownTargets('open orders not cancelled'),
      ...noBotOnAccount('no open order cancelled'),
      ...[...byAccount].map(([account, botId]) => async () => {
        const masked = { account: maskAccount(account), viaBot: botId };
        const audit = cancelRecorder(ctx, { incidentId: id, run: 'lockdown', viaBot: botId, account, maskedAccount: masked.account });
        recorders.push(audit);
        // Each error names its account and bot: a later retry (cancel-retries.ts) replaces it in the report.
        let r: CancelAllReport;
        try {
          r = await opts.gateway.withSession(botId, async (s) => {
            const rep = await cancelAll(s, cfg.cancel, undefined, () => ctx.unlockStarted(id), audit.onSent);
            if (rep.confirmed) confirmedAt.push(rel());
            return rep;
          });
        } catch (err) {
          const error = (err as Error).message.slice(0, 200);
          inc.cancels.push({ ...masked, error });
          throw new Error(cancelError(masked, error));
        }
        inc.cancels.push({ ...masked, ...r });
        if (!r.confirmed) throw new Error(cancelError(masked, notConfirmedText(r)));
      }),
    ]);
    // What the lockdown could not confirm cancelled is tried again in the background until Kiwoom confirms it.
    cancelRetries.follow(inc);
    const s3 = inc.steps.at(-1)!;
    if (s3.ok) {
      inc.timings.cancelConfirmedMs = confirmedAt.length ? Math.max(...confirmedAt) : s3.endedMs;
      lockSeconds.observe(inc.timings.cancelConfirmedMs / 1000);
    }

    // Step 4: conditional activity.
    await step(
      '4 suspend conditional activity',
      (opts.conditions ?? []).flatMap((c) => targets.map((t) => () => c.suspendConditions(t))),
    );
    inc.timings.stepsMs = rel();
    for (const err of await Promise.all(recorders.map((r) => r.done()))) if (err) inc.timeline.push({ at: at(), event: 'audit', detail: err });
    await recorder.write(inc, false);

    // Damage assessment, bounded by its deadline.
    const dStart = rel();
    inc.damage = await holdings.assessDamage(inc, t0);
    inc.timings.damageMs = rel() - dStart;
    inc.timeline.push({
      at: at(),
      event: 'damage assessment',
      detail: `${inc.damage.totals.fills} fills, bought ${inc.damage.totals.boughtKrw} KRW, sold ${inc.damage.totals.soldKrw} KRW${inc.damage.complete ? '' : ' (incomplete)'}`,
    });
    inc.timeline.push({ at: at(), event: 'recovery plan', detail: cfg.recoverySteps.map((s) => s.id).join(', ') });
    // The lockdown's own broker calls are over: the key's token goes now, and step 2 says whether it went.
    await revokes.follow(inc).catch((err: unknown) => logger.error({ incidentId: id, err: (err as Error).message }, 'broker tokens not followed'));
    await recorder.write(inc, false);
    await ctx.auditSafe({ type: 'incident', action: 'opened', incidentId: id, timings: inc.timings, steps: inc.steps, totals: inc.damage.totals });
    const d = inc.damage.totals;
    track(
      alerts.notify(
        inc,
        alerts.alertFor(
          inc,
          'damage_assessment',
          'CRITICAL',
          ctx.text.damage({
            fills: d.fills,
            boughtKrw: d.boughtKrw,
            soldKrw: d.soldKrw,
            cancelled: d.ordersCancelled,
            notCancelled: d.ordersNotCancelled,
            notListed: d.accountsNotListed ?? 0,
            lossKrw: d.estimatedLossKrw,
            recovery: cfg.recoverySteps.map((s) => s.title),
          }),
          { timings: inc.timings, totals: d, complete: inc.damage.complete },
        ),
      ),
    );
    return recorder.report(inc);
  }

  async function onHighRisk(assessment: RiskLike, call: HighRiskCall): Promise<IncidentReport | undefined> {
    const existing = await lockCheck.lockedBy(call.botId, call.account ?? '');
    if (existing) return undefined;
    // A burst of high-risk calls (on any replica) all see "not locked" until the first lockdown sets its flags:
    // one claims the bot, the others are refused without opening incidents (and cancel-alls) of their own.
    const claim = K.autoLockdown(call.botId);
    if (!(await store.setIfAbsent(claim, '1', AUTO_CLAIM_MS))) return undefined;
    try {
      if (await lockCheck.lockedBy(call.botId, call.account ?? '')) return undefined;
      return await automatic(assessment, call);
    } finally {
      await store.del(claim).catch(() => undefined);
    }
  }

  function automatic(assessment: RiskLike, call: HighRiskCall): Promise<IncidentReport> {
    return lockdown({
      botId: call.botId,
      reason: `automatic: risk score ${assessment.score} (${topDetectors(assessment.contributions, 3).join(', ')})`,
      actor: 'risk-engine',
      automatic: true,
      trigger: {
        score: assessment.score,
        ...(assessment.level ? { level: assessment.level } : {}),
        contributions: assessment.contributions.map(({ detector, score, weight, contribution, reason }) => ({
          detector,
          score,
          weight,
          ...(contribution !== undefined ? { contribution } : {}),
          reason,
        })),
        ...(call.apiId ? { apiId: call.apiId } : {}),
        ...(call.requestId ? { requestId: call.requestId } : {}),
      },
    });
  }

  return { lockdown, onHighRisk };
}
