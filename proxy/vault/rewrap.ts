// Key rotation and rewrap: the two operations that replace a bot's record and
// must destroy the ciphertext they replace. rotateCredentials seals new Kiwoom
// keys as the next key version; rewrapAll moves every record to the primary
// provider's current key, resumably (a journal marks a run in progress).
// Kept apart from vault.ts, which owns the per-call decrypt path.
import { constants as fsConstants } from 'node:fs';
import { lstat, open as openFile, readdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import { GuardError, toGuardError } from '../common/errors.js';
import { atomicWriteFile, overwriteAndUnlink, readFileIfExists, withFileLock, type LockOptions } from './files.js';
import { RECORD_FORMAT, recordMeta, serializeRecord, type CredentialRecord } from './records.js';
import type { RecordSealer } from './seal-record.js';
import type { KeyIndex } from './key-index.js';
import type { CredentialMeta, DecryptPurpose, KeyProvider, KiwoomCredentials, ManagedVault } from './types.js';

const JOURNAL_FILE = '.rewrap-journal.json';

export interface RotationDeps {
  readonly credDir: string;
  readonly primary: KeyProvider;
  readonly lockOpts: LockOptions;
  readonly logger: Logger;
  readonly writes: Counter<'op'>;
  readonly sealer: RecordSealer;
  readonly recordFile: (botId: string) => string;
  readonly lockFile: (botId: string) => string;
  /** Straight from disk (callers hold the record's lock). */
  readonly readRecord: (botId: string) => Promise<CredentialRecord | undefined>;
  /** Drops the per-call path's cached copy of a record just replaced. */
  readonly invalidate: (botId: string) => void;
  readonly listBotIds: () => Promise<string[]>;
  /** Told of the new app key before the rotated record is written, and of the old one after. */
  readonly keyIndex: Pick<KeyIndex, 'add' | 'remove'>;
  readonly assertOpen: () => void;
  readonly validateInput: (input: { botId: string; account?: string; appKey: Buffer; secretKey: Buffer }) => void;
  readonly fingerprint: (appKey: Buffer) => string;
  /** Counts and audits a decrypt (rewrap decrypts every record it moves). */
  readonly report: (e: { botId: string; purpose: DecryptPurpose; outcome: 'ok' | 'error'; code?: string; provider: string; ms: number }) => void;
}

export function createKeyRotation(deps: RotationDeps): Pick<ManagedVault, 'rotateCredentials' | 'rewrapAll'> {
  const { credDir, primary, lockOpts, logger, writes, sealer, recordFile, lockFile, readRecord, report } = deps;

  /** Replaces a record atomically, then zero-fills the old file's bytes (its inode, through a kept descriptor). */
  async function replaceRecord(botId: string, record: CredentialRecord): Promise<void> {
    const file = recordFile(botId);
    const old = await openFile(file, fsConstants.O_RDWR | fsConstants.O_NOFOLLOW).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    try {
      await atomicWriteFile(file, serializeRecord(record));
      deps.invalidate(botId);
      if (old) {
        const { size } = await old.stat();
        if (size > 0) await old.write(Buffer.alloc(size), 0, size, 0);
        await old.sync();
      }
    } finally {
      await old?.close();
    }
  }

  async function rotateCredentials(input: { botId: string; appKey: Buffer; secretKey: Buffer; account?: string }): Promise<CredentialMeta> {
    deps.assertOpen();
    deps.validateInput(input);
    return withFileLock(lockFile(input.botId), lockOpts, async () => {
      const old = await readRecord(input.botId);
      if (!old) throw new GuardError('KG4003');
      const now = new Date().toISOString();
      const record = await sealer.sealNewRecord(
        {
          format: RECORD_FORMAT,
          botId: old.botId,
          account: input.account ?? old.account,
          keyVersion: old.keyVersion + 1,
          createdAt: now,
          updatedAt: now,
          enabled: old.enabled,
          // Who disabled them still holds: a rotation during an incident is no enable.
          ...(old.disabledBy ? { disabledBy: old.disabledBy } : {}),
          appKeyFingerprint: deps.fingerprint(input.appKey),
        },
        input,
      );
      // Calls already past decryption hold their own plaintext copy and finish on the old keys;
      // readers that race the zeroing below retry and get the new record.
      await deps.keyIndex.add(record.appKeyFingerprint, input.botId);
      await replaceRecord(input.botId, record);
      if (old.appKeyFingerprint !== record.appKeyFingerprint) await deps.keyIndex.remove(old.appKeyFingerprint, input.botId).catch(() => undefined); // a leftover is ignored (key-index.ts)
      writes.inc({ op: 'rotate' });
      logger.info({ botId: old.botId, keyVersion: record.keyVersion, previousKeyVersion: old.keyVersion }, 'credentials rotated; old ciphertext destroyed');
      return recordMeta(record);
    });
  }

  function currentTarget(): { provider: string; keyId: string } {
    return { provider: primary.id, keyId: String(primary.describe().keyId ?? '') };
  }

  const rewrapAll: ManagedVault['rewrapAll'] = async (ropts = {}) => {
    deps.assertOpen();
    // health() lets a provider resolve its current key id (KMS: alias -> key ARN) before we compare against it.
    await primary.health();
    const target = currentTarget();
    const journalFile = path.join(credDir, JOURNAL_FILE);
    const previous = await readFileIfExists(journalFile);
    const resumed = previous !== undefined;
    if (resumed) logger.warn('resuming an interrupted rewrap');
    await atomicWriteFile(journalFile, JSON.stringify({ target, startedAt: new Date().toISOString(), pid: process.pid }));
    // Temp files left by a killed writer hold only ciphertext; remove them so they don't pile up.
    for (const name of await readdir(credDir)) {
      if (!name.startsWith('.') || !name.endsWith('.tmp')) continue;
      const file = path.join(credDir, name);
      const st = await lstat(file).catch(() => undefined);
      // A recent one may be a live writer's in another process (before its rename or link): not a leftover.
      if (!st?.isFile() || Date.now() - st.mtimeMs < lockOpts.staleMs) continue;
      // A linked one is a record under a second name (a batch import's): zeroing it would zero the record.
      if (st.nlink > 1) await unlink(file).catch(() => undefined);
      else await overwriteAndUnlink(file);
    }
    const ids = await deps.listBotIds();
    const rewrapped: string[] = [];
    const skipped: string[] = [];
    for (const botId of ids) {
      const outcome = await withFileLock(lockFile(botId), lockOpts, async () => {
        const record = await readRecord(botId);
        if (!record) return 'skipped' as const;
        if (record.provider === target.provider && record.keyId === target.keyId) return 'skipped' as const;
        await withCredentialsOfRecord(record, async (creds) => {
          const next = await sealer.sealNewRecord(
            {
              format: RECORD_FORMAT,
              botId: record.botId,
              account: record.account,
              keyVersion: record.keyVersion,
              createdAt: record.createdAt,
              updatedAt: new Date().toISOString(),
              enabled: record.enabled,
              ...(record.disabledBy ? { disabledBy: record.disabledBy } : {}),
              appKeyFingerprint: record.appKeyFingerprint,
            },
            creds,
          );
          await replaceRecord(botId, next);
        });
        writes.inc({ op: 'rewrap' });
        return 'rewrapped' as const;
      }).catch((err: unknown) => {
        // A provider failing part-way: say where the run stopped and what state it left, not only the provider's error.
        const g = toGuardError(err);
        const errno = (err as NodeJS.ErrnoException | undefined)?.code;
        const why = g.detail ?? (typeof errno === 'string' && /^E[A-Z]+$/.test(errno) ? errno : undefined);
        const notYet = ids.length - rewrapped.length - skipped.length;
        throw new GuardError(
          g.code,
          `${why ? `${why}; ` : ''}rewrap stopped at ${botId}: ${rewrapped.length} rewrapped, ${skipped.length} already under the target, ${notYet} not yet (still under their previous key); run the same rewrap again to resume`,
          { cause: err },
        );
      });
      (outcome === 'rewrapped' ? rewrapped : skipped).push(botId);
      await ropts.onRecord?.(botId, outcome);
    }
    await unlink(journalFile).catch(() => undefined);
    logger.info({ target, rewrapped: rewrapped.length, skipped: skipped.length }, 'rewrap complete');
    return { target, total: ids.length, rewrapped, skipped, resumed };
  };

  /** Decrypt path for rewrap: bypasses the enabled check (disabled records must move too) but is still reported. */
  async function withCredentialsOfRecord(record: CredentialRecord, fn: (creds: KiwoomCredentials) => Promise<void>): Promise<void> {
    const started = performance.now();
    let creds: KiwoomCredentials;
    try {
      creds = await sealer.decryptRecord(record);
    } catch (err) {
      const g = toGuardError(err);
      report({ botId: record.botId, purpose: 'rewrap', outcome: 'error', code: g.code, provider: record.provider, ms: performance.now() - started });
      throw g;
    }
    try {
      report({ botId: record.botId, purpose: 'rewrap', outcome: 'ok', provider: record.provider, ms: performance.now() - started });
      await fn(creds);
    } finally {
      creds.appKey.fill(0);
      creds.secretKey.fill(0);
    }
  }

  return { rotateCredentials, rewrapAll };
}
