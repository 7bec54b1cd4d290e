// In-memory copies of the parsed, still-encrypted credential records, so the
// per-call path reads no file. Only ciphertext, the wrapped data key and
// metadata are kept — never plaintext; every call still unwraps its data key.
//
// A record changes on disk when the CLI (another process) or this vault
// rotates, disables/enables, rewraps or destroys it. Two mechanisms notice:
//  - fs.watch on the credentials dir drops an entry as soon as its file
//    changes (milliseconds; inotify on Linux);
//  - a background sweep every `revalidateMs` stats the recently used records
//    and drops any whose file identity (inode, size, mtime, ctime) moved. It is
//    the safety net for lost or unsupported watch events (network filesystems).
// The hot path itself never touches the disk while an entry was confirmed
// within `maxStaleMs`; an entry the sweep could not confirm in time (event
// loop or thread pool stalled) is reloaded from disk by the call that needs
// it. So a disable takes effect within ~maxStaleMs at worst, milliseconds
// normally, and no read ever takes a lock.
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { toGuardError } from '../common/errors.js';
import type { FileIdentity } from './files.js';
import { counter } from './metrics.js';
import type { CredentialRecord } from './records.js';

export interface RecordCacheConfig {
  /** Keep parsed (encrypted) records in memory; off = read the file on every call. */
  enabled: boolean;
  /** Watch the credentials dir for changes (the sweep still runs either way). */
  watch: boolean;
  /** How often recently used records are re-stat'ed in the background. */
  revalidateMs: number;
  /** An entry not confirmed unchanged within this long is reloaded from disk before use. */
  maxStaleMs: number;
}

export const DEFAULT_RECORD_CACHE_CONFIG: RecordCacheConfig = { enabled: true, watch: true, revalidateMs: 250, maxStaleMs: 1_000 };

export interface LoadedRecord {
  record: CredentialRecord;
  identity: FileIdentity;
}

export interface RecordCache {
  /** The bot's current record, or undefined when it has none. Errors from loading propagate (fail closed). */
  get(botId: string): Promise<CredentialRecord | undefined>;
  /** Drops one bot's entry (after this process wrote its file), or every entry. */
  invalidate(botId?: string): void;
  close(): void;
}

export interface RecordCacheOptions {
  dir: string;
  config: RecordCacheConfig;
  /** Reads and parses the record file, with the identity of the file it read (fstat of the opened descriptor). */
  load: (botId: string) => Promise<LoadedRecord | undefined>;
  fileFor: (botId: string) => string;
  logger: Logger;
  registry: Registry;
  now?: () => number;
}

interface Entry {
  record: CredentialRecord;
  identity: FileIdentity;
  /** When the file was last confirmed to be the one this entry was read from. */
  validatedAt: number;
  usedAt: number;
}

type InvalidationSource = 'watch' | 'sweep' | 'write' | 'error';

function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

