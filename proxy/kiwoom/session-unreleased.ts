// A token this replica holds whose shared lease could not be given up because
// the shared Store did not answer (Redis down, or hung past its deadline), or
// whose shared record vanished while it was held (Redis came back empty).
// Left to "a peer's sweep once the lease lapses", it stays live at Kiwoom
// untracked whenever the shared ledger does not come back (Redis restarting
// empty, a failover to an empty replica): nobody would ever revoke it, and a
// replica shutting down (SIGTERM during the outage) would take the only copy
// with it. So it is revoked here, directly, with this replica's copy. A peer
// still using the same token (a partition; readOnlyQueriesWhenDown: allow) is
// answered [8005] by Kiwoom and issues afresh, as after any revoke; the
// ledger entry, if Redis kept it, is swept later as a token Kiwoom no longer
// knows ([8015]/[8005]: revoked).
import type { Logger } from 'pino';
import { toGuardError } from '../common/errors.js';
import type { RevokeWithRetry } from './revoke-retry.js';
import type { Gen, KeyState } from './session-types.js';

export interface UnreleasedContext {
  readonly logger: Logger;
  readonly revokeWithRetry: RevokeWithRetry;
  readonly revokeAttempts: number;
}

/**
 * The shared release of `g` failed with `err` (or, without `err`, its shared record had vanished: Redis came back
 * empty while this replica held it): revoke this replica's copy when the Store was unreachable or lost the record.
 */
export async function revokeUnreleased(c: UnreleasedContext, k: KeyState, g: Gen, err?: unknown): Promise<void> {
  const code = err === undefined ? undefined : toGuardError(err).code;
  if ((!g.untracked && (code !== 'KG7001' || g.dead)) || g.record.expiresAt <= Date.now()) {
    if (err !== undefined) c.logger.warn({ key: k.key, code }, 'broker session release failed; a sweep revokes it once its lease lapses');
    return;
  }
  c.logger.warn(
    { key: k.key, code, fingerprint: g.record.tokenFp },
    g.untracked
      ? 'broker session record lost from shared state (Redis came back empty); revoking the token directly so that it is not left live untracked'
      : 'broker session release failed: shared state unreachable; revoking the token directly so that it is not left live untracked',
  );
  // Our own copy: g.token is zero-filled once the release settles, and a lease taken meanwhile must not see it change.
  const token = Buffer.from(g.token);
  try {
    await c.revokeWithRetry({
      botId: g.record.botId,
      token,
      key: k.key,
      fingerprint: g.record.tokenFp,
      expiresAt: g.record.expiresAt,
      maxAttempts: c.revokeAttempts,
      requestId: k.lastRequestId,
    });
    g.dead = true;
  } catch (e) {
    c.logger.error(
      { key: k.key, code: toGuardError(e).code, fingerprint: g.record.tokenFp, expiresAt: new Date(g.record.expiresAt).toISOString() },
      'broker token neither released nor revoked: it stays live at Kiwoom until it expires or a sweep finds it',
    );
  } finally {
    token.fill(0);
  }
}
