// One broker session per app key. Kiwoom hands out one token per app key
// (re-issuing returns the same token) and a revoke ends it for every caller,
// so every bot and replica using a key shares one token: issued single-flight
// (credentials decrypted just in time), leased by each call, and revoked once
// no lease holds it — never while one does. Leases are two-level: calls lease
// from this replica's copy; the replica holds one lease in the shared Store
// (memory or Redis) while any of its calls (or its short idle linger) needs
// the token. The token is revoked by whoever releases last, by a peer's sweep
// when a replica died holding it, or at start-up from the ledger after a crash.
import { GuardError, toGuardError } from '../common/errors.js';
import { newVersion, parseRecord, type SessionRecord } from './session-ledger.js';
import { adoptGen, stopLinger, stopTimers, type BrokerLease, type BrokerSessionDeps, type BrokerSessionOptions, type Gen } from './session-types.js';
import { liveKeys, usable, waitBounded, type IssuePurpose, type KeyState, type SessionInfo } from './session-types.js';
import { countRenewal, createSessionMetrics, type SessionMetrics } from './session-metrics.js';
import { createRevoker, type RevokeWithRetry } from './revoke-retry.js';
import { issueUnderLock } from './session-issue.js';
import { takeLock } from './session-undo.js';
import { cadenceLinger, forgetIdleKeys, noteCall, noteIssue, noteRetire } from './session-cadence.js';
import { listSessions, lockKey, loggedSweeps, recoverLeftovers, retireShared, retireSoon, valueKey, type SweepContext } from './session-sweep.js';
import { revokeFailed } from './revoke-status.js';
import { revokeUnreleased } from './session-unreleased.js';

export type { BrokerLease, BrokerSessionDeps, BrokerSessionOptions, IssuePurpose, SessionInfo } from './session-types.js';

const POLL_MS = 20;
/** How soon an idle token kept for queued calls is looked at again. */
const QUEUED_RECHECK_MS = 100;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

export class BrokerSessions {
  private readonly keys = new Map<string, KeyState>();
  private readonly startedAt = Date.now();
  private readonly background = new Set<Promise<unknown>>();
  private closing = false;
  private sweepTimer?: NodeJS.Timeout;
  private sweeping?: Promise<number>;
  private readonly m: SessionMetrics;
  private readonly revokeWithRetry: RevokeWithRetry;
  private readonly sweepLogged: (c: SweepContext) => Promise<number>;

  constructor(
    private readonly opts: BrokerSessionOptions,
    private readonly deps: BrokerSessionDeps,
  ) {
    this.m = createSessionMetrics(deps.registry, () => this.outstanding(), this.keys);
    this.revokeWithRetry = createRevoker(opts, { ...deps, metrics: this.m });
    this.sweepLogged = loggedSweeps(deps.logger, deps.outageReminderMs);
  }

  outstanding(): number {
    return liveKeys(this.keys).length;
  }

  /** Sweeps (dead replicas, unfinished issues; keys idle for long forgotten) every sweepIntervalMs, jittered ±20 %. */
  startSweeper(): void {
    const schedule = (ms: number) => {
      if (!this.closing)
        this.sweepTimer = setTimeout(() => void this.sweep().finally(() => schedule(this.opts.sweepIntervalMs * (0.8 + Math.random() * 0.4))), ms).unref();
    };
    schedule(this.opts.sweepIntervalMs);
  }

  /** A lease on the key's live token for one call: reuse it, or issue it single-flight across replicas. */
  async acquire(botId: string, opts: { purpose?: IssuePurpose; signal?: AbortSignal; key?: string; requestId?: string } = {}): Promise<BrokerLease> {
    if (this.closing) throw new GuardError('KG9002');
    const purpose = opts.purpose ?? 'call';
    // The caller may have resolved the key already (same check: a disabled record is refused for 'call').
    const key = opts.key ?? (await this.deps.keyOf(botId, purpose));
    const k = this.state(key);
    noteCall(k);
    const fast = this.tryLease(k, opts.requestId);
    if (fast) return fast;
    const started = performance.now();
    const deadline = Date.now() + this.opts.sessionWaitMs;
    try {
      for (;;) {
        if (this.closing) throw new GuardError('KG9002');
        if (opts.signal?.aborted) throw new GuardError('KG5002', 'bot disconnected');
        const lease = this.tryLease(k, opts.requestId);
        if (lease) return lease;
        if (Date.now() > deadline) throw new GuardError('KG5008', "waited for the key's token too long");
        // A revoke or an issue under way: waited for, but not past the deadline nor once the bot has gone.
        const running = k.retiring ?? k.obtaining;
        if (running) {
          await waitBounded(running, deadline, opts.signal);
          continue;
        }
        const g = k.gen;
        if (g && g.local > 0) {
          await sleep(POLL_MS);
          continue;
        } // draining a stale token (renew or invalid); once idle it is revoked now, then issued afresh
        if (g && k.shared) {
          if (!g.dead) countRenewal(this.m, k, g.version);
          this.endLinger(k, g);
          continue;
        }
        k.obtaining = this.obtain(k, botId, purpose, deadline, opts.requestId).finally(() => {
          k.obtaining = undefined;
          setImmediate(() => this.letGo(k));
        });
        await waitBounded(k.obtaining, deadline, opts.signal);
      }
    } catch (err) {
      this.letGo(k);
      throw err;
    } finally {
      this.m.leaseWait.observe((performance.now() - started) / 1000);
    }
  }

