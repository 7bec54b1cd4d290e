// What nobody holds any more is revoked here: at start-up, every token a
// previous process left in the ledger (kill -9, power loss); periodically, a
// session no live replica holds a lease on (its replica died) and an issue
// that never finished — issuing again returns that orphan under Kiwoom's
// one-token-per-key rule, so it can be revoked.
import type { Logger } from 'pino';
import { toGuardError } from '../common/errors.js';
import { forEachLimited } from '../common/fsutil.js';
import { outageLog } from '../common/outage-log.js';
import { keyedFingerprint } from '../common/secret.js';
import type { Store } from '../state/types.js';
import type { BrokerToken } from './client.js';
import type { Governor } from './governor.js';
import type { RevokeResult, RevokeWithRetry } from './revoke-retry.js';
import { lockKey, newVersion, parseRecord, valueKey, type LedgerEntry, type SessionLedger, type SessionRecord } from './session-ledger.js';
import type { SessionInfo } from './session-types.js';
import type { SessionMetrics } from './session-metrics.js';
import { takeLock, undoLater } from './session-undo.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
/** Issues refused by Kiwoom for rate before the issue is given up (each after the key's issue pause). */
export const ISSUE_RATE_ATTEMPTS = 3;
/** Kiwoom's token issue limit is counted per second (its refusal says retry-after 1). */
const ISSUE_RATE_WINDOW_MS = 1_000;

export { lockKey, valueKey } from './session-ledger.js';
/** Why the key's token could not be revoked (its version, the last failure's code): any replica following it reads this. */
export const revokeFailedKey = (key: string): string => `{bs:${key}}:revoke-failed`;
/** The version of the key's token given up as expired before its expiry (its revoke failed): live at Kiwoom while this lives. */
export const expiringKey = (key: string): string => `{bs:${key}}:expiring`;

export interface SweepContext {
  store: Store;
  ledger: SessionLedger;
  governor: Governor;
  replicaId: string;
  fingerprintKey: Buffer;
  logger: Logger;
  issue(botId: string, purpose: 'call' | 'lockdown', requestId: undefined, key: string): Promise<BrokerToken>;
  opts: { issueLockTtlMs: number; revokeAttempts: number; recoverConcurrency?: number };
  metrics: Pick<SessionMetrics, 'orphans'>;
  revokeWithRetry: RevokeWithRetry;
  closing(): boolean;
  /** After each sweep: forgets the keys idle for long (session-cadence.ts forgetIdleKeys). */
  forgetIdle?(): number;
  /** When this process's broker sessions started (ms): a ledger entry written before then is a previous process's. */
  startedAt: number;
  /** Revokes the key's token if no lease holds it (claimed atomically); true when this replica did. */
  retireShared(key: string, botHint: string): Promise<boolean>;
}

/**
 * Kiwoom's one token per key: issuing again returns a token we lost track of, so it can be revoked. The issue limit
 * (about 2/s per key) counts every process of the key, which this one's governor does not see (a replica, the process
 * that died a moment ago): a re-issue refused for rate ([1700], KG5006) pauses the key's issues on every replica, as a
 * call's issue does, and is tried again after Kiwoom's one second.
 */
async function reissueAndRevoke(c: SweepContext, key: string, botId: string): Promise<void> {
  let t: BrokerToken;
  for (let attempt = 1; ; attempt++) {
    const permit = await c.governor.admit({ key, cls: 'token', priority: 'lockdown', botId });
    try {
      t = await c.issue(botId, 'lockdown', undefined, key);
      break;
    } catch (err) {
      if (toGuardError(err).code !== 'KG5006') throw err;
      await c.governor.refusedUpstream(key, 'token');
      if (attempt >= ISSUE_RATE_ATTEMPTS) throw err;
    } finally {
      permit.settle();
    }
    // The governor (when on) waits out the pause too; this holds when it is off.
    await sleep(ISSUE_RATE_WINDOW_MS);
  }
  try {
    await c.revokeWithRetry({
      botId,
      token: t.token,
      key,
      fingerprint: keyedFingerprint(c.fingerprintKey, t.token),
      expiresAt: t.expiresAt.getTime(),
      maxAttempts: c.opts.revokeAttempts,
    });
  } finally {
    t.token.fill(0);
  }
}

