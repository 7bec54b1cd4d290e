// Broker token lifecycle: issue just in time, hand out as a lease, and revoke
// when the lease ends — on every path, retried with backoff, off the bot's
// critical path. By default one token serves one call; `maxUses`/`maxAgeMs`
// let one token serve a short burst per bot, still revoked at the end.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import { GuardError } from '../common/errors.js';
import type { Config } from '../common/config.js';
import { keyedFingerprint } from '../common/secret.js';
import type { BrokerToken } from './client.js';
import type { BrokerTokenLedger } from './token-ledger.js';

export type BrokerTokenOptions = Config['brokerTokens'];

/** 'lockdown': the credential record is already disabled; the vault still lets a lockdown cancel orders. */
export type IssuePurpose = 'call' | 'lockdown';

export interface BrokerTokenDeps {
  /** Issues a token for the bot (decrypting its credentials just in time). */
  issue(botId: string, purpose?: IssuePurpose): Promise<BrokerToken>;
  /** Revokes (decrypting its credentials just in time, purpose 'revoke'). */
  revoke(botId: string, token: Buffer): Promise<void>;
  fingerprintKey: Buffer;
  registry: Registry;
  logger: Logger;
  /** Audit hook; failures here are logged, they cannot un-revoke a token. */
  /**
   * Shared ledger of outstanding tokens (replicas): every token is recorded
   * before use and forgotten after revoke, so a peer can revoke it if this
   * replica dies. When the record cannot be written the token is revoked at
   * once and the call fails closed (KG7001).
   */
  ledger?: BrokerTokenLedger;
  onEvent?: (type: 'broker_token.issued' | 'broker_token.revoked' | 'broker_token.revoke_failed', fields: { botId: string; fingerprint: string; attempts?: number }) => void;
}

export interface BrokerLease {
  readonly token: Buffer;
  readonly fingerprint: string;
  /** Ends this use; the token is revoked once no lease holds it and it may not be reused. */
  release(): void;
}

interface LiveToken {
  readonly botId: string;
  readonly token: Buffer;
  readonly fingerprint: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
  uses: number;
  inflight: number;
  retired: boolean;
  /** True once the ledger holds an entry for it. */
  ledgered: boolean;
  ageTimer?: NodeJS.Timeout;
  revoking?: Promise<void>;
}

export class BrokerTokens {
  private readonly live = new Set<LiveToken>();
  private readonly shared = new Map<string, LiveToken>();
  private readonly issuing = new Map<string, Promise<LiveToken>>();
  private readonly pendingRevokes = new Set<Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closing = false;
  private readonly issued: Counter;
  private readonly revoked: Counter;
  private readonly revokeFailures: Counter<'final'>;

  constructor(private readonly opts: BrokerTokenOptions, private readonly deps: BrokerTokenDeps) {
    const registers = [deps.registry];
    this.issued = new Counter({ name: 'kguard_broker_tokens_issued_total', help: 'Broker tokens issued upstream', registers });
    this.revoked = new Counter({ name: 'kguard_broker_tokens_revoked_total', help: 'Broker tokens revoked upstream', registers });
    this.revokeFailures = new Counter({
      name: 'kguard_broker_token_revoke_failures_total', help: 'Failed revoke attempts (final="true": gave up retrying fast, keeps retrying slowly until expiry)',
      labelNames: ['final'], registers,
    });
    const self = this;
    new Gauge({
      name: 'kguard_broker_tokens_outstanding', help: 'Broker tokens issued and not yet revoked', registers,
      collect() { this.set(self.outstanding()); },
    });
  }

  outstanding(): number {
    return this.live.size;
  }

