// The broker-session ledger: what a crash must not lose. Before a broker
// token is issued the ledger records the intent ("issuing" for this key), and
// before the token is used it records the token itself, sealed (AES-256-GCM)
// under a data key wrapped by the key provider. Whoever comes next — the
// restarted process, or a peer replica's sweeper — revokes what is left:
// a sealed token directly; an intent without a token by issuing again, which
// with Kiwoom's one-token-per-key rule hands back the orphan to revoke.
//
// Two homes: a file in the data directory (one process on memory state,
// written with fsync before the token is used), or the shared Store (Redis:
// an index hash of keys, the sealed token living in the key's leased value).
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { GuardError, toGuardError } from '../common/errors.js';
import { writeFileAtomic } from '../common/fsutil.js';
import type { Store } from '../state/types.js';
import { open, packSealed, seal, unpackSealed } from '../vault/aead.js';
import { canonicalContext } from '../vault/context.js';
import type { KeyProvider, WrappedKey } from '../vault/types.js';
import { isProviderUnreachable } from '../vault/unreachable.js';

/** A live broker token as stored: never the token in clear. */
export interface SessionRecord {
  readonly v: 1;
  /** The bot whose credentials issued it (any bot of the key can revoke). */
  readonly botId: string;
  readonly version: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
  /** Keyed fingerprint of the token, for audit and comparisons. */
  readonly tokenFp: string;
  /** base64(iv | tag | ciphertext) */
  readonly sealed: string;
}

export interface LedgerEntry {
  /** The app key's keyed fingerprint. */
  readonly key: string;
  readonly botId: string;
  readonly state: 'issuing' | 'live';
  /** When the entry was written (ms). */
  readonly at: number;
  /** Present in the file ledger once live; in Redis the record lives in the leased value. */
  readonly record?: SessionRecord;
}

export interface SessionLedger {
  readonly kind: 'file' | 'store';
  seal(key: string, version: string, expiresAt: number, token: Buffer): string;
  /** Throws KG4004 when the ciphertext does not match its binding. */
  open(key: string, record: SessionRecord): Buffer;
  /** Durable before the upstream issue. */
  issuing(key: string, botId: string): Promise<void>;
  /** Durable before the token is used; throws (KG7001) when it cannot be written. */
  recorded(key: string, record: SessionRecord): Promise<void>;
  /** The token of this version is gone (revoked, expired or invalid). */
  forget(key: string, version?: string): Promise<void>;
  entries(): Promise<LedgerEntry[]>;
  /** Resolves once the data key is loaded (at once, unless the key provider or Redis did not answer at start). */
  readonly loaded: Promise<void>;
  isLoaded(): boolean;
  close(): void;
}

/** The key's leased value (its sealed token) and its issue lock; one hash tag per key (one Cluster slot). */
export const valueKey = (key: string): string => `{bs:${key}}:session`;
export const lockKey = (key: string): string => `{bs:${key}}:lock`;

const DATA_KEY_CONTEXT = { purpose: 'broker-session-ledger' } as const;
const KEY_PATTERN = /^[A-Za-z0-9:_-]{1,128}$/;

function recordAad(key: string, version: string, expiresAt: number): Buffer {
  return canonicalContext({ key, version, expiresAt: String(expiresAt) });
}

