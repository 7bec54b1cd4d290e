// The approver's second factor: a TOTP code checked against the sealed secret, each code usable once, and a
// lockout after maxFailures wrong codes that doubles with each lockout in a row.
import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import type { GuardError } from '../common/errors.js';
import type { Store } from '../state/types.js';
import type { ApprovalConfig } from './config.js';
import { K } from './records.js';
import { approveRefused } from './refusals.js';
import type { SecretSealer } from './sealer.js';
import { verifyTotp } from './totp.js';
import type { ApprovalRecord } from './types.js';

/** How long lockouts in a row are remembered, in maxLockoutMs (a week at the default day). */
const LOCKOUTS_MEMORY = 7;

export interface SecondFactorOptions {
  readonly store: Store;
  readonly cfg: ApprovalConfig;
  readonly sealer: SecretSealer;
  readonly logger: Logger;
  readonly now: () => number;
  readonly events: Counter<'event' | 'level'>;
  readonly audit: (action: string, rec: ApprovalRecord, extra: Record<string, unknown>) => Promise<void>;
}

const lockedError = (until: string | undefined): GuardError => approveRefused('locked-out', until);

export function secondFactor(opts: SecondFactorOptions) {
  const { store, cfg, sealer, logger, now, events, audit } = opts;

  async function checkCode(approver: string, doc: { readonly sealed: string }, code: Buffer, rec: ApprovalRecord): Promise<void> {
    // Each attempt is counted in the window (one atomic increment) before its code is checked, and only a right code
    // clears the count: attempts made at once, on any replica, cannot all read the count from before any failed.
    const lockedUntil = await store.get(K.totpLocked(approver));
    if (lockedUntil) throw lockedError(lockedUntil);
    const attempts = await store.incr(K.totpFail(approver), 1, cfg.totp.lockoutMs);
    if (attempts > cfg.totp.maxFailures) {
      // Only the attempt that crossed the limit locks (the count is atomic): attempts made at once lock once.
      throw lockedError(attempts === cfg.totp.maxFailures + 1 ? await lockOut(approver, rec) : undefined);
    }
    const secret = await sealer.open(doc.sealed, { purpose: 'approver-totp', approver });
    let step: number | undefined;
    try {
      step = verifyTotp(secret, code, now(), cfg.totp);
    } finally {
      secret.fill(0);
    }
    if (step === undefined) {
      events.inc({ event: 'totp_failed', level: rec.level });
      await audit('totp_failed', rec, { approver });
      // Wrong codes in a row, however paced: a guesser at one code a minute never fills the window above.
      const inARow = await store.incr(K.totpFailsInARow(approver), 1, LOCKOUTS_MEMORY * cfg.totp.maxLockoutMs);
      const until = inARow % cfg.totp.maxFailures === 0 ? await lockOut(approver, rec) : undefined;
      throw approveRefused('code-invalid', until);
    }
    const replayTtl = cfg.totp.periodSec * 1000 * (2 * cfg.totp.window + 2);
    if (!(await store.setIfAbsent(K.totpStep(approver, step), '1', replayTtl))) {
      throw approveRefused('code-reused');
    }
    await store.del(K.totpFail(approver));
    await store.del(K.totpFailsInARow(approver));
    await store.del(K.totpLockouts(approver));
  }

  /**
   * Locks an approver out after maxFailures wrong codes in a row (or at once), each lockout in a row twice the last
   * (up to maxLockoutMs). The fixed window alone let a thief of the approver's admin token try a code a minute for
   * ever (1,440 a day at the defaults); now it is a few dozen in the first day, then maxFailures a day. A right code
   * ends it.
   */
  async function lockOut(approver: string, rec: ApprovalRecord): Promise<string> {
    const { lockoutMs, maxLockoutMs } = cfg.totp;
    const inARow = Number((await store.get(K.totpLockouts(approver))) ?? 0) + 1;
    const lockMs = Math.min(lockoutMs * 2 ** Math.min(inARow - 1, 40), maxLockoutMs);
    const until = new Date(now() + lockMs).toISOString();
    await store.set(K.totpLockouts(approver), String(inARow), LOCKOUTS_MEMORY * maxLockoutMs);
    await store.set(K.totpLocked(approver), until, lockMs);
    events.inc({ event: 'totp_locked', level: rec.level });
    await audit('totp_locked', rec, { approver, until, lockoutsInARow: inARow });
    logger.warn({ approver, until, lockoutsInARow: inARow }, 'approver locked out after wrong second-factor codes');
    return until;
  }

  return { checkCode };
}
