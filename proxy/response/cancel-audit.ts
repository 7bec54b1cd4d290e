// The audit chain's record of each cancel the sidecar itself sends during a
// lockdown: the lockdown's own cancel-all, its retries and the cancel-all run
// again for an order accepted after the lockdown. One record per cancel (per
// order and run), not one per cancel-all: a 500-order account would make a
// record of 55 to 100 KB, at or past audit.maxRecordBytes (64 KiB, refused
// whole beyond it), and the auditor keeps only the first 256 items of a list;
// one record per cancel is a line a grep for the order number finds, and a
// receipt can prove, on its own. The account goes under `account`, so the
// audit's hmacFields mask it as they mask a call's; the order number under
// `orderNo`, as in a call's outcome. The replica that sent it is the record's
// own `replica`. The records are appended beside the cancels, never before
// them: at most cancel.concurrency at a time per run (the cancels' own width,
// so a lockdown cannot flood the sink the bots' calls need), and a failure is
// returned to be written in the incident, never thrown.
import type { CancelSent } from './cancel-all.js';
import type { ResponseContext } from './context.js';

/** Which of the lockdown's cancel-alls sent the cancel. */
export type CancelRun = 'lockdown' | 'retry' | 'late-order';

export interface CancelRecorder {
  /** Given to cancelAll: records one cancel (in the background). */
  readonly onSent: (c: CancelSent) => void;
  /** Waits for the records told so far; what failed, for the incident (undefined: all recorded). */
  done(): Promise<string | undefined>;
}

export interface CancelAuditScope {
  readonly incidentId: string;
  readonly run: CancelRun;
  /** The bot whose credentials the cancel went out with. */
  readonly viaBot: string;
  /** The account as the bot's record holds it (the auditor masks it); absent when unknown here. */
  readonly account?: string;
  /** The masked account, recorded when the account itself is unknown. */
  readonly maskedAccount: string;
}

export function cancelRecorder(ctx: ResponseContext, scope: CancelAuditScope): CancelRecorder {
  const width = Math.max(1, ctx.cfg.cancel.concurrency);
  const queue: CancelSent[] = [];
  const idle: (() => void)[] = [];
  let inFlight = 0;
  let told = 0;
  let failed = 0;
  let firstError: string | undefined;

  const pump = (): void => {
    while (inFlight < width && queue.length > 0) {
      const c = queue.shift()!;
      inFlight++;
      void ctx
        .auditSafe(eventOf(scope, c))
        .then((err) => {
          if (err) {
            failed++;
            firstError ??= err;
          }
        })
        .finally(() => {
          inFlight--;
          pump();
          if (inFlight === 0 && queue.length === 0) for (const f of idle.splice(0)) f();
        });
    }
  };

  return {
    onSent(c) {
      told++;
      queue.push(c);
      pump();
    },
    async done() {
      if (inFlight > 0 || queue.length > 0) await new Promise<void>((r) => idle.push(r));
      if (failed === 0) return undefined;
      return `${failed} of ${told} cancel record(s) (${scope.run}, ${scope.maskedAccount} via ${scope.viaBot}) not in the audit chain: ${firstError}`;
    },
  };
}

function eventOf(scope: CancelAuditScope, c: CancelSent): Parameters<ResponseContext['auditSafe']>[0] {
  const answered = c.returnCode !== undefined;
  return {
    type: 'lockdown',
    action: 'cancel',
    incidentId: scope.incidentId,
    run: scope.run,
    viaBot: scope.viaBot,
    ...(scope.account ? { account: scope.account } : { maskedAccount: scope.maskedAccount }),
    orderNo: c.order.ordNo,
    stkCd: c.order.stkCd,
    side: c.order.side,
    qty: c.order.remaining,
    accepted: c.ok,
    ...(answered ? { returnCode: c.returnCode } : {}),
    ...(c.detail ? { [answered ? 'returnMsg' : 'error']: c.detail } : {}),
    attempts: c.attempts,
  };
}
