// createAuditor: sanitises and canonically encodes each event once, hands it
// to every sink (each chains it in its own log), and resolves when at least
// one sink has it at the requested durability ('fsync' or 'write'). With no sink able to record, append rejects with KG6001 and
// health() throws, so the call is refused and /readyz turns red.
import { outageLog } from '../common/outage-log.js';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';
import type { Redis, Cluster } from 'ioredis';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { GuardError } from '../common/errors.js';
import { canonicalJson } from './canonical.js';
import { appendCheckpointLine, mirrorFileName, type Checkpoint } from './checkpoint.js';
import { Checkpointer } from './checkpointer.js';
import type { AuditConfig } from './config.js';
import { fingerprint as keyedFingerprint, loadHmacKey, loadSigningKeys, PUBLIC_KEY_FILE, publicKeyPem, type SigningKeys } from './keys.js';
import { assertLogSignedBy, existingLogs, refuseNewKeysForExistingLog } from './key-continuity.js';
import { keyHistoryFileFor, previousPublicKeys } from './key-history.js';
import { loadRetiringKey, pendingRotation } from './key-rotation.js';
import { createAuditMetrics, type AuditMetrics } from './metrics.js';
import { buildReceipt, type Receipt } from './receipt.js';
import type { RecordBody } from './record.js';
import { createSanitizer } from './redact.js';
import { FileSink } from './sinks/file.js';
import { RedisStreamSink } from './sinks/redis-stream.js';
import { StdoutSink } from './sinks/stdout.js';
import type { AuditSink } from './sinks/types.js';
import type { AppendOptions, AuditAck, AuditDurability, AuditEvent, Auditor } from './types.js';

export type RedisClient = Redis | Cluster;

export interface CreateAuditorOptions {
  readonly config: AuditConfig;
  readonly logger: Logger;
  readonly registry: Registry;
  /** log.outageReminderMs: while no sink accepts records, the refusal is logged again at most this often (with a count). */
  readonly outageReminderMs?: number;
  /** Needed for redis-stream sinks and the Redis checkpoint mirror. */
  readonly redis?: RedisClient;
  /** Where the stdout sink writes (default process.stdout). */
  readonly stdout?: Writable;
  /** Create missing key files (default true; the CLI passes false for read-only work). */
  readonly createKeys?: boolean;
}

export interface AuditorHandle extends Auditor {
  /** Receipt for `seq` in the primary file sink's chain; checkpoints first if the record is not covered yet. */
  receipt(seq: number): Promise<Receipt | undefined>;
  /** Signs and stores a checkpoint in every checkpointing sink now. */
  checkpointNow(): Promise<void>;
  /** Keyed fingerprint (`hmac:<hex>`) of a secret under the audit HMAC key, e.g. a broker token. */
  fingerprint(secret: Buffer): string;
  /** A fresh copy of the audit HMAC key for parts that fingerprint on their own; the caller zero-fills it when done. */
  readonly fingerprintKey: Buffer;
  readonly publicKeyPem: string;
  readonly keyId: string;
  /** Earlier signing keys (the key history beside the signing key, a retiring key): the dashboard checks hand-overs with them. */
  readonly previousKeys: readonly { readonly keyId: string; readonly publicKeyPem: string }[];
  /** Per-sink state for /readyz and the admin API; file sinks add the highest seq written and the highest fdatasynced. */
  status(): { id: string; kind: string; up: boolean; reason?: string; writtenSeq?: number; syncedSeq?: number }[];
}

/** The name the sidecar wiring uses. */
export type ManagedAuditor = AuditorHandle;

const EVENT_TYPE = /^[a-z][a-z0-9_.]{0,63}$/;
const DURABILITIES: readonly AuditDurability[] = ['fsync', 'write'];

