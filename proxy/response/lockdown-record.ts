// The lockdown's own record in the Store: the incident saved, listed (the index `kguard incidents list` reads) and
// counted open (kguard_lockdowns_open). A lockdown is the emergency brake: a Store that fails or stalls here stops
// nothing (the lock flags have their own writes, and a write that timed out may still land), but it must not leave a
// lock nobody can find. So the record is written before any lock flag and again after steps 1-2; a write that fails
// is a failed step the operator sees (the answer still carries the incident's id), and the record is written again
// in the background, the latest copy each time, until it lands.
import type { ResponseConfig } from './config.js';
import type { ResponseContext } from './context.js';
import type { Incident, IncidentReport, StepTiming } from './incident.js';
import type { IncidentStore } from './incident-store.js';
import type { OpenLockdowns } from './open-lockdowns.js';

/** The step a failed record write adds to the incident (the CLI exits 3 on it). */
export const RECORD_STEP = 'record in the shared store';
/** How often, and how long, a record that did not land is written again. */
const RETRY_EVERY_MS = 2_000;
const RETRY_FOR_MS = 15 * 60_000;

export interface LockdownRecorder {
  /** Writes the record as it stands (`first`: before anything else wrote it), lists it and counts it open. Never throws. */
  write(inc: Incident, first: boolean): Promise<void>;
  /** The report of the record as written, or (the Store failing) of the lockdown's own copy. */
  report(inc: Incident): Promise<IncidentReport>;
}

export function lockdownRecorder(ctx: ResponseContext, incidents: IncidentStore, open: OpenLockdowns): LockdownRecorder {
  const { logger, cfg, now } = ctx;
  const retrying = new Set<string>();

  async function attempt(inc: Incident, first: boolean): Promise<void> {
    if (first) await incidents.save(inc);
    else await incidents.saveProgress(inc);
    await incidents.addToIndex(inc);
    await open.opened(inc);
  }

  function retry(inc: Incident): void {
    if (retrying.has(inc.id)) return;
    retrying.add(inc.id);
    const until = now() + RETRY_FOR_MS;
    const again = (): void => {
      const timer = setTimeout(() => {
        attempt(inc, false).then(
          () => {
            retrying.delete(inc.id);
            logger.warn({ incidentId: inc.id }, 'lockdown record written after a failure: the incident is listed');
          },
          (err: unknown) => {
            if (now() < until) return again();
            retrying.delete(inc.id);
            logger.error({ incidentId: inc.id, err: (err as Error).message }, 'lockdown record still not written: unlock needs the incident id from this log');
          },
        );
      }, RETRY_EVERY_MS);
      timer.unref();
    };
    again();
  }

  return {
    async write(inc, first) {
      try {
        await attempt(inc, first);
      } catch (err) {
        const error = (err as Error).message.slice(0, 200);
        logger.error({ incidentId: inc.id, err: error }, 'lockdown record not written; trying again in the background');
        const ms = now() - Date.parse(inc.createdAt);
        const i = inc.steps.findIndex((s) => s.step === RECORD_STEP);
        const before = inc.steps[i];
        const s: StepTiming = {
          step: RECORD_STEP,
          startedMs: before?.startedMs ?? ms,
          endedMs: ms,
          ok: false,
          status: 'failed',
          errors: [...(before?.errors ?? []), error],
        };
        if (before) inc.steps[i] = s;
        else inc.steps.push(s);
        inc.timeline.push({ at: new Date(now()).toISOString(), event: `${RECORD_STEP} FAILED`, detail: error });
        retry(inc);
      }
    },
    report: (inc) => incidents.report(inc).catch(() => snapshotReport(cfg, inc)),
  };
}

/** The report of a lockdown's own copy of its incident: nothing confirmed or approved yet, as it was just issued. */
export function snapshotReport(cfg: ResponseConfig, inc: Incident): IncidentReport {
  return {
    ...inc,
    checklist: cfg.recoverySteps.map((s) => ({ ...s })),
    unlockApprovals: [],
    unlockApprovalsRequired: inc.automatic ? cfg.unlock.automaticApprovers : cfg.unlock.adminTriggeredApprovers,
  };
}
