// The vault: envelope-encrypted credential records, one file per bot under
// <dataDir>/credentials/. Each record has its own data key, wrapped by a key
// provider under the record's encryption context. Decryption happens per
// call, after the record's state has authorised it, and the plaintext is
// zero-filled when the caller's function settles.
// Record sealing/decryption lives in seal-record.ts and key rotation/rewrap in
// rewrap.ts; this file owns the files, locks, cache and the per-call path.
import { outageLogs } from '../common/outage-log.js';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { GuardError, toGuardError } from '../common/errors.js';
import { keyedFingerprint } from '../common/secret.js';
import { DEFAULT_CACHE_CONFIG, withDataKeyCache, type DataKeyCacheConfig } from './cache.js';
import {
  atomicWriteFile,
  createFileExclusive,
  ensurePrivateDir,
  overwriteAndUnlink,
  readFileIfExists,
  readFileWithIdentity,
  readPrivateFile,
  withFileLock,
  type LockOptions,
} from './files.js';
import { counter, histogram, UNWRAP_BUCKETS } from './metrics.js';
import { createRecordCache, DEFAULT_RECORD_CACHE_CONFIG, type LoadedRecord, type RecordCacheConfig } from './record-cache.js';
import { assertAccount, assertBotId, parseRecord, recordMeta, serializeRecord, type CredentialRecord, type CredentialSwitch } from './records.js';
import { createKeyRotation } from './rewrap.js';
import { createBatchImport } from './batch-import.js';
import { createKeyHolders, createKeyIndex, schemeless } from './key-index.js';
import { createRecordSealer, newRecordBase } from './seal-record.js';
import { DEFAULT_CREDENTIAL_LIMITS, validateSecretKeyMaterial, type CredentialLimits } from './secret-input.js';
import { DECRYPT_PURPOSES, type CredentialMeta, type DecryptPurpose, type KeyProvider, type KiwoomCredentials, type ManagedVault } from './types.js';

export interface DecryptEvent {
  botId: string;
  purpose: DecryptPurpose;
  outcome: 'ok' | 'denied' | 'error';
  code?: string;
  provider: string;
  ms: number;
  /** The bot call it served, when there is one. */
  requestId?: string;
}

export interface VaultOptions {
  dataDir: string;
  /** Wraps new data keys; rewrap moves records to it. */
  provider: KeyProvider;
  /** Other providers that can still unwrap records not yet rewrapped (e.g. 'local' during a move to KMS). */
  readProviders?: KeyProvider[];
  registry: Registry;
  logger: Logger;
  /** log.outageReminderMs: a decrypt failure that repeats (a key provider down) is logged again at most this often. */
  outageReminderMs?: number;
  /** Called for every decrypt attempt (the audit `decrypt_attempt`) and awaited; if it throws or rejects, the decrypt is refused. */
  onDecrypt?: (e: DecryptEvent) => void | Promise<void>;
  /** Key for app-key fingerprints; default: `<dataDir>/fingerprint.key`, created 0600 on first run. */
  hmacKey?: Buffer;
  cache?: Partial<DataKeyCacheConfig>;
  limits?: Partial<CredentialLimits>;
  lock?: Partial<LockOptions>;
  /** In-memory copies of the encrypted records for the per-call path; on by default. */
  records?: Partial<RecordCacheConfig>;
  /** Batch import: records sealed at once (one data-key request each to the provider). Default 8. */
  batchSealConcurrency?: number;
}

const CREDENTIALS_DIR = 'credentials';
const KEY_INDEX_DIR = 'credential-keys';
const MAX_RECORD_BYTES = 64 * 1024;

async function loadOrCreateFingerprintKey(dataDir: string): Promise<Buffer> {
  const file = path.join(dataDir, 'fingerprint.key');
  const fresh = randomBytes(32);
  try {
    await createFileExclusive(file, fresh);
  } finally {
    fresh.fill(0);
  }
  const key = await readPrivateFile(file, 'fingerprint key', 1024);
  if (key.length !== 32) throw new GuardError('KG4005', 'fingerprint key must be 32 bytes');
  return key;
}