  async acquire(botId: string, signal?: AbortSignal, purpose: IssuePurpose = 'call'): Promise<BrokerLease> {
    if (this.closing) throw new GuardError('KG9002');
    if (this.opts.maxUses > 1 && purpose === 'call') {
      const current = this.shared.get(botId);
      if (current && this.reusable(current)) return this.lease(current);
      const pending = this.issuing.get(botId);
      if (pending) {
        const t = await pending;
        if (this.reusable(t)) return this.lease(t);
      }
    }
    if (this.live.size >= this.opts.maxOutstanding) {
      throw new GuardError('KG5004', 'too many broker tokens awaiting revocation');
    }
    const issuing = this.issueNew(botId, signal, purpose);
    if (this.opts.maxUses > 1) {
      this.issuing.set(botId, issuing);
      issuing.finally(() => this.issuing.delete(botId)).catch(() => undefined);
    }
    return this.lease(await issuing);
  }

  /** Revokes every token of a bot now (lockdown). Resolves when all are revoked or handed to the slow retry. */
  async revokeAllFor(botId: string): Promise<void> {
    const mine = [...this.live].filter((t) => t.botId === botId && !t.retired);
    await Promise.all(mine.map((t) => { t.inflight = 0; return this.retire(t); }));
  }

  /** Shutdown: no new tokens, revoke everything, wait up to timeoutMs. */
  async drain(timeoutMs: number): Promise<void> {
    this.closing = true;
    for (const t of this.live) if (!t.retired && t.inflight === 0) void this.retire(t);
    const deadline = new Promise<void>((r) => setTimeout(r, timeoutMs).unref());
    await Promise.race([Promise.allSettled([...this.pendingRevokes]), deadline]);
    for (const t of this.timers) clearTimeout(t);
  }

  private reusable(t: LiveToken): boolean {
    return !t.retired && t.uses < this.opts.maxUses && Date.now() - t.issuedAt < this.opts.maxAgeMs && t.expiresAt > Date.now() + 1000;
  }

  private async issueNew(botId: string, signal?: AbortSignal, purpose: IssuePurpose = 'call'): Promise<LiveToken> {
    // Not aborted with the bot's request: an issue cut off mid-flight may still
    // have created a token upstream that we would then never know to revoke.
    // It completes (bounded by the upstream time-outs) and is revoked below.
    const { token, expiresAt } = await this.deps.issue(botId, purpose);
    const t: LiveToken = {
      botId, token, fingerprint: keyedFingerprint(this.deps.fingerprintKey, token),
      issuedAt: Date.now(), expiresAt: expiresAt.getTime(), uses: 0, inflight: 0, retired: false, ledgered: false,
    };
    this.live.add(t);
    this.issued.inc();
    this.deps.onEvent?.('broker_token.issued', { botId, fingerprint: t.fingerprint });
    if (this.deps.ledger) {
      try {
        await this.deps.ledger.record({ botId, fingerprint: t.fingerprint, token, expiresAt: t.expiresAt });
        t.ledgered = true;
        // Revoked (lockdown, drain) while the write was in flight: the entry must go too.
        if (!this.live.has(t)) this.forget(t);
      } catch (err) {
        // Unrecorded, a crash would leave it live with no one to revoke it: never use it.
        this.deps.logger.error({ botId, fingerprint: t.fingerprint, code: (err as GuardError).code }, 'broker token ledger write failed; revoking the token unused');
        void this.retire(t);
        throw err instanceof GuardError && err.code === 'KG7001' ? err : new GuardError('KG7001', 'broker token ledger', { cause: err });
      }
    }
    // Lockdown or drain retired it during the ledger write: its bytes are already gone.
    if (t.retired) throw new GuardError('KG5004', 'revoked before use');
    if (this.opts.maxUses > 1) {
      const previous = this.shared.get(botId);
      if (previous) this.retireWhenIdle(previous);
      this.shared.set(botId, t);
      // A burst token is revoked at its max age even if the bot goes quiet.
      t.ageTimer = setTimeout(() => this.retireWhenIdle(t), this.opts.maxAgeMs);
      t.ageTimer.unref();
    }
    if (signal?.aborted) {
      // The bot left while we were issuing: nobody will use this token.
      void this.retire(t);
      throw new GuardError('KG5002', 'aborted');
    }
    return t;
  }

