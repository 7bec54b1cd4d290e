// After a lockdown: operators confirm the recovery checklist and approve the
// unlock; unlock is refused until both are complete, then undoes exactly what
// this incident locked. The compensation worksheet is set here as well, as an
// operator's decision on the incident.
import { GuardError } from '../common/errors.js';
import type { Alerts } from './alerts.js';
import type { CompensationCause } from './config.js';
import { checkActor, tradingScope, type ResponseContext } from './context.js';
import { computeCompensation, type CompensationWorksheet, type Incident, type IncidentReport } from './incident.js';
import type { IncidentStore } from './incident-store.js';
import { CANCEL_STEP } from './cancel-retries.js';
import { K } from './keys.js';
import type { OpenLockdowns } from './open-lockdowns.js';

export interface Recovery {
  confirmStep(incidentId: string, stepId: string, actor: string, note?: string): Promise<IncidentReport>;
  approveUnlock(incidentId: string, actor: string): Promise<IncidentReport>;
  /** Refused (KG3012) until every required step is confirmed and enough distinct approvers approved. */
  unlock(incidentId: string, actor: string): Promise<IncidentReport>;
  compensation(incidentId: string, cause: CompensationCause, actor: string, opts?: { lossKrw?: number }): Promise<CompensationWorksheet>;
}

