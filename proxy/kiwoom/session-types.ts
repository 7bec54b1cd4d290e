// The broker sessions' types: options, dependencies, the lease a call holds,
// the admin listing, and the per-key state one replica keeps (with its timer helpers).
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { Config } from '../common/config.js';
import type { Store } from '../state/types.js';
import type { BrokerToken, RevokeOutcome } from './client.js';
import type { Governor } from './governor.js';
import type { SessionLedger, SessionRecord } from './session-ledger.js';

/** 'lockdown': the credential record is already disabled; the vault still lets a lockdown cancel orders. */
export type IssuePurpose = 'call' | 'lockdown';

/** Knobs and their meaning: the brokerTokens section of the config (proxy/common/config.ts). */
export type BrokerSessionOptions = Omit<Config['brokerTokens'], 'queryRetryBudgetMs'>;

export interface BrokerSessionDeps {
  store: Store;
  ledger: SessionLedger;
  governor: Governor;
  replicaId: string;
  /** The app key a bot's credential record holds (keyed fingerprint); refuses a disabled record for 'call'. */
  keyOf(botId: string, purpose: IssuePurpose | 'revoke'): Promise<string>;
  /**
   * Issues with the bot's credentials for the session of `key` (the app key the call was admitted under): KG4003 when
   * the bot's record holds another app key by then (its keys rotated meanwhile), so no token is filed under a key it
   * does not belong to.
   */
  issue(botId: string, purpose: IssuePurpose, requestId: string | undefined, key: string): Promise<BrokerToken>;
  /**
   * Revokes with credentials holding `key`, the app key that issued the token (vault purpose 'revoke'): the bot's,
   * or another record's when the bot's keys were rotated since. KG4003 when no record holds that key any more.
   */
  revoke(botId: string, token: Buffer, key: string): Promise<RevokeOutcome | undefined>;
  fingerprintKey: Buffer;
  registry: Registry;
  logger: Logger;
  /** log.outageReminderMs: a failure that repeats through an outage (the sweep's) is logged again at most this often. */
  outageReminderMs?: number;
  onEvent?: (
    type: 'broker_token.issued' | 'broker_token.revoked' | 'broker_token.revoke_failed' | 'broker_token.invalidated',
    fields: {
      botId: string;
      key: string;
      fingerprint: string;
      attempts?: number;
      orphan?: boolean;
      requestId?: string;
      notRegistered?: boolean;
      invalid?: boolean;
      /** revoke_failed: no credential record holds the key that issued it (rotated, removed); live until expiresAt. */
      unrevocable?: boolean;
      expiresAt?: string;
    },
  ) => void;
}

export interface BrokerLease {
  readonly token: Buffer;
  /** The app key's keyed fingerprint. */
  readonly key: string;
  /** Keyed fingerprint of the token. */
  readonly fingerprint: string;
  /** When the token is due for renewal (ms, renewBeforeMs before expiry): a long holder (the realtime session) lets go by then. */
  readonly renewAt: number;
  /** Ends this use. Idempotent. */
  release(): void;
  /** Kiwoom answered [8005] with this token: forget it (if still current) so the next lease issues afresh. */
  invalidate(): void;
}

export interface SessionInfo {
  readonly key: string;
  readonly state: 'issuing' | 'live' | 'retiring';
  readonly leases: number;
  readonly issuedBy: string;
  readonly issuedAt?: string;
  readonly expiresAt?: string;
  readonly ageMs?: number;
}

export interface Gen {
  readonly version: string;
  readonly record: SessionRecord;
  readonly token: Buffer;
  local: number;
  dead: boolean;
  /** Its shared record vanished while this replica held it (Redis came back empty): nobody else can revoke it. */
  untracked?: boolean;
  /** Due for renewal, but its revoke failed (Kiwoom still honours it): leased as it is until it expires. */
  stale?: boolean;
}

export interface KeyState {
  readonly key: string;
  gen?: Gen;
  /** True while this replica holds a lease in the shared Store for gen. */
  shared: boolean;
  obtaining?: Promise<void>;
  retiring?: Promise<void>;
  linger?: NodeJS.Timeout;
  refresh?: NodeJS.Timeout;
  /** Revoke as soon as the last local lease goes (lockdown, shutdown). */
  revokeWhenIdle: boolean;
  /** When this replica issued the key's recent tokens (for Kiwoom's issue limit). */
  issues: number[];
  /** The call whose release left the token idle: its revoke record names it. */
  lastRequestId?: string;
  /** When this replica last leased the key for a call, and the recent gap between such leases (moving average). */
  lastCallAt?: number;
  callGapMs?: number;
  /** How long giving up the key's token recently took (moving average): the linger is not shorter. */
  retireMs?: number;
  /** The version of the last token this replica counted as given up for renewal. */
  renewCounted?: string;
}

/**
 * The generation a replica holds after the shared Store named `record`: its own when the version is the same
 * (a copy of the token opened for it is wiped), a new one otherwise (the old is dead, and wiped once no call holds it).
 */
export function adoptGen(old: Gen | undefined, record: SessionRecord, token: Buffer): Gen {
  if (old && old.version === record.version) {
    if (token !== old.token) token.fill(0);
    return old;
  }
  if (old) {
    old.dead = true;
    if (old.local === 0) old.token.fill(0);
  }
  return { version: record.version, record, token, local: 0, dead: false };
}

/** Leasable: not within renewBeforeMs of its expiry, or (its renewal's revoke failed) not yet expired. */
export function usable(g: Gen, renewBeforeMs: number, now = Date.now()): boolean {
  return g.record.expiresAt - now > renewBeforeMs || (g.stale === true && g.record.expiresAt > now);
}

/** Settles with `p` (its failure passed on), or at `deadline`, or when `signal` aborts: whichever comes first. */
export function waitBounded(p: Promise<unknown>, deadline: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const end = (err?: { reason: unknown }) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
      if (err) reject(err.reason);
      else resolve();
    };
    const stop = () => end();
    const timer = setTimeout(stop, Math.max(0, deadline - Date.now()) + 1);
    signal?.addEventListener('abort', stop, { once: true });
    p.then(stop, (reason: unknown) => end({ reason }));
  });
}

/** This replica's copy no longer lingers (a new lease came, or it is being given up). */
/** The keys whose token this replica holds and has not seen end. */
export function liveKeys(keys: ReadonlyMap<string, KeyState>): string[] {
  return [...keys.values()].filter((k) => k.gen && !k.gen.dead).map((k) => k.key);
}

export function stopLinger(k: KeyState): void {
  if (k.linger) clearTimeout(k.linger);
  k.linger = undefined;
}

/** Neither lingering nor refreshing its shared lease. */
export function stopTimers(k: KeyState): void {
  stopLinger(k);
  if (k.refresh) clearInterval(k.refresh);
  k.refresh = undefined;
}
