// The outstanding-broker-token ledger: while a broker token is live, the
// replica that issued it keeps an entry in the shared Store, holding the token
// only as AES-256-GCM ciphertext under a data key wrapped by the shared
// KeyProvider. If that replica dies before revoking, its heartbeat lapses and
// any other replica's sweeper claims each entry (SET NX, so exactly one
// revokes), decrypts it and revokes it upstream.
//
// Keys (the Store adds its own prefix):
//   replica:<id>          heartbeat, short TTL, refreshed while the replica lives
//   btl:replicas          hash: replica id -> {wrapped data key, startedAt}
//   btl:<id>              hash: fingerprint -> entry JSON (TTL >= latest token expiry)
//   btl:claim:<id>:<fp>   sweeper's claim on one orphaned entry (short TTL)
import { randomBytes } from 'node:crypto';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import { GuardError } from '../common/errors.js';
import type { Store } from '../state/types.js';
import { open, packSealed, seal, unpackSealed } from '../vault/aead.js';
import { canonicalContext } from '../vault/context.js';
import type { EncryptionContext, KeyProvider, WrappedKey } from '../vault/types.js';

export interface TokenLedgerOptions {
  /** How often the replica refreshes its heartbeat. */
  heartbeatIntervalMs: number;
  /** Heartbeat lifetime: a replica silent this long is presumed dead and its tokens are revoked by peers. */
  heartbeatTtlMs: number;
  /** Mean interval between sweeps for orphaned entries (jittered by ±sweepJitter). */
  sweepIntervalMs: number;
  /** Fraction of sweepIntervalMs used as random jitter, so replicas do not sweep in lockstep. */
  sweepJitter: number;
  /** How long a sweeper's claim on one entry lasts; if it dies mid-revoke, another may retry after this. */
  claimTtlMs: number;
  /** Lifetime of the replica index; refreshed by every live replica's heartbeat. Must exceed the broker token lifetime. */
  indexTtlMs: number;
  /** Bound on entries one sweep handles, so a sweep stays short. */
  maxEntriesPerSweep: number;
}

export const TOKEN_LEDGER_DEFAULTS: Readonly<TokenLedgerOptions> = Object.freeze({
  heartbeatIntervalMs: 3_000,
  heartbeatTtlMs: 10_000,
  sweepIntervalMs: 5_000,
  sweepJitter: 0.2,
  claimTtlMs: 60_000,
  indexTtlMs: 48 * 3_600_000,
  maxEntriesPerSweep: 1_000,
});

const INT_BOUNDS: Record<Exclude<keyof TokenLedgerOptions, 'sweepJitter'>, [number, number]> = {
  heartbeatIntervalMs: [50, 600_000],
  heartbeatTtlMs: [100, 3_600_000],
  sweepIntervalMs: [50, 3_600_000],
  claimTtlMs: [100, 3_600_000],
  indexTtlMs: [60_000, 30 * 24 * 3_600_000],
  maxEntriesPerSweep: [1, 1_000_000],
};

/** Validates `raw` (an object of overrides, or undefined for defaults). Throws GuardError KG7004 naming the bad key. */
export function parseTokenLedgerConfig(raw: unknown, where = 'brokerTokens.ledger'): TokenLedgerOptions {
  if (raw === undefined || raw === null) return { ...TOKEN_LEDGER_DEFAULTS };
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new GuardError('KG7004', `${where} must be an object`);
  const r = raw as Record<string, unknown>;
  for (const key of Object.keys(r)) {
    if (!(key in TOKEN_LEDGER_DEFAULTS)) throw new GuardError('KG7004', `${where}.${key} is not a known setting`);
  }
  const out: TokenLedgerOptions = { ...TOKEN_LEDGER_DEFAULTS };
  for (const [key, [min, max]] of Object.entries(INT_BOUNDS) as [keyof typeof INT_BOUNDS, [number, number]][]) {
    const v = r[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
      throw new GuardError('KG7004', `${where}.${key} must be an integer from ${min} to ${max}`);
    }
    out[key] = v;
  }
  if (r['sweepJitter'] !== undefined) {
    const j = r['sweepJitter'];
    if (typeof j !== 'number' || !Number.isFinite(j) || j < 0 || j > 0.9) throw new GuardError('KG7004', `${where}.sweepJitter must be a number from 0 to 0.9`);
    out.sweepJitter = j;
  }
  if (out.heartbeatIntervalMs * 2 > out.heartbeatTtlMs) {
    // One missed beat must not make a live replica look dead.
    throw new GuardError('KG7004', `${where}.heartbeatTtlMs must be at least twice heartbeatIntervalMs`);
  }
  return out;
}

export interface LedgerEntryInput {
  readonly botId: string;
  readonly fingerprint: string;
  readonly token: Buffer;
  readonly expiresAt: number;
}