/**
 * Revokes a token the ledger holds sealed (file ledger: a previous process's), unless it has expired: 'expired'
 * when it had, or when it expires before a retry or no credentials can revoke it (revokeWithRetry's own words).
 */
async function revokeRecorded(c: SweepContext, e: LedgerEntry & { record: SessionRecord }): Promise<'revoked' | 'expired'> {
  const token = c.ledger.open(e.key, e.record);
  try {
    if (e.record.expiresAt <= Date.now()) return 'expired';
    const ended = await c.revokeWithRetry({
      botId: e.record.botId,
      token,
      key: e.key,
      fingerprint: e.record.tokenFp,
      expiresAt: e.record.expiresAt,
      maxAttempts: c.opts.revokeAttempts,
    });
    if (ended === false) throw new Error('revoke given up'); // kept for the next attempt
    return ended;
  } finally {
    token.fill(0);
  }
}

/** What became of a token a previous process left, as the log line says it (not "revoked" for one that expired). */
const LEFTOVER_OUTCOME: Readonly<Record<'revoked' | 'expired', string>> = {
  revoked: 'revoked a broker token left by a previous process',
  expired: 'forgot a broker token left by a previous process: it had expired, or no credentials can revoke it before it does',
};

/** Keys whose leftovers are revoked at once at start and in each sweep, unless configured (brokerTokens.recoverConcurrency). */
const RECOVER_CONCURRENCY = 16;

/**
 * Keys are independent (Kiwoom's limits are per key): their leftovers are revoked several at a time, since the
 * listener opens only after, and each revoke retries with back-off while Kiwoom fails it.
 */
export async function recoverLeftovers(c: SweepContext): Promise<number> {
  let n = 0;
  await forEachLimited(await c.ledger.entries(), c.opts.recoverConcurrency ?? RECOVER_CONCURRENCY, async (e) => {
    try {
      let outcome: 'revoked' | 'expired' = 'revoked';
      if (e.record) outcome = await revokeRecorded(c, { ...e, record: e.record });
      else await reissueAndRevoke(c, e.key, e.botId);
      await c.ledger.forget(e.key);
      c.metrics.orphans.inc({ kind: 'restart' });
      n++;
      c.logger.warn({ key: e.key, botId: e.botId, state: e.state, outcome }, LEFTOVER_OUTCOME[outcome]);
    } catch (err) {
      c.logger.error(
        { key: e.key, botId: e.botId, code: toGuardError(err).code },
        'could not revoke a broker token left by a previous process; kept for the next attempt',
      );
    }
  });
  return n;
}

/**
 * One sweep over every key the ledger names. Keys are independent (Kiwoom's limits are per key; each step claims its
 * key): they are taken recoverConcurrency at a time, as at start, so a dead replica's many tokens are not revoked one
 * round trip after another, nor held back by one key whose revoke Kiwoom keeps failing (retried with back-off).
 */