/** Upper bound of a line's bytes besides `data` (keys, hashes, seq, ts, ids up to 64 chars, type). */
const RECORD_OVERHEAD_BYTES = 512;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new GuardError('KG6001', `${what}: no acknowledgement within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The signing key sits where `<key>.pub` cannot be written (a read-only
 * Secret mount): the public key, derived in memory, goes beside each file
 * sink's log instead, where `kguard audit verify <dir>` looks for it. Best
 * effort: verifying with `--public-key` a trusted copy works regardless.
 */
async function publishPublicKeyBesideLogs(keys: SigningKeys, fileSinks: readonly FileSink[], logger: Logger): Promise<void> {
  const pem = publicKeyPem(keys.publicKey);
  const published: string[] = [];
  for (const sink of fileSinks) {
    const file = path.join(sink.dir, PUBLIC_KEY_FILE);
    try {
      await mkdir(sink.dir, { recursive: true, mode: 0o700 });
      if ((await readFile(file, 'utf8').catch(() => undefined)) !== pem) await writeFile(file, pem, { mode: 0o644 });
      published.push(file);
    } catch (err) {
      logger.warn({ file, code: (err as NodeJS.ErrnoException).code }, 'audit public key could not be written beside the log');
    }
  }
  const problem = keys.publicKeyFileProblem;
  if (problem?.stale) {
    logger.warn(
      { keyId: keys.keyId, code: problem.code, published },
      'the .pub beside the audit signing key holds another key and cannot be rewritten: do not hand it to auditors',
    );
  } else {
    logger.info(
      { keyId: keys.keyId, code: problem?.code, published },
      'no .pub can be written beside the audit signing key (read-only); public key copies written beside the audit logs',
    );
  }
}

export async function createAuditor(opts: CreateAuditorOptions): Promise<AuditorHandle> {
  const { config, registry } = opts;
  const logger = opts.logger.child({ part: 'audit' });
  // Every call is refused while no sink accepts records: one line when it starts, a reminder with the count, one when
  // records are accepted again (kguard_audit_refused_total counts each).
  const refusals = outageLog({
    logger,
    level: 'error',
    lost: 'audit record could not be written to any sink; refusing',
    still: 'audit records still refused: no sink accepts them',
    back: 'audit records accepted again',
    reminderMs: opts.outageReminderMs,
  });
  const metrics: AuditMetrics = createAuditMetrics(registry);
  const createKeys = opts.createKeys ?? true;
  // Keys are created only for a fresh log, and the signing key must be the one the log is signed with.
  const logs = await existingLogs(config.sinks.flatMap((s) => (s.type === 'file' ? [s.dir] : [])));
  if (createKeys) await refuseNewKeysForExistingLog(logs, config.signingKeyFile, config.hmacKeyFile);
  // A pending rotation (kguard audit rotate-signing-key): each file sink hands over from the retiring key first.
  const retiring = await loadRetiringKey(config.signingKeyFile);
  const keys = await loadSigningKeys(config.signingKeyFile, createKeys, (keyId) => assertLogSignedBy(logs, keyId, config.signingKeyFile, retiring?.keyId));
  const fileSinkIds = config.sinks.flatMap((s) => (s.type === 'file' ? [s.id] : []));
  const previousKeys = await previousPublicKeys(keyHistoryFileFor(config.signingKeyFile), keys.keyId, retiring?.publicKey);
  const rotation = retiring && (await pendingRotation(retiring, keys, fileSinkIds, config.signingKeyFile, logger));
  const hmacKey = await loadHmacKey(config.hmacKeyFile, createKeys);
  const sanitize = createSanitizer({ hmacFields: config.hmacFields, hmacKey, maxStringLength: config.maxStringLength, maxRecordBytes: config.maxRecordBytes });
  const cpCfg = config.checkpoint;

  if (config.sinks.some((s) => s.type === 'redis-stream') && !opts.redis) {
    throw new GuardError('KG6001', 'a redis-stream audit sink is configured but no Redis client was given');
  }
  if (cpCfg.mirrorRedisKey && !opts.redis) throw new GuardError('KG6001', 'audit.checkpoint.mirrorRedisKey is set but no Redis client was given');

  // At 0 from start for every mirror a file sink's checkpoints go to: a series born at 1 shows Prometheus no increase.
  for (const sink of fileSinkIds) {
    if (cpCfg.mirrorDir) metrics.mirrorFailures.inc({ sink, mirror: 'dir' }, 0);
    if (cpCfg.mirrorRedisKey && opts.redis) metrics.mirrorFailures.inc({ sink, mirror: 'redis' }, 0);
  }

  async function mirror(sinkId: string, cp: Checkpoint): Promise<void> {
    const copies: Promise<unknown>[] = [];
    if (cpCfg.mirrorDir) {
      copies.push(
        appendCheckpointLine(path.join(cpCfg.mirrorDir, mirrorFileName(cp.chain)), cp).catch((err: NodeJS.ErrnoException) => {
          metrics.mirrorFailures.inc({ sink: sinkId, mirror: 'dir' });
          logger.error({ sink: sinkId, code: err.code }, 'audit checkpoint mirror (dir) failed');
        }),
      );
    }
    if (cpCfg.mirrorRedisKey && opts.redis) {
      copies.push(
        withTimeout(
          opts.redis.xadd(cpCfg.mirrorRedisKey, 'MAXLEN', '~', cpCfg.mirrorRedisMaxLen, '*', 'cp', canonicalJson(cp)),
          config.sinkTimeoutMs,
          'checkpoint mirror',
        ).catch(() => {
          metrics.mirrorFailures.inc({ sink: sinkId, mirror: 'redis' });
          logger.error({ sink: sinkId }, 'audit checkpoint mirror (redis) failed');
        }),
      );
    }
    await Promise.all(copies);
  }

  const sinks: AuditSink[] = config.sinks.map((s) => {
    switch (s.type) {
      case 'file':
        return new FileSink(s, {
          logger,
          metrics,
          replica: config.replicaId,
          retryMs: config.sinkRetryMs,
          ...(rotation ? { rotation } : {}),
          makeCheckpointer: (hooks) =>
            new Checkpointer({
              sinkId: s.id,
              replica: config.replicaId,
              keys,
              everyRecords: cpCfg.everyRecords,
              everyMs: cpCfg.everyMs,
              beforeCheckpoint: hooks.beforeCheckpoint,
              persist: async (cp) => {
                await hooks.persistLocal(cp);
                await mirror(s.id, cp);
              },
              logger,
              metrics,
            }),
        });
      case 'redis-stream':
        return new RedisStreamSink(s, {
          redis: opts.redis!,
          replica: config.replicaId,
          metrics,
          logger,
          timeoutMs: config.sinkTimeoutMs,
          retryMs: config.sinkRetryMs,
        });
      case 'stdout':
        return new StdoutSink(s.id, opts.stdout ?? process.stdout, metrics, s.maxPendingBytes);
      default:
        throw new GuardError('KG6002', `unknown audit sink type ${(s as { type: string }).type}`);
    }
  });

  // Open what can be opened; a sink that cannot stays down and is retried later.
  await Promise.all(
    sinks.map((s) =>
      s.open().catch((err: GuardError) => {
        logger.error({ sink: s.id, reason: err.detail ?? err.message }, 'audit sink could not be opened');
      }),
    ),
  );
  const anyUp = (): boolean => sinks.some((s) => s.up);
  metrics.healthy.set(anyUp() ? 1 : 0);
  if (!anyUp()) logger.error('no audit sink accepts records: every call will be refused until one does');

  let closed = false;
  const fileSinks = sinks.filter((s): s is FileSink => s instanceof FileSink);
  if (!keys.publicKeyFile) await publishPublicKeyBesideLogs(keys, fileSinks, logger);

  function reasons(): string {
    return sinks.map((s) => `${s.id}: ${s.downReason ?? 'up'}`).join('; ');
  }

  async function append(event: AuditEvent, options?: AppendOptions): Promise<AuditAck> {
    if (closed) throw new GuardError('KG6001', 'auditor is closed');
    if (typeof event?.type !== 'string' || !EVENT_TYPE.test(event.type)) throw new GuardError('KG6002', 'event type missing or malformed');
    const durability = options?.durability ?? config.durability.default;
    if (!DURABILITIES.includes(durability)) throw new GuardError('KG6002', `durability must be one of ${DURABILITIES.join(', ')}`);
    const { data, stripped } = sanitize(event);
    if (stripped.length > 0) {
      metrics.stripped.inc(stripped.length);
      logger.warn({ type: event.type, fields: stripped.slice(0, 32) }, 'secret-looking fields dropped from an audit event; pass a fingerprint instead');
    }
    const body: RecordBody = { ts: new Date().toISOString(), replica: config.replicaId, type: event.type, data };
    // Encoded once here; every sink builds its line (and hash input) around it.
    const dataJson = canonicalJson(data);
    const size = Buffer.byteLength(dataJson) + RECORD_OVERHEAD_BYTES;
    if (size > config.maxRecordBytes) throw new GuardError('KG6002', `record of ${size} bytes exceeds audit.maxRecordBytes ${config.maxRecordBytes}`);

    const sinkOptions = { durability, dataJson };
    const results = await Promise.allSettled(sinks.map((s) => withTimeout(s.append(body, sinkOptions), config.sinkTimeoutMs, s.id)));
    const ackIndex = results.findIndex((r) => r.status === 'fulfilled');
    results.forEach((r, i) => {
      if (r.status === 'rejected' && sinks[i]!.up) {
        metrics.failures.inc({ sink: sinks[i]!.id, reason: 'timeout' });
      }
    });
    metrics.healthy.set(anyUp() ? 1 : 0);
    if (ackIndex === -1) {
      metrics.refused.inc();
      const why = results.map((r, i) => `${sinks[i]!.id}: ${r.status === 'rejected' ? ((r.reason as GuardError).detail ?? 'failed') : 'ok'}`).join('; ');
      refusals.failed({ type: event.type, reasons: why });
      throw new GuardError('KG6001', 'no audit sink accepted the record');
    }
    refusals.ok();
    return (results[ackIndex] as PromiseFulfilledResult<AuditAck>).value;
  }

  async function health(): Promise<void> {
    if (closed) throw new GuardError('KG6001', 'auditor is closed');
    if (!anyUp()) {
      // Give a sink that recovered (disk freed, Redis back) its chance to turn /readyz green.
      await Promise.all(sinks.map((s) => s.open().catch(() => undefined)));
    }
    metrics.healthy.set(anyUp() ? 1 : 0);
    if (!anyUp()) throw new GuardError('KG6001', `no audit sink accepts records (${reasons()})`);
  }

  async function checkpointNow(): Promise<void> {
    await Promise.all(fileSinks.filter((s) => s.up).map((s) => s.checkpointer.checkpointNow()));
  }

  async function receipt(seq: number): Promise<Receipt | undefined> {
    const primary = fileSinks[0];
    if (!primary) return undefined;
    if (!Number.isSafeInteger(seq) || seq < 1) throw new GuardError('KG1010', 'seq must be a positive integer');
    if (seq > primary.chainHead.seq) return undefined;
    if (seq > primary.checkpointer.lastCheckpointSeq) await primary.checkpointer.checkpointNow();
    return buildReceipt(primary.dir, seq);
  }

  async function close(): Promise<void> {
    if (closed) return;
    closed = true;
    await Promise.all(sinks.map((s) => s.close().catch(() => undefined)));
    metrics.healthy.set(0);
  }

  return {
    append,
    health,
    close,
    receipt,
    checkpointNow,
    fingerprint: (secret: Buffer) => keyedFingerprint(secret, hmacKey),
    get fingerprintKey() {
      return hmacKey.export();
    },
    publicKeyPem: publicKeyPem(keys.publicKey),
    keyId: keys.keyId,
    previousKeys,
    status: () =>
      sinks.map((s) => ({
        id: s.id,
        kind: s.kind,
        up: s.up,
        ...(s.downReason ? { reason: s.downReason } : {}),
        ...(s instanceof FileSink ? s.durability : {}),
      })),
  };
}