/** What BrokerTokens needs from the ledger. */
export interface BrokerTokenLedger {
  readonly replicaId: string;
  /** Writes the entry (one Store round trip). Throws GuardError KG7001 when it cannot; the caller must then not use the token. */
  record(entry: LedgerEntryInput): Promise<void>;
  /** Deletes the entry after revoke or expiry (one Store round trip). Errors are logged, not thrown: the entry expires anyway. */
  forget(fingerprint: string): Promise<void>;
  /** True when another replica's sweeper claimed this replica's entry (it revoked or is revoking the token). */
  claimedElsewhere(fingerprint: string): Promise<boolean>;
}

export interface TokenLedger extends BrokerTokenLedger {
  /** One sweep now; resolves to the number of orphaned tokens revoked. Sweeps never overlap. */
  sweep(): Promise<number>;
  /** Stops heartbeat and sweeper and drops the heartbeat (peers then sweep leftovers at once); zero-fills the data key. */
  close(): Promise<void>;
}

export interface TokenLedgerDeps {
  store: Store;
  /** Must be shared by every replica (KMS, HSM, or the same local master key file). */
  provider: KeyProvider;
  /** The revoke path (vault purpose 'revoke'); the token Buffer is zero-filled by the ledger afterwards. */
  revoke(botId: string, token: Buffer): Promise<void>;
  registry: Registry;
  logger: Logger;
  onEvent?: (type: 'broker_token.orphan_revoked', fields: { botId: string; fingerprint: string; deadReplica: string }) => void;
}

interface StoredEntry {
  v: 1;
  botId: string;
  fingerprint: string;
  expiresAt: number;
  replicaId: string;
  /** base64(iv | tag | ciphertext) */
  sealed: string;
}

interface IndexValue {
  wrapped: WrappedKey;
  startedAt: number;
}

const INDEX_KEY = 'btl:replicas';
const heartbeatKey = (id: string): string => `replica:${id}`;
const entriesKey = (id: string): string => `btl:${id}`;
const claimKey = (id: string, fp: string): string => `btl:claim:${id}:${fp}`;
const REPLICA_ID = /^[0-9a-f]{16}$/;
const FINGERPRINT = /^[0-9a-f]{8,64}$/;

function dataKeyContext(replicaId: string): EncryptionContext {
  return { purpose: 'broker-token-ledger', replicaId };
}

/** AAD: the entry's identity, so ciphertext moved to another bot, fingerprint or replica does not decrypt. */
function entryAad(e: { botId: string; fingerprint: string; replicaId: string; expiresAt: number }): Buffer {
  return canonicalContext({ botId: e.botId, fingerprint: e.fingerprint, replicaId: e.replicaId, expiresAt: String(e.expiresAt) });
}

function parseEntry(raw: string): StoredEntry | undefined {
  try {
    const e = JSON.parse(raw) as Partial<StoredEntry>;
    if (e.v !== 1 || typeof e.botId !== 'string' || typeof e.fingerprint !== 'string' || typeof e.replicaId !== 'string'
      || typeof e.expiresAt !== 'number' || typeof e.sealed !== 'string') return undefined;
    return e as StoredEntry;
  } catch {
    return undefined;
  }
}

function parseIndex(raw: string): IndexValue | undefined {
  try {
    const v = JSON.parse(raw) as Partial<IndexValue>;
    const w = v.wrapped as Partial<WrappedKey> | undefined;
    if (!w || typeof w.provider !== 'string' || typeof w.keyId !== 'string' || typeof w.ciphertext !== 'string') return undefined;
    return { wrapped: w as WrappedKey, startedAt: Number(v.startedAt) || 0 };
  } catch {
    return undefined;
  }
}

/**
 * Starts a ledger: new replica id, fresh wrapped data key, heartbeat and
 * registration, one sweep at once (entries of a crashed previous incarnation
 * are orphans too), then jittered periodic sweeps.
 * Never throws for a Store or key provider that is down: it logs, keeps
 * retrying, and record() fails closed (KG7001) until registration succeeds.
 */