export async function sweepOnce(c: SweepContext): Promise<number> {
  let n = 0;
  await forEachLimited(await c.ledger.entries(), c.opts.recoverConcurrency ?? RECOVER_CONCURRENCY, async (e) => {
    if (c.closing()) return;
    try {
      const v = await c.store.leasePeek(valueKey(e.key));
      if (v) {
        if (v.leases > 0) return;
        // Nobody holds it (a live replica lingering holds a lease): its holder died.
        if (await c.retireShared(e.key, e.botId)) {
          c.metrics.orphans.inc({ kind: 'unheld' });
          n++;
        }
        return;
      }
      if (Date.now() - e.at < c.opts.issueLockTtlMs || (await c.store.get(lockKey(e.key))) !== null) return;
      // An entry without a session and without an issuer at work: an issue that never finished.
      const fence = `${c.replicaId}.${newVersion()}`;
      if (!(await takeLock(c.store, lockKey(e.key), fence, c.opts.issueLockTtlMs))) return;
      try {
        if (await c.store.leasePeek(valueKey(e.key))) return;
        if (e.state === 'issuing') {
          await reissueAndRevoke(c, e.key, e.botId);
          c.metrics.orphans.inc({ kind: 'unfinished_issue' });
          n++;
        } else if (e.record && e.at < c.startedAt && e.record.expiresAt > Date.now()) {
          // Sealed in the file ledger by a previous process, whose revoke at start failed (Kiwoom down): this process's
          // store never held it. Forgotten unrevoked, it would stay live at Kiwoom, untracked, until its expiry.
          const outcome = await revokeRecorded(c, { ...e, record: e.record });
          c.metrics.orphans.inc({ kind: 'restart' });
          n++;
          c.logger.warn({ key: e.key, botId: e.botId, outcome }, LEFTOVER_OUTCOME[outcome]);
        }
        await c.ledger.forget(e.key);
      } catch (err) {
        // No credentials any more (bot removed): nothing can ever revoke it; keeping the entry would only repeat the failure.
        // The key provider not answering (KG4001) is not that: the entry stays for the next sweep.
        const code = toGuardError(err).code;
        if (code.startsWith('KG4') && code !== 'KG4001') await c.ledger.forget(e.key);
        throw err;
      } finally {
        await c.store.del(lockKey(e.key)).catch(() => undefined);
      }
    } catch (err) {
      c.logger.warn({ key: e.key, code: toGuardError(err).code }, 'broker session sweep step failed');
    }
  });
  return n;
}

/**
 * sweepOnce with its failures logged once per outage: a sweep runs every sweepIntervalMs and fails each time while
 * Redis is down; the loss is logged, then a reminder at most every reminderMs with the count, then the recovery.
 */
export function loggedSweeps(logger: Logger, reminderMs?: number): (c: SweepContext) => Promise<number> {
  const log = outageLog({
    logger,
    lost: 'broker session sweep failed',
    still: 'broker session sweeps still failing',
    back: 'broker session sweeps work again',
    reminderMs,
  });
  return (c) =>
    sweepOnce(c)
      .then(
        (n) => {
          log.ok();
          return n;
        },
        (err: unknown) => {
          log.failed({ code: toGuardError(err).code });
          return 0;
        },
      )
      .finally(() => c.forgetIdle?.());
}

/** The admin listing: every key the ledger knows, with its state, leases and age, never the token. */
export async function listSessions(store: Store, ledger: SessionLedger): Promise<SessionInfo[]> {
  const out: SessionInfo[] = [];
  for (const e of await ledger.entries()) {
    const v = await store.leasePeek(valueKey(e.key)).catch(() => null);
    const rec = v ? parseRecord(v.value) : undefined;
    out.push({
      key: e.key,
      state: v ? v.state : 'issuing',
      leases: v?.leases ?? 0,
      issuedBy: rec?.botId ?? e.botId,
      ...(rec ? { issuedAt: new Date(rec.issuedAt).toISOString(), expiresAt: new Date(rec.expiresAt).toISOString(), ageMs: Date.now() - rec.issuedAt } : {}),
    });
  }
  return out;
}

export interface RetireContext {
  store: Store;
  ledger: SessionLedger;
  replicaId: string;
  opts: { issueLockTtlMs: number; leaseTtlMs: number; revokeAttempts: number };
  metrics: Pick<SessionMetrics, 'liveSeconds'>;
  revokeWithRetry: RevokeWithRetry;
}

/**
 * Revokes the key's token if no lease holds it: the retirement is claimed
 * atomically (exactly one replica does it), Kiwoom revokes, then the session
 * and its ledger entry go. `local` is this replica's copy of the token, used
 * when it is the same version (no decrypt needed). A failed attempt leaves
 * the token live at Kiwoom (one token per key): the failure is noted for
 * whoever follows it and the value is leasable again (`onRevived`) until the
 * next attempt claims it back, so a call that needs the token meanwhile (a
 * lockdown's cancel-all) gets it, and its release retires it again; after the
 * last attempt it stays live for a sweep's retry. Only while the retirement is
 * still this call's claim: one that lapsed and was taken over (a long pause) is
 * the new claimant's, who may be revoking the token right now.
 */