  /** A token obtained for calls that all left without a lease (the bot went away, the wait ran out) must not stay held: run after its waiters resumed. */
  private letGo(k: KeyState): void {
    if (k.gen && k.gen.local === 0 && k.shared && !k.linger && !k.retiring && !k.obtaining) this.idle(k, k.gen);
  }

  /** Lockdown: the key's token is revoked as soon as no call holds it (at once when idle). */
  async revokeKeyOf(botId: string): Promise<void> {
    const key = await this.deps.keyOf(botId, 'revoke').catch(() => undefined);
    if (!key) return;
    const k = this.state(key);
    k.revokeWhenIdle = true;
    const g = k.gen;
    if (g && g.local === 0 && k.shared) this.endLinger(k, g);
    else if (!g) await this.retireShared(key, botId, undefined, undefined, true).catch(() => undefined);
    await k.retiring?.catch(() => undefined);
  }

  /** Every session this replica or the shared ledger knows, never the token. */
  list(): Promise<SessionInfo[]> {
    return listSessions(this.deps.store, this.deps.ledger);
  }

  /**
   * Revokes what nobody holds: a session with no live lease (its replica
   * died), and an issue that never finished (its replica died between
   * Kiwoom's answer and the record): issuing again returns that orphan token.
   */
  sweep(): Promise<number> {
    this.sweeping ??= this.sweepLogged(this.sweepContext()).finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  /** Start-up: revoke every token a previous process left in the ledger (kill -9, power loss). */
  recover(): Promise<number> {
    return recoverLeftovers(this.sweepContext());
  }

  /** Shutdown: no new leases; revoke idle tokens now, the rest as their calls end; wait up to timeoutMs (pausing: a spin starves I/O). How many were let go, which still live. */
  async drain(timeoutMs: number): Promise<{ released: number; live: string[] }> {
    const held = liveKeys(this.keys);
    this.closing = true;
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    for (const k of this.keys.values()) {
      k.revokeWhenIdle = true;
      if (k.gen && k.gen.local === 0 && k.shared) this.endLinger(k, k.gen);
    }
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && (liveKeys(this.keys).length > 0 || this.background.size > 0)) {
      await (this.background.size > 0 ? Promise.race([Promise.allSettled([...this.background]), sleep(50)]) : new Promise((r) => setTimeout(r, 50)));
    }
    for (const k of this.keys.values()) stopTimers(k);
    const live = liveKeys(this.keys).filter((key) => held.includes(key));
    return { released: held.length - live.length, live };
  }

  private state(key: string): KeyState {
    return this.keys.get(key) ?? this.keys.set(key, { key, shared: false, revokeWhenIdle: false, issues: [] }).get(key)!;
  }

  private fresh(rec: SessionRecord): boolean {
    return rec.expiresAt - Date.now() > this.opts.renewBeforeMs;
  }

  /** The fast path: this replica already holds the shared lease on a fresh token. */
  private tryLease(k: KeyState, requestId?: string): BrokerLease | undefined {
    const g = k.gen;
    if (!g || g.dead || !k.shared || k.retiring || !usable(g, this.opts.renewBeforeMs)) return undefined;
    stopLinger(k);
    return this.lease(k, g, requestId);
  }

  private lease(k: KeyState, g: Gen, requestId?: string): BrokerLease {
    g.local++;
    let released = false;
    return {
      token: g.token,
      key: k.key,
      fingerprint: g.record.tokenFp,
      renewAt: g.stale ? g.record.expiresAt : g.record.expiresAt - this.opts.renewBeforeMs,
      release: () => {
        if (released) return;
        released = true;
        k.lastRequestId = requestId;
        g.local--;
        if (g.local === 0) this.idle(k, g);
      },
      invalidate: () => this.invalidate(k, g),
    };
  }