export async function createTokenLedger(opts: TokenLedgerOptions, deps: TokenLedgerDeps): Promise<TokenLedger> {
  const { store, provider, logger } = deps;
  const log = logger.child({ part: 'token-ledger' });
  const replicaId = randomBytes(8).toString('hex');
  const registers = [deps.registry];
  const orphansRevoked = new Counter({ name: 'kguard_broker_token_orphans_revoked_total', help: 'Broker tokens of dead replicas revoked by this replica\'s sweeper', registers });
  const orphanFailures = new Counter({
    name: 'kguard_broker_token_orphan_failures_total', help: 'Orphaned ledger entries this sweeper could not revoke (retried next sweep)',
    labelNames: ['reason'], registers,
  });
  const ledgerErrors = new Counter({
    name: 'kguard_broker_token_ledger_errors_total', help: 'Ledger Store operations that failed',
    labelNames: ['op'], registers,
  });

  const startedAt = Date.now();
  // Made on the first successful registration; until then record() fails closed.
  let dataKey: Buffer | undefined;
  let wrapped: WrappedKey | undefined;
  let registered = false;
  let latestExpiry = 0;
  let closed = false;
  let sweeping: Promise<number> | undefined;
  let heartbeatTimer: NodeJS.Timeout | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;

  async function beat(): Promise<void> {
    if (!wrapped) {
      const made = await provider.generateDataKey(dataKeyContext(replicaId));
      if (closed) { made.plaintext.fill(0); return; }
      dataKey = made.plaintext;
      wrapped = made.wrapped;
    }
    // Heartbeat before index: a peer never sees an indexed replica without a heartbeat while it starts.
    await store.set(heartbeatKey(replicaId), String(Date.now()), opts.heartbeatTtlMs);
    await store.hset(INDEX_KEY, replicaId, JSON.stringify({ wrapped, startedAt } satisfies IndexValue), opts.indexTtlMs);
    registered = true;
  }

  // Store or key provider down at start: the sidecar still starts (tokens are refused
  // until the ledger can register) and the heartbeat keeps trying.
  await beat().catch((err) => {
    ledgerErrors.inc({ op: 'heartbeat' });
    log.warn({ code: (err as GuardError).code }, 'ledger registration failed; broker tokens are refused until it succeeds');
  });

  heartbeatTimer = setInterval(() => {
    // A failed beat is retried next interval; heartbeatTtlMs >= 2 intervals absorbs one miss.
    beat().catch((err) => { ledgerErrors.inc({ op: 'heartbeat' }); log.warn({ code: (err as GuardError).code }, 'ledger heartbeat failed'); });
  }, opts.heartbeatIntervalMs);
  heartbeatTimer.unref();

  async function record(entry: LedgerEntryInput): Promise<void> {
    if (closed) throw new GuardError('KG7001', 'ledger closed');
    if (!registered || !dataKey) {
      ledgerErrors.inc({ op: 'write' });
      throw new GuardError('KG7001', 'ledger not registered');
    }
    const aad = entryAad({ ...entry, replicaId });
    const sealed = packSealed(seal(dataKey, entry.token, aad)).toString('base64');
    const value: StoredEntry = { v: 1, botId: entry.botId, fingerprint: entry.fingerprint, expiresAt: entry.expiresAt, replicaId, sealed };
    latestExpiry = Math.max(latestExpiry, entry.expiresAt);
    // The hash lives as long as the latest-expiring token it may hold.
    const ttl = Math.max(1_000, latestExpiry - Date.now() + opts.heartbeatTtlMs);
    try {
      await store.hset(entriesKey(replicaId), entry.fingerprint, JSON.stringify(value), ttl);
    } catch (err) {
      ledgerErrors.inc({ op: 'write' });
      throw err instanceof GuardError && err.code === 'KG7001' ? err : new GuardError('KG7001', 'ledger write failed', { cause: err });
    }
  }

  async function forget(fingerprint: string): Promise<void> {
    try {
      await store.hdel(entriesKey(replicaId), fingerprint);
    } catch (err) {
      ledgerErrors.inc({ op: 'delete' });
      log.warn({ fingerprint, code: (err as GuardError).code }, 'ledger entry delete failed; it expires with the token');
    }
  }

  async function claimedElsewhere(fingerprint: string): Promise<boolean> {
    try {
      return (await store.get(claimKey(replicaId, fingerprint))) !== null;
    } catch {
      ledgerErrors.inc({ op: 'claim_check' });
      return false;
    }
  }

  async function unwrapFor(deadId: string, rawIndex: string | undefined): Promise<Buffer | undefined> {
    const idx = rawIndex === undefined ? undefined : parseIndex(rawIndex);
    if (!idx) { orphanFailures.inc({ reason: 'bad_index' }); return undefined; }
    try {
      return await provider.unwrap(idx.wrapped, dataKeyContext(deadId));
    } catch (err) {
      orphanFailures.inc({ reason: 'unwrap' });
      log.error({ deadReplica: deadId, code: (err as GuardError).code }, 'cannot unwrap a dead replica\'s ledger key (different key provider?)');
      return undefined;
    }
  }

  /** Revokes one orphaned entry if this replica wins the claim. */
  async function revokeOrphan(deadId: string, fingerprint: string, raw: string, deadKey: Buffer): Promise<boolean> {
    const e = parseEntry(raw);
    if (!e || e.fingerprint !== fingerprint || e.replicaId !== deadId) {
      orphanFailures.inc({ reason: 'bad_entry' });
      log.error({ deadReplica: deadId, fingerprint: FINGERPRINT.test(fingerprint) ? fingerprint : 'invalid' }, 'malformed ledger entry dropped');
      await store.hdel(entriesKey(deadId), fingerprint);
      return false;
    }
    if (e.expiresAt <= Date.now()) {
      // Expired upstream: no one can use it, nothing to revoke.
      await store.hdel(entriesKey(deadId), fingerprint);
      return false;
    }
    const claimTtl = Math.max(100, Math.min(opts.claimTtlMs, e.expiresAt - Date.now()));
    if (!(await store.setIfAbsent(claimKey(deadId, fingerprint), replicaId, claimTtl))) return false;
    let token: Buffer;
    try {
      token = open(deadKey, unpackSealed(Buffer.from(e.sealed, 'base64')), entryAad(e));
    } catch {
      // Tampered or mis-bound ciphertext: keep the entry (and claim) so it is visible, not silently dropped.
      orphanFailures.inc({ reason: 'decrypt' });
      log.error({ deadReplica: deadId, botId: e.botId, fingerprint }, 'ledger entry does not decrypt under its binding; not revoked');
      return false;
    }
    try {
      await deps.revoke(e.botId, token);
    } catch (err) {
      orphanFailures.inc({ reason: 'revoke' });
      log.warn({ deadReplica: deadId, botId: e.botId, fingerprint, code: (err as GuardError).code }, 'orphaned broker token revoke failed; retrying next sweep');
      await store.del(claimKey(deadId, fingerprint)).catch(() => undefined);
      return false;
    } finally {
      token.fill(0);
    }
    await store.hdel(entriesKey(deadId), fingerprint);
    orphansRevoked.inc();
    log.warn({ deadReplica: deadId, botId: e.botId, fingerprint }, 'revoked a broker token left by a dead replica');
    deps.onEvent?.('broker_token.orphan_revoked', { botId: e.botId, fingerprint, deadReplica: deadId });
    return true;
  }

  async function sweepOnce(): Promise<number> {
    let revoked = 0;
    let budget = opts.maxEntriesPerSweep;
    const index = await store.hgetall(INDEX_KEY);
    for (const [deadId, rawIndex] of Object.entries(index)) {
      if (deadId === replicaId || budget <= 0) continue;
      if (!REPLICA_ID.test(deadId)) { await store.hdel(INDEX_KEY, deadId); continue; }
      if ((await store.get(heartbeatKey(deadId))) !== null) continue;
      const entries = Object.entries(await store.hgetall(entriesKey(deadId)));
      if (entries.length === 0) {
        await store.hdel(INDEX_KEY, deadId);
        continue;
      }
      const deadKey = await unwrapFor(deadId, rawIndex);
      if (!deadKey) continue;
      try {
        for (const [fp, raw] of entries) {
          if (budget-- <= 0) break;
          try {
            if (await revokeOrphan(deadId, fp, raw, deadKey)) revoked++;
          } catch (err) {
            ledgerErrors.inc({ op: 'sweep' });
            log.warn({ deadReplica: deadId, code: (err as GuardError).code }, 'ledger sweep step failed');
          }
        }
      } finally {
        deadKey.fill(0);
      }
    }
    return revoked;
  }

  function sweep(): Promise<number> {
    if (closed) return Promise.resolve(0);
    if (!sweeping) {
      sweeping = sweepOnce().finally(() => { sweeping = undefined; });
    }
    return sweeping;
  }

  function scheduleSweep(delayMs: number): void {
    if (closed) return;
    sweepTimer = setTimeout(() => {
      sweep()
        .catch((err) => { ledgerErrors.inc({ op: 'sweep' }); log.warn({ code: (err as GuardError).code }, 'ledger sweep failed'); })
        .finally(() => {
          const jitter = opts.sweepIntervalMs * opts.sweepJitter * (Math.random() * 2 - 1);
          scheduleSweep(Math.max(10, Math.round(opts.sweepIntervalMs + jitter)));
        });
    }, delayMs);
    sweepTimer.unref();
  }
  scheduleSweep(0);

  log.info({ replicaId }, 'broker token ledger started');
  return {
    replicaId,
    record,
    forget,
    claimedElsewhere,
    sweep,
    async close() {
      if (closed) return;
      closed = true;
      if (heartbeatTimer) clearInterval(heartbeatTimer);
      if (sweepTimer) clearTimeout(sweepTimer);
      await sweeping?.catch(() => undefined);
      dataKey?.fill(0);
      // Dropping the heartbeat lets peers revoke anything drain left behind without waiting for the TTL.
      await store.del(heartbeatKey(replicaId)).catch(() => undefined);
    },
  };
}
