// Revoking a broker token with backoff: fast retries first, then slow ones
// until Kiwoom's own expiry ends the token anyway: a token that expires before
// the next attempt would run is given up as expired, not waited for. Any bot of the key can
// revoke it (the issuer's record may be gone), so a fallback bot alternates.
import type { Logger } from 'pino';
import { toGuardError } from '../common/errors.js';
import { outageLogs } from '../common/outage-log.js';
import type { RevokeOutcome } from './client.js';
import type { SessionMetrics } from './session-metrics.js';

export interface RevokeRequest {
  readonly botId: string;
  /** The caller's Buffer; not zero-filled here. */
  readonly token: Buffer;
  readonly key: string;
  readonly fingerprint: string;
  /** Kiwoom's expiry: past it, nobody can use the token and retrying stops. */
  readonly expiresAt: number;
  /** Throw after this many attempts; unlimited keeps trying slowly until expiry. */
  readonly maxAttempts?: number;
  readonly fallbackBot?: string;
  /** The bot call whose release let the token go (named in the audit record). */
  readonly requestId?: string;
  /**
   * Waits out the delay before the next attempt after a failed one (default: sleeps). False gives
   * up (someone needs the token meanwhile): revokeWithRetry then resolves false, nothing revoked.
   */
  readonly pause?: (waitMs: number, err: unknown, attempt: number) => Promise<boolean>;
}

export interface RevokeRetryDeps {
  /**
   * 'not-registered': Kiwoom no longer knew the token ([8015]); 'invalid': it was no longer valid ([8005]). The audit
   * record says so. `key` is the app key that issued it: only its credentials can revoke it (KG4003: none hold it).
   */
  revoke(botId: string, token: Buffer, key: string): Promise<RevokeOutcome | undefined>;
  logger: Logger;
  /** log.outageReminderMs: a token whose revoke keeps failing (Kiwoom down) is logged again at most this often. */
  outageReminderMs?: number;
  metrics: Pick<SessionMetrics, 'revoked' | 'revokeFailures' | 'expired'>;
  onEvent?: (
    type: 'broker_token.revoked' | 'broker_token.revoke_failed',
    fields: {
      botId: string;
      key: string;
      fingerprint: string;
      attempts: number;
      requestId?: string;
      notRegistered?: boolean;
      invalid?: boolean;
      unrevocable?: boolean;
      expiresAt?: string;
    },
  ) => void;
}

/**
 * 'revoked': Kiwoom ended it (confirmed, [8015], [8005]); 'expired': its revoke failed and it expires before a retry,
 * or no credentials can revoke it (it ends at its expiry); false: `pause` gave up.
 */
export type RevokeResult = 'revoked' | 'expired' | false;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
const pauseFor = (ms: number) => sleep(ms).then(() => true);

export function createRevoker(opts: { revokeAttempts: number; revokeBaseDelayMs: number; revokeMaxDelayMs: number }, deps: RevokeRetryDeps) {
  const delay = (attempt: number): number => {
    const ceiling = Math.min(opts.revokeMaxDelayMs, opts.revokeBaseDelayMs * 2 ** attempt);
    return Math.floor(ceiling / 2 + Math.random() * (ceiling / 2));
  };
  // Kiwoom down: a line per attempt was one every revokeMaxDelayMs per token, and one more per sweep that retried it,
  // for as long as it lasted. Now per app key (across the sweeps' retries): the first failure, the end of the fast
  // retries, a reminder at most every outageReminderMs, and the revoke that finally went through.
  const failureLogs = outageLogs({
    logger: deps.logger,
    lost: 'broker token revoke failed; retrying',
    still: 'broker token revoke still failing; retrying',
    back: 'broker token revoked after failed attempts',
    reminderMs: deps.outageReminderMs,
  });
  return async function revokeWithRetry(r: RevokeRequest): Promise<RevokeResult> {
    const maxAttempts = r.maxAttempts ?? Number.POSITIVE_INFINITY;
    const ids = { botId: r.botId, key: r.key, fingerprint: r.fingerprint };
    const failures = failureLogs.of(r.key);
    for (let attempt = 1; ; attempt++) {
      const who = attempt % 2 === 0 && r.fallbackBot ? r.fallbackBot : r.botId;
      try {
        const outcome = (await deps.revoke(who, r.token, r.key)) ?? 'revoked';
        deps.metrics.revoked.inc({ outcome: outcome === 'not-registered' ? 'not_registered' : outcome });
        const gone = outcome === 'not-registered' ? { notRegistered: true } : outcome === 'invalid' ? { invalid: true } : {};
        deps.onEvent?.('broker_token.revoked', { botId: who, key: r.key, fingerprint: r.fingerprint, attempts: attempt, requestId: r.requestId, ...gone });
        failures.ok({ ...ids, attempts: attempt });
        failureLogs.forget(r.key);
        return 'revoked';
      } catch (err) {
        // No record holds the app key that issued it any more (its keys rotated, its bot removed): no retry can
        // revoke it, and another key's credentials would only be refused. It stays live at Kiwoom until its expiry.
        if (toGuardError(err).code === 'KG4003') {
          deps.metrics.revokeFailures.inc({ final: 'true' });
          deps.metrics.expired.inc();
          const expiresAt = new Date(r.expiresAt).toISOString();
          deps.onEvent?.('broker_token.revoke_failed', { ...ids, attempts: attempt, requestId: r.requestId, unrevocable: true, expiresAt });
          deps.logger.error(
            { ...ids, attempts: attempt, expiresAt },
            "broker token cannot be revoked: no credential record holds the app key that issued it (rotated or removed); it stays live at Kiwoom until it expires, unless that app key is retired in Kiwoom's portal",
          );
          failureLogs.forget(r.key);
          return 'expired';
        }
        const fast = attempt < opts.revokeAttempts;
        deps.metrics.revokeFailures.inc({ final: fast ? 'false' : 'true' });
        if (attempt >= maxAttempts) {
          deps.onEvent?.('broker_token.revoke_failed', { botId: r.botId, key: r.key, fingerprint: r.fingerprint, attempts: attempt, requestId: r.requestId });
          throw err;
        }
        const wait = fast ? delay(attempt) : opts.revokeMaxDelayMs;
        // Nobody can use it past its expiry: an attempt after that could only find it gone.
        if (Date.now() + wait >= r.expiresAt) {
          deps.metrics.expired.inc();
          deps.logger.warn(
            { botId: r.botId, key: r.key, fingerprint: r.fingerprint, attempts: attempt, expiresInMs: Math.max(0, r.expiresAt - Date.now()) },
            'broker token revoke failed and the token expires before the next attempt; given up as expired',
          );
          return 'expired';
        }
        const fields = { ...ids, attempt, code: toGuardError(err).code, retryInMs: wait };
        if (attempt === opts.revokeAttempts) deps.logger.error(fields, 'broker token revoke failed every fast attempt; retrying slowly until it expires');
        else failures.failed(fields);
        if (!(await (r.pause ?? pauseFor)(wait, err, attempt))) return false;
      }
    }
  };
}

export type RevokeWithRetry = ReturnType<typeof createRevoker>;
