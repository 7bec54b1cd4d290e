// Issuing a key's broker token, under the key's issue lock: the intent is
// made durable and an issue slot taken (one wait), Kiwoom is asked, the
// sealed token is recorded before first use, and it is published as the
// key's leased value only if our lock still fences it.
import type { Logger } from 'pino';
import { toGuardError } from '../common/errors.js';
import { keyedFingerprint } from '../common/secret.js';
import type { Store } from '../state/types.js';
import type { BrokerToken } from './client.js';
import type { Governor } from './governor.js';
import type { RevokeWithRetry } from './revoke-retry.js';
import { newVersion, parseRecord, type SessionLedger, type SessionRecord } from './session-ledger.js';
import type { SessionMetrics } from './session-metrics.js';
import { ISSUE_RATE_ATTEMPTS, lockKey, valueKey } from './session-sweep.js';
import type { BrokerSessionDeps, IssuePurpose } from './session-types.js';

export interface IssueContext {
  store: Store;
  ledger: SessionLedger;
  governor: Governor;
  replicaId: string;
  fingerprintKey: Buffer;
  logger: Logger;
  issue(botId: string, purpose: IssuePurpose, requestId: string | undefined, key: string): Promise<BrokerToken>;
  onEvent?: BrokerSessionDeps['onEvent'];
  metrics: Pick<SessionMetrics, 'issued' | 'issueFailures'>;
  revokeWithRetry: RevokeWithRetry;
  track<T>(p: Promise<T>): Promise<T>;
  leaseTtlMs: number;
}

export interface IssueRequest {
  readonly key: string;
  readonly botId: string;
  readonly purpose: IssuePurpose;
  /** The bot call that needed the token (named in the audit records). */
  readonly requestId?: string;
  /** Our value of the key's issue lock. */
  readonly fence: string;
  /** Kiwoom was asked and answered with a token (for the issue-rate bookkeeping). */
  readonly noteIssue: () => void;
}

/** The published record and token, or undefined when a peer published first (then ours is dropped or revoked). */
export async function issueUnderLock(c: IssueContext, r: IssueRequest): Promise<{ record: SessionRecord; token: Buffer } | undefined> {
  const { store, ledger } = c;
  let issued!: BrokerToken;
  for (let attempt = 1; ; attempt++) {
    const [intent, admitted] = await Promise.allSettled([
      ledger.issuing(r.key, r.botId),
      c.governor.admit({ key: r.key, cls: 'token', priority: r.purpose === 'lockdown' ? 'lockdown' : 'normal', botId: r.botId }),
    ]);
    if (intent.status === 'rejected') {
      // Nothing is asked of Kiwoom: the issue slot goes back (unsettled, it would count for holdMs).
      if (admitted.status === 'fulfilled') admitted.value.settle();
      throw intent.reason;
    }
    if (admitted.status === 'rejected') throw admitted.reason;
    const permit = admitted.value;
    try {
      // Never aborted with the bot's request: a token created upstream must be known to us.
      issued = await c.issue(r.botId, r.purpose, r.requestId, r.key);
      break;
    } catch (err) {
      // Kiwoom answered and refused (KG5004, KG5006 for rate) or the credentials could not be used (KG4xxx): no
      // token exists, so the intent goes; anything else (time-out, dropped connection) may have created one,
      // and the intent stays for a sweep to issue again and revoke.
      const code = toGuardError(err).code;
      c.metrics.issueFailures.inc({
        reason: code === 'KG5004' ? 'refused' : code === 'KG5006' ? 'rate' : code.startsWith('KG4') ? 'credentials' : 'unanswered',
      });
      // A token a peer published meanwhile (between our look and our lock) keeps the key's entry: a sweep finds it by it.
      if (code === 'KG5004' || code === 'KG5006' || code.startsWith('KG4'))
        await store
          .leasePeek(valueKey(r.key))
          .then((published) => (published ? undefined : ledger.forget(r.key)))
          .catch(() => undefined);
      // Refused for rate: the key's issues pause on every replica, and the next admit waits the pause out.
      if (code === 'KG5006') await c.governor.refusedUpstream(r.key, 'token');
      if (code !== 'KG5006' || attempt >= ISSUE_RATE_ATTEMPTS) throw err;
    } finally {
      permit.settle();
    }
  }
  r.noteIssue();
  const version = newVersion();
  const expiresAt = issued.expiresAt.getTime();
  const record: SessionRecord = {
    v: 1,
    botId: r.botId,
    version,
    issuedAt: Date.now(),
    expiresAt,
    tokenFp: keyedFingerprint(c.fingerprintKey, issued.token),
    sealed: ledger.seal(r.key, version, expiresAt, issued.token),
  };
  c.metrics.issued.inc();
  c.onEvent?.('broker_token.issued', { botId: r.botId, key: r.key, fingerprint: record.tokenFp, requestId: r.requestId });
  const revokeUnused = (token: Buffer) =>
    void c.track(c.revokeWithRetry({ botId: r.botId, token, key: r.key, fingerprint: record.tokenFp, expiresAt }).finally(() => token.fill(0)));
  try {
    await ledger.recorded(r.key, record);
  } catch (err) {
    // Unrecorded, a crash would leave it live with no one to revoke it: never use it.
    c.logger.error({ key: r.key, code: toGuardError(err).code }, 'broker session ledger write failed; revoking the token unused');
    revokeUnused(issued.token);
    throw toGuardError(err);
  }
  const ttl = Math.max(1_000, expiresAt - Date.now());
  // Shared state failing from here on (published or not: a hung Redis may still run it), our copy goes; the
  // ledger names the key, so a sweep revokes the token once no lease holds it. Never revoked here: a peer may hold it.
  const wipeOnError = (err: unknown): never => {
    issued.token.fill(0);
    throw err;
  };
  const put = store.leasePut(valueKey(r.key), version, JSON.stringify(record), ttl, { key: lockKey(r.key), value: r.fence }, c.replicaId, c.leaseTtlMs);
  if (await put.catch(wipeOnError)) return { record, token: issued.token };
  // Our lock lapsed and a peer published meanwhile. Kiwoom's one token per key
  // means theirs is most likely ours: only a different token is revoked.
  const theirs = await store.leasePeek(valueKey(r.key)).catch(wipeOnError);
  const same = theirs ? parseRecord(theirs.value)?.tokenFp === record.tokenFp : false;
  if (same) issued.token.fill(0);
  else revokeUnused(issued.token);
  return undefined;
}