export function createRecordCache(opts: RecordCacheOptions): RecordCache {
  const { config: cfg, logger } = opts;
  const now = opts.now ?? (() => performance.now());
  const entries = new Map<string, Entry>();
  const inflight = new Map<string, Promise<CredentialRecord | undefined>>();
  const loads = counter(opts.registry, 'kguard_vault_record_loads_total', 'Credential record file reads (cache miss, stale entry, or cache off)', [
    'reason',
  ] as const);
  const invalidations = counter(opts.registry, 'kguard_vault_record_invalidations_total', 'Cached credential records dropped because their file changed', [
    'source',
  ] as const);
  // Bumped on every invalidation: a load that started before one must not install what it read.
  let generation = 0;
  let watcher: FSWatcher | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;
  let sweeping = false;
  let closed = false;

  function invalidate(botId: string | undefined, source: InvalidationSource): void {
    generation++;
    if (botId === undefined) {
      if (entries.size > 0) invalidations.inc({ source }, entries.size);
      entries.clear();
      inflight.clear();
      return;
    }
    if (entries.delete(botId)) invalidations.inc({ source });
    // Calls arriving after the change must not join a read that may predate it.
    inflight.delete(botId);
  }

  function startWatching(): void {
    if (!cfg.watch || watcher || closed) return;
    try {
      watcher = watch(opts.dir, { persistent: false }, (_event, filename) => {
        if (filename === null || filename === undefined) return invalidate(undefined, 'watch');
        const name = String(filename);
        if (name.endsWith('.json') && !name.startsWith('.')) invalidate(name.slice(0, -'.json'.length), 'watch');
      });
      watcher.on('error', (err) => {
        logger.warn(
          { code: toGuardError(err).code, errno: (err as NodeJS.ErrnoException).code },
          'credentials dir watch failed; relying on the periodic check',
        );
        watcher?.close();
        watcher = undefined;
        invalidate(undefined, 'error');
      });
    } catch (err) {
      watcher = undefined;
      logger.warn({ errno: (err as NodeJS.ErrnoException).code }, 'cannot watch the credentials dir; relying on the periodic check');
    }
  }

  async function sweep(): Promise<void> {
    if (sweeping || closed) return;
    sweeping = true;
    try {
      startWatching(); // re-arms a watcher that failed
      const started = now();
      for (const [botId, entry] of [...entries]) {
        if (started - entry.usedAt > cfg.maxStaleMs) {
          // Idle: no need to keep confirming it; the next call reloads it.
          if (started - entry.validatedAt > cfg.maxStaleMs) entries.delete(botId);
          continue;
        }
        const gen = generation;
        let current: FileIdentity | undefined;
        try {
          const st = await stat(opts.fileFor(botId), { bigint: true });
          current = { dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs };
        } catch {
          current = undefined; // gone or unreadable: drop it and let the call find out from the disk
        }
        if (entries.get(botId) !== entry) continue; // replaced while we looked
        if (!current || !sameIdentity(current, entry.identity)) invalidate(botId, 'sweep');
        else if (gen === generation) entry.validatedAt = started;
      }
    } finally {
      sweeping = false;
    }
  }

  async function load(botId: string, reason: 'miss' | 'stale'): Promise<CredentialRecord | undefined> {
    const pending = inflight.get(botId);
    if (pending) return pending;
    const gen = generation;
    const startedAt = now();
    const p = (async () => {
      loads.inc({ reason });
      const loaded = await opts.load(botId);
      // Only cache what no invalidation raced; the caller still gets what was on disk when it asked.
      if (loaded && gen === generation && !closed) {
        entries.set(botId, { record: loaded.record, identity: loaded.identity, validatedAt: startedAt, usedAt: startedAt });
      }
      return loaded?.record;
    })();
    inflight.set(botId, p);
    try {
      return await p;
    } finally {
      if (inflight.get(botId) === p) inflight.delete(botId);
    }
  }

  function ensureStarted(): void {
    if (sweepTimer || closed) return;
    startWatching();
    sweepTimer = setInterval(() => {
      sweep().catch((err) => logger.warn({ code: toGuardError(err).code }, 'credential record check failed'));
    }, cfg.revalidateMs);
    sweepTimer.unref();
  }

  return {
    async get(botId) {
      if (!cfg.enabled) {
        loads.inc({ reason: 'uncached' });
        return (await opts.load(botId))?.record;
      }
      const entry = entries.get(botId);
      const t = now();
      if (entry && t - entry.validatedAt <= cfg.maxStaleMs) {
        entry.usedAt = t;
        return entry.record;
      }
      ensureStarted();
      return load(botId, entry ? 'stale' : 'miss');
    },
    invalidate(botId) {
      invalidate(botId, 'write');
    },
    close() {
      closed = true;
      watcher?.close();
      watcher = undefined;
      if (sweepTimer) clearInterval(sweepTimer);
      sweepTimer = undefined;
      entries.clear();
      inflight.clear();
    },
  };
}