export function parseRecord(raw: unknown): SessionRecord | undefined {
  const r = (typeof raw === 'string' ? safeJson(raw) : raw) as Partial<SessionRecord> | undefined;
  if (
    r?.v !== 1 ||
    typeof r.botId !== 'string' ||
    typeof r.version !== 'string' ||
    typeof r.sealed !== 'string' ||
    typeof r.issuedAt !== 'number' ||
    typeof r.expiresAt !== 'number' ||
    typeof r.tokenFp !== 'string'
  )
    return undefined;
  return r as SessionRecord;
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

/** Seals and opens tokens under one data key; zero-fills it on close. */
class Sealer {
  constructor(private readonly dataKey: Buffer) {}

  seal(key: string, version: string, expiresAt: number, token: Buffer): string {
    return packSealed(seal(this.dataKey, token, recordAad(key, version, expiresAt))).toString('base64');
  }

  open(key: string, record: SessionRecord): Buffer {
    try {
      return open(this.dataKey, unpackSealed(Buffer.from(record.sealed, 'base64')), recordAad(key, record.version, record.expiresAt));
    } catch {
      throw new GuardError('KG4004', 'broker session record does not match its binding');
    }
  }

  close(): void {
    this.dataKey.fill(0);
  }
}

/**
 * The ledger's data key, loaded at start, or, when the key provider or Redis does not answer then (a rollout
 * during an outage), in the background: the sidecar starts unready (/readyz names the vault or state) instead of
 * exiting into a crash loop whose back-off (up to 5 min) outlasts the outage. Until loaded a token can be neither
 * sealed nor opened: no call reaches Kiwoom. A refusal (access denied, no such key, a bad PIN) still stops the start.
 */
function lazySealer(loadSealer: () => Promise<Sealer>, retryMs: number, logger?: Logger) {
  let sealer: Sealer | undefined;
  let loading: Promise<Sealer> | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  let lastCode: 'KG4001' | 'KG7001' | undefined;
  let markLoaded: () => void = () => undefined;
  const loaded = new Promise<void>((resolve) => {
    markLoaded = resolve;
  });
  const load = (): Promise<Sealer> => {
    if (sealer) return Promise.resolve(sealer);
    loading ??= loadSealer().then(
      (s) => {
        if (closed) s.close();
        else {
          sealer = s;
          markLoaded();
        }
        return s;
      },
      (err: unknown) => {
        loading = undefined;
        throw err;
      },
    );
    return loading;
  };
  const retryLater = (err: unknown) => {
    if (closed || sealer) return;
    const code = toGuardError(err).code === 'KG7001' ? 'KG7001' : 'KG4001';
    // Once per cause, not once a second for the whole outage.
    if (code !== lastCode) logger?.warn({ code: toGuardError(err).code }, 'broker session data key not loaded yet; retrying in the background');
    lastCode = code;
    retry = setTimeout(() => void load().catch(retryLater), retryMs);
    retry.unref();
  };
  return {
    load,
    loaded,
    isLoaded: () => sealer !== undefined,
    async start(): Promise<void> {
      try {
        await load();
      } catch (err) {
        if (!(isProviderUnreachable(err) || (err instanceof GuardError && err.code === 'KG7001'))) throw err;
        retryLater(err);
      }
    },
    current(): Sealer {
      if (!sealer) throw new GuardError(lastCode ?? 'KG4001', 'broker session data key not loaded yet');
      return sealer;
    },
    close(): void {
      closed = true;
      clearTimeout(retry);
      sealer?.close();
    },
  };
}

interface LedgerFile {
  v: 1;
  wrapped: WrappedKey;
  entries: Record<string, LedgerEntry>;
}

/** The ledger of one process on memory state: a 0600 file, rewritten atomically with fsync on every change. */
export async function openFileLedger(dataDir: string, provider: KeyProvider, logger: Logger): Promise<SessionLedger> {
  const file = path.join(dataDir, 'broker-sessions.json');
  let previous: LedgerFile | undefined;
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as LedgerFile;
    if (parsed?.v === 1 && parsed.wrapped && typeof parsed.entries === 'object') previous = parsed;
    else logger.error({ file }, 'broker session ledger unreadable; starting a new one (tokens it held expire on their own)');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') logger.error({ file, code: (err as NodeJS.ErrnoException).code }, 'broker session ledger unreadable');
  }
  let wrapped: WrappedKey | undefined = previous?.wrapped;
  const dataKey = lazySealer(
    async () => {
      if (wrapped) return new Sealer(await provider.unwrap(wrapped, DATA_KEY_CONTEXT));
      const made = await provider.generateDataKey(DATA_KEY_CONTEXT);
      wrapped = made.wrapped;
      const sealer = new Sealer(made.plaintext);
      try {
        await persist();
      } catch (err) {
        sealer.close();
        throw err;
      }
      return sealer;
    },
    1_000,
    logger,
  );
  const entries = new Map<string, LedgerEntry>(Object.entries(previous?.entries ?? {}).filter(([k]) => KEY_PATTERN.test(k)));
  // Group commit: one write at a time, and every change made while it runs
  // shares the next one (its snapshot is taken when it starts, so it holds
  // them all). A caller resolves once a write that includes its change is on
  // disk. Without this, every key's issue and revoke queued its own
  // temp+fsync+rename+dir-fsync behind all the others: with many keys each
  // issuing and revoking per call, the queue (not the work) set the latency.
  let inflight: Promise<void> | undefined;
  let next: Promise<void> | undefined;
  const writeNext = async (): Promise<void> => {
    await inflight?.catch(() => undefined);
    next = undefined; // changes from here on wait for a later write
    if (!wrapped) return; // nothing to write before the data key exists (no entry can be made before it)
    const snapshot = JSON.stringify({ v: 1, wrapped, entries: Object.fromEntries(entries) } satisfies LedgerFile);
    const w = writeFileAtomic(file, snapshot);
    inflight = w;
    try {
      await w;
    } finally {
      if (inflight === w) inflight = undefined;
    }
  };
  const persist = (): Promise<void> => {
    next ??= writeNext();
    return next.catch((err) => {
      throw new GuardError('KG7001', `broker session ledger write failed (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
    });
  };
  await dataKey.start();
  return {
    kind: 'file',
    loaded: dataKey.loaded,
    isLoaded: dataKey.isLoaded,
    seal: (k, v, e, t) => dataKey.current().seal(k, v, e, t),
    open: (k, r) => dataKey.current().open(k, r),
    async issuing(key, botId) {
      await dataKey.load();
      const cur = entries.get(key);
      if (cur?.state === 'live') return; // a live record already names this key; keep it until revoked
      entries.set(key, { key, botId, state: 'issuing', at: Date.now() });
      await persist();
    },
    async recorded(key, record) {
      entries.set(key, { key, botId: record.botId, state: 'live', at: Date.now(), record });
      await persist();
    },
    async forget(key, version) {
      const cur = entries.get(key);
      if (!cur || (version && cur.record && cur.record.version !== version)) return;
      entries.delete(key);
      await persist().catch((err) => logger.warn({ code: toGuardError(err).code }, 'broker session ledger entry not removed; it is revoked again on restart'));
    },
    entries: async () => {
      await dataKey.load(); // a recovery or a sweep opens what it lists: an unopened entry must stay, not be forgotten
      return [...entries.values()];
    },
    close: () => dataKey.close(),
  };
}

const INDEX_KEY = 'bs:index';
const DATA_KEY_KEY = 'bs:datakey';

/**
 * The ledger on shared state: one data key for every replica (wrapped by the
 * shared key provider, created once with SET NX) and an index of keys with a
 * session or an issue in progress, for sweeps and the admin listing.
 */
export async function openStoreLedger(store: Store, provider: KeyProvider, opts: { retryMs?: number; logger?: Logger } = {}): Promise<SessionLedger> {
  async function loadSealer(): Promise<Sealer> {
    let raw = await store.get(DATA_KEY_KEY);
    if (raw === null) {
      const made = await provider.generateDataKey(DATA_KEY_CONTEXT);
      made.plaintext.fill(0);
      await store.setIfAbsent(DATA_KEY_KEY, JSON.stringify(made.wrapped), 30 * 24 * 3_600_000);
      raw = await store.get(DATA_KEY_KEY);
    }
    const wrapped = raw === null ? undefined : (safeJson(raw) as WrappedKey | undefined);
    if (!wrapped || typeof wrapped.ciphertext !== 'string') throw new GuardError('KG7001', 'broker session data key missing in shared state');
    return new Sealer(await provider.unwrap(wrapped, DATA_KEY_CONTEXT));
  }
  // Redis or the key provider unreachable at start: see lazySealer.
  const dataKey = lazySealer(loadSealer, opts.retryMs ?? 1_000, opts.logger);
  await dataKey.start();
  const load = dataKey.load;
  // Kept alive while replicas run: its 30-day TTL is refreshed at most hourly, off the call path.
  let touchedAt = Date.now();
  const touchDataKey = () => {
    if (Date.now() - touchedAt < 3_600_000) return;
    touchedAt = Date.now();
    void store.expire(DATA_KEY_KEY, 30 * 24 * 3_600_000).catch(() => false);
  };
  const write = async (entry: LedgerEntry) => {
    try {
      await store.hset(INDEX_KEY, entry.key, JSON.stringify(entry), 48 * 3_600_000);
    } catch (err) {
      throw err instanceof GuardError && err.code === 'KG7001' ? err : new GuardError('KG7001', 'broker session index', { cause: err });
    }
  };
  return {
    kind: 'store',
    loaded: dataKey.loaded,
    isLoaded: dataKey.isLoaded,
    seal: (k, v, e, t) => dataKey.current().seal(k, v, e, t),
    open: (k, r) => dataKey.current().open(k, r),
    async issuing(key, botId) {
      await load();
      touchDataKey();
      await write({ key, botId, state: 'issuing', at: Date.now() });
    },
    // The sealed record itself is written with the leased value (leasePut), atomically with
    // the lock check; the index entry stays as the intent until the token is revoked.
    async recorded() {
      /* nothing more to write */
    },
    async forget(key, version) {
      const before = await store.hget(INDEX_KEY, key).catch(() => null);
      await store.hdel(INDEX_KEY, key).catch(() => undefined);
      if (version === undefined) return;
      // One token forgotten: a peer may have begun the key's next since (its intent written, its token
      // published). That one keeps the key's entry, or a sweep could never find it if the peer died.
      try {
        const [next, lock] = await Promise.all([store.leasePeek(valueKey(key)), store.get(lockKey(key))]);
        const rec = next ? parseRecord(next.value) : undefined;
        if (!(rec && rec.version !== version) && (next || lock === null)) return;
        const kept = before === null ? undefined : (safeJson(before) as LedgerEntry | undefined);
        await write(kept?.botId ? { ...kept, key } : { key, botId: rec?.botId ?? '', state: 'issuing', at: Date.now() });
      } catch {
        // Not known: the peer's next write of the entry (its issue, its sweep) names the key again.
      }
    },
    async entries() {
      await load(); // a sweep opens what it lists
      const all = await store.hgetall(INDEX_KEY);
      const out: LedgerEntry[] = [];
      for (const [key, value] of Object.entries(all)) {
        const e = safeJson(value) as LedgerEntry | undefined;
        if (KEY_PATTERN.test(key) && e && (e.state === 'issuing' || e.state === 'live') && typeof e.botId === 'string') out.push({ ...e, key });
      }
      return out;
    },
    close: () => dataKey.close(),
  };
}

export function newVersion(): string {
  return randomBytes(8).toString('hex');
}