  private lease(t: LiveToken): BrokerLease {
    t.uses++;
    t.inflight++;
    let released = false;
    return {
      token: t.token,
      fingerprint: t.fingerprint,
      release: () => {
        if (released) return;
        released = true;
        t.inflight = Math.max(0, t.inflight - 1); // revokeAllFor may have zeroed it already
        const exhausted = this.opts.maxUses <= 1 || t.uses >= this.opts.maxUses || t.retired || this.closing;
        if (t.inflight === 0 && exhausted) void this.retire(t);
      },
    };
  }

  /** Stops reuse now; revokes at once if idle, else when the last lease is released. */
  private retireWhenIdle(t: LiveToken): void {
    if (t.inflight === 0) void this.retire(t);
    else t.retired = true;
  }

  private retire(t: LiveToken): Promise<void> {
    if (t.revoking) return t.revoking;
    if (!this.live.has(t)) return Promise.resolve();
    t.retired = true;
    if (t.ageTimer) clearTimeout(t.ageTimer);
    if (this.shared.get(t.botId) === t) this.shared.delete(t.botId);
    const p = this.revokeWithRetry(t).finally(() => this.pendingRevokes.delete(p));
    t.revoking = p;
    this.pendingRevokes.add(p);
    return p;
  }

  /** Off the hot path: the revoke already happened, the entry only has to go. */
  private forget(t: LiveToken): void {
    if (!t.ledgered) return;
    t.ledgered = false;
    void this.deps.ledger!.forget(t.fingerprint);
  }

  private delay(attempt: number): number {
    const ceiling = Math.min(this.opts.revokeMaxDelayMs, this.opts.revokeBaseDelayMs * 2 ** attempt);
    return Math.floor(ceiling / 2 + Math.random() * (ceiling / 2));
  }

  private async revokeWithRetry(t: LiveToken): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.deps.revoke(t.botId, t.token);
        this.revoked.inc();
        this.live.delete(t);
        t.token.fill(0);
        this.forget(t);
        this.deps.onEvent?.('broker_token.revoked', { botId: t.botId, fingerprint: t.fingerprint, attempts: attempt });
        return;
      } catch (err) {
        const fast = attempt < this.opts.revokeAttempts;
        this.revokeFailures.inc({ final: fast ? 'false' : 'true' });
        const code = (err as GuardError).code ?? 'error';
        if (Date.now() >= t.expiresAt) {
          // Expired upstream: it can no longer be used by anyone.
          this.live.delete(t);
          t.token.fill(0);
          this.forget(t);
          this.deps.logger.warn({ botId: t.botId, fingerprint: t.fingerprint, attempts: attempt }, 'broker token expired before it could be revoked');
          return;
        }
        if (t.ledgered && await this.deps.ledger!.claimedElsewhere(t.fingerprint)) {
          // A peer took our entry for an orphan (we were cut off from the Store past our heartbeat) and revoked it.
          this.live.delete(t);
          t.token.fill(0);
          this.deps.logger.warn({ botId: t.botId, fingerprint: t.fingerprint, attempts: attempt }, 'broker token was revoked by another replica');
          return;
        }
        const wait = fast ? this.delay(attempt) : this.opts.revokeMaxDelayMs;
        this.deps.logger[fast ? 'warn' : 'error']({ botId: t.botId, fingerprint: t.fingerprint, attempt, code, retryInMs: wait }, 'broker token revoke failed; retrying');
        if (!fast && attempt === this.opts.revokeAttempts) {
          this.deps.onEvent?.('broker_token.revoke_failed', { botId: t.botId, fingerprint: t.fingerprint, attempts: attempt });
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => { this.timers.delete(timer); resolve(); }, wait);
          this.timers.add(timer);
        });
      }
    }
  }
}