export function createRecovery(
  ctx: ResponseContext,
  parts: { readonly incidents: IncidentStore; readonly alerts: Alerts; readonly open: OpenLockdowns },
): Recovery {
  const { opts, cfg, store, now, track } = ctx;
  const { incidents, alerts, open } = parts;

  async function confirmStep(id: string, stepId: string, actor: string, note?: string): Promise<IncidentReport> {
    checkActor(actor);
    const inc = await incidents.load(id);
    const stepDef = cfg.recoverySteps.find((s) => s.id === stepId);
    if (!stepDef) throw new GuardError('KG3016', `no recovery step ${stepId}; steps: ${cfg.recoverySteps.map((s) => s.id).join(', ')}`);
    if (inc.status !== 'locked') throw new GuardError('KG3016', 'incident is already unlocked');
    const cleanNote = note
      ? String(note)
          .replace(/[\r\n\t]+/g, ' ')
          .slice(0, 300)
      : undefined;
    await opts.auditor.append({ type: 'recovery', action: 'step_confirmed', incidentId: id, step: stepId, actor, note: cleanNote });
    await store.hset(
      K.checklist(id),
      stepId,
      JSON.stringify({ by: actor, at: new Date(now()).toISOString(), ...(cleanNote ? { note: cleanNote } : {}) }),
      cfg.incidentRetentionMs,
    );
    return incidents.report(inc);
  }

  async function approveUnlock(id: string, actor: string): Promise<IncidentReport> {
    checkActor(actor);
    const inc = await incidents.load(id);
    if (inc.status !== 'locked') throw new GuardError('KG3016', 'incident is already unlocked');
    // Approving again while one's approval counts changes nothing and records nothing: a second audit record read as
    // a second approval, and "approved" twice hid that one more admin is needed.
    const before = await incidents.report(inc);
    if (before.unlockApprovals.some((a) => a.approver === actor)) return before;
    await opts.auditor.append({ type: 'recovery', action: 'unlock_approved', incidentId: id, actor });
    // One field per approver: approving twice does not count twice.
    await store.hset(K.approvals(id), actor, new Date(now()).toISOString(), cfg.incidentRetentionMs);
    return incidents.report(inc);
  }

  /** The lock flags an incident set at its lockdown (step 1). */
  const flagKeys = (inc: Incident): string[] => [
    ...(inc.scope.all ? [K.lockAll] : []),
    ...(inc.scope.account ? [K.lockAccount(inc.scope.account)] : []),
    ...inc.targets.map((t) => K.lockBot(t.botId)),
  ];

  /** Every other incident still locked, newest first. */
  async function otherLockedIncidents(id: string): Promise<Incident[]> {
    const ids = Object.keys(await store.hgetall(K.index)).filter((x) => x !== id);
    // An expired record is no open incident; a store that cannot answer stops the unlock (fail closed).
    const expired = (err: unknown) => {
      if (err instanceof GuardError && err.code === 'KG3015') return undefined;
      throw err;
    };
    const loaded = await Promise.all(ids.map((x) => incidents.load(x).catch(expired)));
    return loaded.filter((o): o is Incident => o?.status === 'locked').sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  async function unlock(id: string, actor: string): Promise<IncidentReport> {
    checkActor(actor);
    const inc = await incidents.load(id);
    if (inc.status !== 'locked') throw new GuardError('KG3016', 'incident is already unlocked');
    const readTimeline = inc.timeline.length;
    const r = await incidents.report(inc);
    const missing = r.checklist.filter((c) => c.required && !c.confirmedBy).map((c) => c.id);
    if (missing.length) throw new GuardError('KG3012', `unconfirmed recovery steps: ${missing.join(', ')}`);
    if (r.unlockApprovals.length < r.unlockApprovalsRequired) {
      throw new GuardError(
        'KG3012',
        `${r.unlockApprovals.length} of ${r.unlockApprovalsRequired} distinct unlock approvals${inc.automatic ? '' : ' (admin-triggered lockdown needs two)'}`,
      );
    }
    // One unlock at a time: a second one pressed meanwhile (another admin, a retried request, another replica) is
    // refused rather than run twice. The claim is also the marker that stops a cancel-all still running (a lockdown
    // answered 202, a retry): a listing Kiwoom answers from now on may hold the orders the bot places after the
    // unlock. It lives claimMs until the flags are cleared, so a process that dies mid-unlock does not block it.
    if (!(await store.setIfAbsent(K.unlocking(id), actor, cfg.unlock.claimMs)))
      throw new GuardError(
        'KG3012',
        `another unlock of this incident is under way, by ${(await store.get(K.unlocking(id)).catch(() => null)) ?? 'another admin'}`,
      );
    const scope = inc.scope;
    let others: Incident[];
    try {
      await opts.auditor.append({ type: 'recovery', action: 'unlocked', incidentId: id, actor, approvers: r.unlockApprovals.map((a) => a.approver) });
      // Another incident still open on the same flag (a second lockdown of the same bot overwrote ours, or ours
      // overwrote its) keeps that flag, the bot's credentials and the scope's HALTED: only the last one frees them.
      others = await otherLockedIncidents(id);
    } catch (err) {
      await store.del(K.unlocking(id)).catch(() => undefined);
      throw err;
    }
    const cancelling = !inc.steps.some((s) => s.step === CANCEL_STEP) || (await store.hget(K.cancelPending, id).catch(() => null)) !== null;
    if (cancelling)
      inc.timeline.push({
        at: new Date(now()).toISOString(),
        event: 'cancel-all stopped by the unlock',
        detail: 'step 3 was still cancelling open orders: no further cancel is sent; what it left open is in step 3',
      });
    const holderOf = (key: string) => others.find((o) => flagKeys(o).includes(key));
    const failed = (event: string, what: string) => (err: unknown) => {
      inc.timeline.push({ at: new Date(now()).toISOString(), event, detail: `${what}: ${(err as Error).message.slice(0, 120)}` });
    };
    // Clear only flags this incident set: a later incident on the same bot keeps its own lock.
    const clearIfOurs = async (key: string) => {
      if ((await store.get(key)) !== id) return;
      const holder = holderOf(key);
      if (holder) await store.set(key, holder.id);
      else await store.del(key);
    };
    await Promise.all([
      ...(scope.all ? [clearIfOurs(K.lockAll)] : []),
      ...(scope.account ? [clearIfOurs(K.lockAccount(scope.account))] : []),
      ...inc.targets.map((t) => clearIfOurs(K.lockBot(t.botId))),
    ]).catch(async (err: unknown) => {
      // Not unlocked after all (the Store failed): the cancel-alls of a lockdown still in force go on.
      await store.del(K.unlocking(id)).catch(() => undefined);
      throw err;
    });
    // Past this point the bot may trade: the marker now stays as long as the incident, for every cancel-all.
    await store.set(K.unlocking(id), actor, cfg.incidentRetentionMs).catch(failed('unlock marker not kept', 'store'));
    // A flag still set after the clears is another incident's: one read at the start (clearIfOurs handed it over) or a
    // lockdown issued while this unlock ran (not yet indexed then). Read afresh, so its credentials stay off and its
    // scope HALTED. Unreadable: held (they stay off).
    const heldNow = async (key: string) => (await store.get(key).catch(() => 'unreadable')) !== null;
    for (const t of inc.targets) {
      if (await heldNow(K.lockBot(t.botId))) continue;
      // Credentials that were off before the lockdown (an operator's kill switch) are not the incident's to turn on.
      if (inc.keptDisabled?.includes(t.botId))
        inc.timeline.push({ at: new Date(now()).toISOString(), event: 'credentials left disabled', detail: `${t.botId}: disabled before the lockdown` });
      else if ((await opts.vault.setEnabled(t.botId, true).catch(failed('credential re-enable failed', t.botId))) === false)
        inc.timeline.push({
          at: new Date(now()).toISOString(),
          event: 'credentials left disabled',
          detail: `${t.botId}: disabled by an operator during the incident (kguard keys enable turns them on)`,
        });
      // The refusal that led here would otherwise lock the bot down again at its first order.
      await opts.onUnlocked?.(t.botId).catch(failed('risk escalation reset failed', t.botId));
    }
    const sameScope = JSON.stringify(tradingScope(scope));
    const scopeFlag = scope.all ? K.lockAll : scope.account ? K.lockAccount(scope.account) : K.lockBot(scope.botId!);
    // Back to what operators had set before the lockdown (reduce-only stays reduce-only), else ACTIVE.
    const prior = inc.priorTradingState;
    if (!others.some((o) => JSON.stringify(tradingScope(o.scope)) === sameScope) && !(await heldNow(scopeFlag)))
      await opts.policy.setTradingState(tradingScope(scope), prior?.state ?? 'ACTIVE', prior?.reason ?? `unlock of incident ${id} by ${actor}`);
    inc.status = 'unlocked';
    inc.unlockedAt = new Date(now()).toISOString();
    inc.unlockedBy = actor;
    inc.timeline.push({ at: inc.unlockedAt, event: 'unlocked', detail: actor });
    // Written onto the record as it is now: a lockdown still running (answered 202) may have saved its later steps
    // since this unlock read it, and those must not be lost (compare-and-set: one saved meanwhile is read again).
    // The lockdown's own saves keep the unlock in turn.
    const saved = await incidents.update(id, (fresh) =>
      fresh
        ? {
            ...fresh,
            status: 'unlocked',
            unlockedAt: inc.unlockedAt,
            unlockedBy: actor,
            timeline: [...fresh.timeline, ...inc.timeline.slice(readTimeline)],
          }
        : inc,
    );
    // No longer counted by kguard_lockdowns_open (an entry left here is dropped at a scrape: the record says unlocked).
    await open.closed(id).catch((err: unknown) => ctx.logger.warn({ incidentId: id, err: (err as Error).message }, 'open lockdown entry not removed'));
    track(
      alerts.notify(
        inc,
        alerts.alertFor(
          inc,
          'unlock',
          'INFO',
          ctx.text.unlock({ bots: inc.targets.map((t) => t.botId), actor, approvers: r.unlockApprovals.map((a) => a.approver) }),
        ),
      ),
    );
    return incidents.report(saved);
  }

  async function compensation(id: string, cause: CompensationCause, actor: string, o?: { lossKrw?: number }): Promise<CompensationWorksheet> {
    checkActor(actor);
    if (typeof cause !== 'string' || !Object.hasOwn(cfg.compensation.rates, cause))
      throw new GuardError('KG3016', `cause must be one of ${Object.keys(cfg.compensation.rates).join(', ')}`);
    if (o?.lossKrw !== undefined && (!Number.isFinite(o.lossKrw) || o.lossKrw < 0)) throw new GuardError('KG3016', 'loss must be a non-negative number of KRW');
    const r = await incidents.report(await incidents.load(id));
    const sheet = computeCompensation(r, cause, actor, cfg.compensation, now(), o?.lossKrw);
    await opts.auditor.append({
      type: 'incident',
      action: 'compensation_set',
      incidentId: id,
      cause,
      actor,
      amountKrw: sheet.amountKrw,
      lossKrw: sheet.lossKrw,
    });
    await store.set(K.compensation(id), JSON.stringify(sheet), cfg.incidentRetentionMs);
    return sheet;
  }

  return { confirmStep, approveUnlock, unlock, compensation };
}