  /** Gets the shared token: lease the live one, wait out a revoke, or issue it under the key's lock. */
  private async obtain(k: KeyState, botId: string, purpose: IssuePurpose, deadline: number, requestId?: string): Promise<void> {
    const { store, ledger, replicaId } = this.deps;
    for (;;) {
      if (Date.now() > deadline) throw new GuardError('KG5008', "waited for the key's token too long");
      const v = await store.leaseTake(valueKey(k.key), replicaId, this.opts.leaseTtlMs);
      if (v && v.state === 'live') {
        const rec = parseRecord(v.value);
        if (!rec) throw new GuardError('KG7002', 'broker session record malformed');
        // Its renewal's revoke failed: Kiwoom honours it until expires_dt, so it serves as it is (each idle tries again).
        const stale = !this.fresh(rec) && rec.expiresAt > Date.now() && (await revokeFailed(store, k.key, rec.version));
        if (!this.fresh(rec) && !stale) {
          // Re-issuing now would return this same token: revoke it first, once no call holds it (settled at a failure).
          await store.leaseRelease(valueKey(k.key), replicaId);
          countRenewal(this.m, k, rec.version);
          await this.track(this.retireShared(k.key, botId, undefined, requestId, true));
          await sleep(POLL_MS);
          continue;
        }
        this.adopt(k, rec, k.gen?.version === rec.version && !k.gen.dead ? k.gen.token : ledger.open(k.key, rec), stale);
        return;
      }
      if (v) {
        await sleep(POLL_MS);
        continue;
      } // retiring: an issue now would get the token being revoked
      const fence = `${replicaId}.${newVersion()}`;
      if (!(await takeLock(store, lockKey(k.key), fence, this.opts.issueLockTtlMs))) {
        await sleep(POLL_MS);
        continue;
      }
      // A peer that published between our take and our lock makes leasePut fail; we drop ours (the same token) and lease theirs.
      let done = false;
      try {
        done = await this.issueUnderLock(k, botId, purpose, fence, requestId);
      } finally {
        // Off the call's path once published: the lock only guards the issue itself.
        const unlock = store.del(lockKey(k.key)).catch(() => undefined);
        if (!done) await unlock;
      }
      if (done) return;
    }
  }

  /** True when the new token is published and leased by this replica. */
  private async issueUnderLock(k: KeyState, botId: string, purpose: IssuePurpose, fence: string, requestId?: string): Promise<boolean> {
    const ctx = {
      ...this.deps,
      metrics: this.m,
      revokeWithRetry: this.revokeWithRetry,
      leaseTtlMs: this.opts.leaseTtlMs,
      track: <T>(p: Promise<T>) => this.track(p),
    };
    const published = await issueUnderLock(ctx, { key: k.key, botId, purpose, requestId, fence, noteIssue: () => noteIssue(k) });
    if (!published) return false;
    this.adopt(k, published.record, published.token);
    return true;
  }

  private adopt(k: KeyState, record: SessionRecord, token: Buffer, stale = false): void {
    k.gen = adoptGen(k.gen, record, token);
    k.gen.stale = stale;
    k.shared = true;
    stopLinger(k);
    if (!k.refresh) {
      // Keeps this replica's shared lease alive while it holds the token; notices a token dropped elsewhere.
      k.refresh = setInterval(() => void this.refreshLease(k), Math.max(50, Math.floor(this.opts.leaseTtlMs / 3))).unref();
    }
  }

  private async refreshLease(k: KeyState): Promise<void> {
    const g = k.gen;
    if (!g || !k.shared || k.retiring) return;
    try {
      const v = await this.deps.store.leaseTake(valueKey(k.key), this.deps.replicaId, this.opts.leaseTtlMs);
      if (!v || v.version !== g.version || v.state !== 'live') [g.dead, g.untracked] = [true, !v];
    } catch (err) {
      this.deps.logger.warn({ key: k.key, code: toGuardError(err).code }, 'broker lease refresh failed');
    }
  }

  /** The last local lease went: linger (idleRevokeMs, or until a re-issue would fit the issue limit), then give up the shared lease; `lingered`: idleRevokeMs has passed. */
  private idle(k: KeyState, g: Gen, lingered = false): void {
    if (k.gen !== g || g.dead || !k.shared) {
      this.finish(k, g);
      return;
    }
    const now = Date.now();
    // Revoking now is free unless a re-issue would have to wait for Kiwoom's issue limit: then keep it until one would not.
    const issueGap = this.deps.governor.issueRoomInMs(k.issues, now);
    const urgent = k.revokeWhenIdle || this.closing || !this.fresh(g.record);
    // Calls queued for the key's next governor slot need this token in a moment: revoking now would only re-issue it.
    const queued = !urgent && this.deps.governor.waiting(k.key) > 0;
    const delay = urgent
      ? 0
      : Math.max(lingered ? 0 : this.opts.idleRevokeMs, issueGap, queued ? QUEUED_RECHECK_MS : 0, cadenceLinger(k, now, this.opts.cadenceLingerMs ?? 0));
    if (delay > this.opts.idleRevokeMs) this.m.deferred.inc();
    if (delay <= 0) {
      this.endLinger(k, g);
      return;
    }
    k.linger = setTimeout(() => {
      k.linger = undefined;
      if (g.local === 0) this.idle(k, g, true);
    }, delay);
    k.linger.unref();
  }