export async function retireShared(
  c: RetireContext,
  key: string,
  botHint: string,
  local?: { version: string; token: Buffer },
  requestId?: string,
  onRevived?: () => void,
): Promise<boolean> {
  const v = await c.store.leasePeek(valueKey(key));
  const rec = v ? parseRecord(v.value) : undefined;
  if (!v || !rec) return false;
  const claimTtl = Math.max(c.opts.issueLockTtlMs, c.opts.leaseTtlMs);
  const claimant = `${c.replicaId}.${newVersion()}`;
  const claimed = await c.store.leaseRetire(valueKey(key), rec.version, claimTtl, claimant).catch((err: unknown) => {
    // A hung Redis may still record the claim when it wakes: nobody would hold it, and nobody could lease the token.
    undoLater(() => c.store.leaseRevive(valueKey(key), rec.version, claimant), claimTtl);
    throw err;
  });
  if (claimed !== 'retiring') return false;
  const giveUp = async (err: unknown, attempts: number): Promise<boolean> => {
    const revived = await c.store.leaseRevive(valueKey(key), rec.version, claimant).catch(() => false);
    // Noted only by the claim's holder: a claimant that took it over notes its own outcome.
    if (revived) {
      const failure = { version: rec.version, code: toGuardError(err).code, attempts, at: Date.now() };
      await c.store.set(revokeFailedKey(key), JSON.stringify(failure), Math.max(1_000, rec.expiresAt - Date.now())).catch(() => undefined);
    }
    onRevived?.();
    return revived;
  };
  const token = local && local.version === rec.version ? Buffer.from(local.token) : c.ledger.open(key, rec);
  let ended: RevokeResult = 'expired';
  try {
    if (rec.expiresAt > Date.now()) {
      ended = await c
        .revokeWithRetry({
          botId: rec.botId || botHint,
          token,
          key,
          fingerprint: rec.tokenFp,
          expiresAt: rec.expiresAt,
          maxAttempts: c.opts.revokeAttempts,
          fallbackBot: botHint,
          requestId,
          // Leasable while we wait; the next attempt only if nobody leased it meanwhile (else its release retires it).
          pause: async (waitMs, err, attempt) => {
            if (!(await giveUp(err, attempt))) return false;
            await sleep(waitMs);
            return (await c.store.leaseRetire(valueKey(key), rec.version, claimTtl, claimant)) === 'retiring';
          },
        })
        .catch(async (err: unknown) => {
          await giveUp(err, c.opts.revokeAttempts);
          throw err;
        });
    }
  } finally {
    token.fill(0);
  }
  if (!ended) return false;
  const endedAt = ended === 'expired' ? rec.expiresAt : Math.min(Date.now(), rec.expiresAt);
  // Given up before its expiry: whoever follows it (a lockdown's step 2) is told it is still live until then.
  const liveForMs = rec.expiresAt - Date.now();
  if (ended === 'expired' && liveForMs > 0) await c.store.set(expiringKey(key), rec.version, liveForMs).catch(() => undefined);
  // Our claim may have lapsed meanwhile (a slow revoke): whoever took it over dropped the token and
  // counted it, and the ledger entry may already be a newer token's, which must stay.
  if (await c.store.leaseDrop(valueKey(key), rec.version)) {
    await c.ledger.forget(key, rec.version);
    c.metrics.liveSeconds.add(key, Math.max(0, (endedAt - rec.issuedAt) / 1000));
  }
  return true;
}

/**
 * Settles when the retirement `start`s does, or as soon as a failed attempt left the token leasable
 * (false): the retries go on meanwhile, and a failure after that point is logged here.
 */
export function retireSoon(start: (onRevived: () => void) => Promise<boolean>, logger: Logger, key: string): Promise<boolean> {
  let early = false;
  let revived!: () => void;
  const leasable = new Promise<boolean>((r) => {
    revived = () => {
      early = true;
      r(false);
    };
  });
  const whole = start(() => revived());
  whole.catch((err: unknown) => {
    if (early) logger.warn({ key, code: toGuardError(err).code }, 'broker token revoke failed; it stays usable and a sweep retries it');
  });
  return Promise.race([whole, leasable]);
}