export async function createVault(opts: VaultOptions): Promise<ManagedVault> {
  const { dataDir, logger } = opts;
  const limits: CredentialLimits = { ...DEFAULT_CREDENTIAL_LIMITS, ...opts.limits };
  const lockOpts: LockOptions = { timeoutMs: 5_000, staleMs: 30_000, ...opts.lock };
  const cacheCfg: DataKeyCacheConfig = { ...DEFAULT_CACHE_CONFIG, ...opts.cache };
  const credDir = path.join(dataDir, CREDENTIALS_DIR);
  await ensurePrivateDir(dataDir);
  await ensurePrivateDir(credDir);
  await ensurePrivateDir(path.join(dataDir, KEY_INDEX_DIR));
  const keyIndex = createKeyIndex(path.join(dataDir, KEY_INDEX_DIR));
  const hmacKey = opts.hmacKey ? Buffer.from(opts.hmacKey) : await loadOrCreateFingerprintKey(dataDir);

  // A key provider down fails every cold decrypt the same way: one line per code and outage (the audit trail keeps
  // each attempt), ended by the next decrypt that succeeds.
  const decryptFailures = outageLogs({
    logger,
    lost: 'credential decrypt failed',
    still: 'credential decrypts still failing',
    back: 'credential decrypts succeed again',
    reminderMs: opts.outageReminderMs,
  });
  const decorate = (p: KeyProvider): KeyProvider => (cacheCfg.enabled ? withDataKeyCache(p, cacheCfg, opts.registry) : p);
  const primary = decorate(opts.provider);
  const providers = new Map<string, KeyProvider>();
  for (const p of opts.readProviders ?? []) providers.set(p.id, decorate(p));
  providers.set(primary.id, primary);

  const decrypts = counter(opts.registry, 'kguard_vault_decrypts_total', 'Credential decrypt attempts', ['purpose', 'outcome'] as const);
  // Failures start at 0: a series born at 1 shows Prometheus no increase, and KiwoomGuardDecryptsDenied would miss the first.
  for (const purpose of DECRYPT_PURPOSES) for (const outcome of ['denied', 'error']) decrypts.inc({ purpose, outcome }, 0);
  const unwrapSeconds = histogram(opts.registry, 'kguard_vault_unwrap_duration_seconds', 'Data-key unwrap latency', ['provider'] as const, UNWRAP_BUCKETS);
  const writes = counter(opts.registry, 'kguard_vault_record_writes_total', 'Credential record writes', ['op'] as const);

  const recordFile = (botId: string): string => path.join(credDir, `${botId}.json`);
  const lockFile = (botId: string): string => path.join(credDir, `${botId}.lock`);
  let closed = false;

  function assertOpen(): void {
    if (closed) throw new GuardError('KG4001', 'vault closed');
  }

  /** Reads a record and its file identity; retries when it catches a rotation zeroing the old file under it. */
  async function loadRecord(botId: string): Promise<LoadedRecord | undefined> {
    for (let attempt = 0; ; attempt++) {
      const read = await readFileWithIdentity(
        recordFile(botId),
        MAX_RECORD_BYTES,
        () => new GuardError('KG4004', 'credential record too large'),
        // Its clear fields (enabled, the app-key fingerprint that picks the broker session) are trusted as written by us.
        'credential record',
      );
      if (!read) return undefined;
      try {
        return { record: parseRecord(read.bytes, botId), identity: read.identity };
      } catch (err) {
        if (attempt >= 2) throw err;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  }

  /** Straight from disk: for writers (under the record's lock), describe and list. */
  async function readRecord(botId: string): Promise<CredentialRecord | undefined> {
    return (await loadRecord(botId))?.record;
  }

  // The per-call path reads records from here: no file I/O and no lock while the copy is confirmed current.
  const records = createRecordCache({
    dir: credDir,
    config: { ...DEFAULT_RECORD_CACHE_CONFIG, ...opts.records },
    load: loadRecord,
    fileFor: recordFile,
    logger,
    registry: opts.registry,
  });

  function providerFor(name: string): KeyProvider {
    const p = providers.get(name);
    if (!p) throw new GuardError('KG4001', `key provider ${name} is not configured`);
    return p;
  }

  const sealer = createRecordSealer({ primary, providerFor, unwrapSeconds });
  const { sealNewRecord, decryptRecord } = sealer;

  function fingerprint(appKey: Buffer): string {
    return `hmac-sha256:${keyedFingerprint(hmacKey, appKey, 32)}`;
  }

  function validateInput(input: { botId: string; account?: string; appKey: Buffer; secretKey: Buffer }): void {
    assertBotId(input.botId);
    if (input.account !== undefined) assertAccount(input.account);
    if (!Buffer.isBuffer(input.appKey) || !Buffer.isBuffer(input.secretKey)) throw new GuardError('KG4006', 'keys must be Buffers');
    validateSecretKeyMaterial(input.appKey, 'appKey', limits);
    validateSecretKeyMaterial(input.secretKey, 'secretKey', limits);
  }

  async function report(e: DecryptEvent): Promise<void> {
    decrypts.inc({ purpose: e.purpose, outcome: e.outcome });
    await opts.onDecrypt?.(e);
  }

  async function withCredentials<T>(
    botId: string,
    purpose: DecryptPurpose,
    fn: (creds: KiwoomCredentials) => Promise<T>,
    requestId?: string,
    appKey?: string,
  ): Promise<T> {
    const started = performance.now();
    let providerName = primary.id;
    let creds: KiwoomCredentials | undefined;
    try {
      assertOpen();
      assertBotId(botId);
      const record = await records.get(botId);
      if (!record) throw new GuardError('KG4003');
      providerName = record.provider;
      // Authorise on the record's current state before touching any key.
      if (!record.enabled && purpose === 'call') throw new GuardError('KG4002');
      // A broker session's key: after a rotation this bot's record holds another app key, which cannot stand in for it.
      if (appKey !== undefined && schemeless(record.appKeyFingerprint) !== schemeless(appKey))
        throw new GuardError('KG4003', "the bot's record holds another app key now (keys rotate)");
      creds = await decryptRecord(record);
    } catch (err) {
      const g = toGuardError(err);
      const outcome = g.code === 'KG4002' || g.code === 'KG4003' ? 'denied' : 'error';
      try {
        await report({ botId: botIdLabel(botId), purpose, outcome, code: g.code, provider: providerName, ms: performance.now() - started, requestId });
      } catch (auditErr) {
        logger.error({ err: toGuardError(auditErr).code }, 'decrypt audit hook failed');
      }
      if (outcome === 'error') decryptFailures.of(g.code).failed({ botId: botIdLabel(botId), purpose, code: g.code, detail: g.detail });
      throw g;
    }
    for (const log of decryptFailures.all()) log.ok();
    try {
      await report({ botId, purpose, outcome: 'ok', provider: providerName, ms: performance.now() - started, requestId });
      return await fn(creds);
    } finally {
      creds.appKey.fill(0);
      creds.secretKey.fill(0);
    }
  }

  async function importCredentials(input: { botId: string; account: string; appKey: Buffer; secretKey: Buffer }): Promise<CredentialMeta> {
    assertOpen();
    validateInput(input);
    assertAccount(input.account);
    return withFileLock(lockFile(input.botId), lockOpts, async () => {
      if (await readFileIfExists(recordFile(input.botId))) throw new GuardError('KG4008', 'use rotate to replace keys');
      const now = new Date().toISOString();
      const record = await sealNewRecord(newRecordBase(input.botId, input.account, fingerprint(input.appKey), now), input);
      await keyIndex.add(record.appKeyFingerprint, input.botId); // before the record: key-index.ts says why
      await atomicWriteFile(recordFile(input.botId), serializeRecord(record));
      records.invalidate(input.botId);
      writes.inc({ op: 'import' });
      logger.info({ botId: input.botId, keyVersion: 1, provider: record.provider }, 'credentials imported');
      return recordMeta(record);
    });
  }

  /**
   * An operator's switch always holds; a lockdown's disable leaves credentials already off as they are (with their
   * marker), and its unlock does not turn on what an operator turned off (false: left disabled).
   */
  async function setEnabled(botId: string, enabled: boolean, by: CredentialSwitch = 'operator'): Promise<boolean> {
    assertOpen();
    assertBotId(botId);
    return withFileLock(lockFile(botId), lockOpts, async () => {
      const record = await readRecord(botId);
      if (!record) throw new GuardError('KG4003');
      if (enabled && by === 'lockdown' && !record.enabled && record.disabledBy === 'operator') return false;
      // An operator disabling credentials a lockdown already disabled marks them theirs: the unlock leaves them off.
      const unchanged = record.enabled === enabled && (enabled || by === 'lockdown' || record.disabledBy === 'operator');
      if (unchanged) return true;
      const { disabledBy: _previous, ...rest } = record;
      const next: CredentialRecord = { ...rest, enabled, ...(enabled ? {} : { disabledBy: by }), updatedAt: new Date().toISOString() };
      await atomicWriteFile(recordFile(botId), serializeRecord(next));
      records.invalidate(botId);
      writes.inc({ op: enabled ? 'enable' : 'disable' });
      logger.info({ botId, enabled, by }, 'credentials state changed');
      return true;
    });
  }

  const importMany = createBatchImport({
    credDir,
    sealer,
    fingerprint,
    validateInput: (i) => {
      validateInput(i);
      assertAccount(i.account);
    },
    invalidate: (botId) => records.invalidate(botId),
    existing: async () => new Set(await listBotIds()),
    keyIndex,
    assertOpen,
    writes,
    logger,
    sealConcurrency: opts.batchSealConcurrency ?? 8,
  });

  async function listBotIds(): Promise<string[]> {
    const names = await readdir(credDir);
    return names
      .filter((n) => n.endsWith('.json') && !n.startsWith('.'))
      .map((n) => n.slice(0, -'.json'.length))
      .filter((id) => /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(id))
      .sort();
  }

  const { rotateCredentials, rewrapAll } = createKeyRotation({
    credDir,
    primary,
    lockOpts,
    logger,
    writes,
    sealer,
    recordFile,
    lockFile,
    readRecord,
    invalidate: (botId) => records.invalidate(botId),
    listBotIds,
    keyIndex,
    assertOpen,
    validateInput,
    fingerprint,
    report,
  });

  const keyHolders = createKeyHolders({ index: keyIndex, listBotIds, readRecord, logger });

  return {
    provider: primary,
    holdersOf: keyHolders.holders,
    verifyKeyIndex: keyHolders.verify,
    importCredentials,
    importMany,
    recordIds: listBotIds,
    withCredentials,
    rotateCredentials,
    rewrapAll,
    setEnabled,
    async appKeyOf(botId, purpose) {
      assertOpen();
      assertBotId(botId);
      const record = await records.get(botId);
      if (!record) throw new GuardError('KG4003');
      if (!record.enabled && purpose === 'call') throw new GuardError('KG4002');
      return record.appKeyFingerprint;
    },
    async describe(botId) {
      assertBotId(botId);
      const r = await readRecord(botId);
      return r ? recordMeta(r) : undefined;
    },
    async list() {
      const out: CredentialMeta[] = [];
      for (const id of await listBotIds()) {
        try {
          const r = await readRecord(id);
          if (r) out.push(recordMeta(r));
        } catch (err) {
          logger.warn({ botId: id, code: toGuardError(err).code }, 'unreadable credential record skipped in list');
        }
      }
      return out;
    },
    async destroyCredentials(botId) {
      assertOpen();
      assertBotId(botId);
      return withFileLock(lockFile(botId), lockOpts, async () => {
        if (!(await readFileIfExists(recordFile(botId)))) return false;
        const held = await readRecord(botId).catch(() => undefined);
        await overwriteAndUnlink(recordFile(botId));
        records.invalidate(botId);
        // After the record is gone; an entry left behind (this failing) is ignored by holdersOf.
        if (held) await keyIndex.remove(held.appKeyFingerprint, botId).catch(() => undefined);
        writes.inc({ op: 'destroy' });
        logger.info({ botId }, 'credentials destroyed');
        return true;
      });
    },
    async health() {
      assertOpen();
      await Promise.all([...providers.values()].map((p) => p.health()));
    },
    async close() {
      if (closed) return;
      closed = true;
      records.close();
      hmacKey.fill(0);
      await Promise.all([...providers.values()].map((p) => p.close().catch(() => undefined)));
    },
  };
}

/** A bot id that failed validation is still audited, but never echoed raw (it could be anything). */
function botIdLabel(botId: unknown): string {
  return typeof botId === 'string' && /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(botId) ? botId : '(invalid)';
}