  /** A stale generation with no local lease: drop our copy and, if still ours, our shared lease. */
  private finish(k: KeyState, g: Gen): void {
    if (g.local > 0) return;
    if (k.gen === g) {
      if (k.shared) {
        this.endLinger(k, g);
        return;
      }
      k.gen = undefined;
    }
    g.token.fill(0);
  }

  /** Gives up this replica's shared lease; the last holder out revokes. Serialised with obtain through k.retiring. */
  private endLinger(k: KeyState, g: Gen): void {
    if (k.retiring) return;
    stopTimers(k);
    k.shared = false;
    const revokeCtx = { logger: this.deps.logger, revokeWithRetry: this.revokeWithRetry, revokeAttempts: this.opts.revokeAttempts };
    const run = async () => {
      const started = Date.now();
      const remaining = await this.deps.store.leaseRelease(valueKey(k.key), this.deps.replicaId);
      // -1: its record is gone (Redis came back empty), no peer can revoke it: revoked here. A retire settles at a failure.
      if (remaining < 0 && !g.dead) [g.dead, g.untracked] = [true, true];
      if (remaining === 0 && !g.dead) await this.retireShared(k.key, g.record.botId, g, k.lastRequestId, true);
      else if (g.untracked) await revokeUnreleased(revokeCtx, k, g);
      noteRetire(k, Date.now() - started);
    };
    k.retiring = this.track(run().catch((err) => revokeUnreleased(revokeCtx, k, g, err))).finally(() => {
      k.retiring = undefined;
      k.revokeWhenIdle = this.closing;
      if (k.gen === g && g.local === 0) {
        k.gen = undefined;
        g.token.fill(0);
      }
    });
  }

  /** Revokes the key's token if no lease holds it (claimed atomically: one replica does it); `soon`: settles once a failed attempt left it leasable. */
  private retireShared(key: string, botHint: string, g?: Gen, requestId?: string, soon = false): Promise<boolean> {
    const local = g && !g.dead ? { version: g.version, token: g.token } : undefined;
    const c = { ...this.deps, opts: this.opts, metrics: this.m, revokeWithRetry: this.revokeWithRetry };
    if (!soon) return retireShared(c, key, botHint, local, requestId);
    return retireSoon((revived) => this.track(retireShared(c, key, botHint, local, requestId, revived)), this.deps.logger, key);
  }

  /** Kiwoom said [8005]: the token is dead upstream. Drop it if it is still the current one; no revoke is needed. */
  private invalidate(k: KeyState, g: Gen): void {
    if (g.dead) return;
    g.dead = true;
    this.m.reissues.inc({ reason: '8005' });
    this.deps.onEvent?.('broker_token.invalidated', { botId: g.record.botId, key: k.key, fingerprint: g.record.tokenFp });
    if (k.gen === g) {
      stopTimers(k);
      k.shared = false;
      const drop = async () => {
        // Not ours to drop any more (a peer has published the key's next token): its ledger entry stays.
        if (await this.deps.store.leaseDrop(valueKey(k.key), g.version)) await this.deps.ledger.forget(k.key, g.version);
        this.m.liveSeconds.add(k.key, Math.max(0, (Date.now() - g.record.issuedAt) / 1000));
      };
      k.retiring = this.track(drop())
        .catch((err) => this.deps.logger.warn({ key: k.key, code: toGuardError(err).code }, 'invalid broker token not dropped'))
        .finally(() => {
          k.retiring = undefined;
          if (k.gen === g) k.gen = undefined;
          if (g.local === 0) g.token.fill(0);
        });
    }
  }

  private sweepContext(): SweepContext {
    return {
      ...this.deps,
      opts: this.opts,
      metrics: this.m,
      revokeWithRetry: this.revokeWithRetry,
      closing: () => this.closing,
      startedAt: this.startedAt,
      retireShared: (key, botHint) => this.retireShared(key, botHint),
      forgetIdle: () => forgetIdleKeys(this.keys, this.deps.governor, this.opts),
    };
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.background.add(p);
    p.finally(() => this.background.delete(p)).catch(() => undefined);
    return p;
  }
}
