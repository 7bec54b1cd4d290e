// The `audit:` config section. Every knob has a default; the embedded default
// is one group-committed file sink in <dataDir>/audit with keys in <dataDir>.
import { hostname } from 'node:os';
import path from 'node:path';
import { ConfigError } from '../common/config.js';
import type { AuditDurability } from './types.js';

export type FsyncMode = 'group' | 'always' | 'none';
export type FileWriteMode = 'inline' | 'pool';

export interface FileSinkConfig {
  readonly type: 'file';
  readonly id: string;
  readonly dir: string;
  readonly rotateBytes: number;
  readonly rotateMs: number;
  readonly fsync: FsyncMode;
  readonly groupCommitMs: number;
  /**
   * Where a batch is written: 'inline' on the event loop's thread (a page-cache
   * append, about 16 us against a thread-pool round trip of 90 us at the median
   * and 0.8 ms at p99), or 'pool' on libuv's thread pool, for a file system whose
   * writes can stall (a hard-mounted NFS): there a stall cannot freeze the process,
   * audit.sinkTimeoutMs refuses calls and /readyz says why. fdatasync always runs
   * on the pool.
   */
  readonly write: FileWriteMode;
  /** Appends waiting for the next batch; beyond this, appends are refused. */
  readonly maxQueue: number;
}

export interface RedisStreamSinkConfig {
  readonly type: 'redis-stream';
  readonly id: string;
  /** Stream key prefix; the replica id is appended so each chain has its own stream. */
  readonly stream: string;
  readonly maxLen: number;
  /** A stream no record was appended to for this long expires (0: never): retired replicas' streams go. */
  readonly idleExpiryMs: number;
}

export interface StdoutSinkConfig {
  readonly type: 'stdout';
  readonly id: string;
  /**
   * Bytes written but not yet taken by stdout's reader before the sink counts as down (a stalled log shipper):
   * records are then refused at once instead of piling up in memory while /readyz says all is well.
   */
  readonly maxPendingBytes: number;
}

export type SinkConfig = FileSinkConfig | RedisStreamSinkConfig | StdoutSinkConfig;

export interface CheckpointConfig {
  readonly everyRecords: number;
  readonly everyMs: number;
  readonly mirrorDir?: string;
  readonly mirrorRedisKey?: string;
  readonly mirrorRedisMaxLen: number;
}

export interface DurabilityConfig {
  /** Used when `append` is called without a durability. */
  readonly default: AuditDurability;
}

export interface AuditConfig {
  readonly sinks: readonly SinkConfig[];
  readonly durability: DurabilityConfig;
  readonly checkpoint: CheckpointConfig;
  /** Field names (any depth, case-insensitive) stored as HMAC-SHA256 under the audit key. */
  readonly hmacFields: readonly string[];
  readonly signingKeyFile: string;
  readonly hmacKeyFile: string;
  readonly replicaId: string;
  /** A sink that has not acknowledged within this time counts as failed for that record. */
  readonly sinkTimeoutMs: number;
  /** Minimum gap between attempts to reopen a failed sink. */
  readonly sinkRetryMs: number;
  readonly maxStringLength: number;
  readonly maxRecordBytes: number;
}

export const DEFAULT_HMAC_FIELDS = ['accountNo', 'acctNo', 'acnt_no', 'account', 'accountNumber'] as const;

const ID = /^[A-Za-z0-9._-]{1,64}$/;

type Raw = Record<string, unknown>;

function isObject(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class Reader {
  constructor(
    private readonly obj: Raw,
    private readonly where: string,
    allowed: readonly string[],
  ) {
    for (const key of Object.keys(obj)) {
      if (!allowed.includes(key)) throw new ConfigError(`${where}: unknown key '${key}' (allowed: ${allowed.join(', ')})`);
    }
  }

  int(key: string, def: number, min: number, max: number): number {
    const v = this.obj[key];
    if (v === undefined) return def;
    if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) {
      throw new ConfigError(`${this.where}.${key}: must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
    }
    return v as number;
  }

  str(key: string, def: string, pattern?: RegExp): string;
  str(key: string, def: undefined, pattern?: RegExp): string | undefined;
  str(key: string, def: string | undefined, pattern?: RegExp): string | undefined {
    const v = this.obj[key];
    if (v === undefined) return def;
    if (typeof v !== 'string' || v.length === 0) throw new ConfigError(`${this.where}.${key}: must be a non-empty string`);
    if (pattern && !pattern.test(v)) throw new ConfigError(`${this.where}.${key}: must match ${pattern}, got ${JSON.stringify(v)}`);
    return v;
  }

  oneOf<T extends string>(key: string, def: T, values: readonly T[]): T {
    const v = this.obj[key];
    if (v === undefined) return def;
    if (!values.includes(v as T)) throw new ConfigError(`${this.where}.${key}: must be one of ${values.join(', ')}, got ${JSON.stringify(v)}`);
    return v as T;
  }
}

function sanitizeReplicaId(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64);
  return cleaned.length > 0 ? cleaned : 'replica';
}

export function parseAuditConfig(raw: unknown, dataDir: string): AuditConfig {
  const section = raw ?? {};
  if (!isObject(section)) throw new ConfigError('audit: must be an object');
  const r = new Reader(section, 'audit', [
    'sinks',
    'durability',
    'checkpoint',
    'hmacFields',
    'signingKeyFile',
    'hmacKeyFile',
    'replicaId',
    'sinkTimeoutMs',
    'sinkRetryMs',
    'maxStringLength',
    'maxRecordBytes',
  ]);
  const resolve = (p: string): string => path.resolve(dataDir, p);

  const rawSinks = section.sinks ?? [{ type: 'file' }];
  if (!Array.isArray(rawSinks) || rawSinks.length === 0) throw new ConfigError('audit.sinks: must be a non-empty list');
  if (rawSinks.length > 8) throw new ConfigError('audit.sinks: at most 8 sinks');
  const ids = new Set<string>();
  const sinks = rawSinks.map((s, i): SinkConfig => {
    const where = `audit.sinks[${i}]`;
    if (!isObject(s)) throw new ConfigError(`${where}: must be an object`);
    let sink: SinkConfig;
    switch (s.type) {
      case 'file': {
        const f = new Reader(s, where, ['type', 'id', 'dir', 'rotateBytes', 'rotateMs', 'fsync', 'groupCommitMs', 'write', 'maxQueue']);
        sink = {
          type: 'file',
          id: f.str('id', 'file', ID),
          dir: resolve(f.str('dir', 'audit')),
          rotateBytes: f.int('rotateBytes', 64 * 1024 * 1024, 4096, 2 ** 40),
          rotateMs: f.int('rotateMs', 24 * 3600 * 1000, 1000, 366 * 24 * 3600 * 1000),
          fsync: f.oneOf<FsyncMode>('fsync', 'group', ['group', 'always', 'none']),
          groupCommitMs: f.int('groupCommitMs', 0, 0, 1000),
          write: f.oneOf<FileWriteMode>('write', 'inline', ['inline', 'pool']),
          maxQueue: f.int('maxQueue', 10_000, 1, 1_000_000),
        };
        break;
      }
      case 'redis-stream': {
        const f = new Reader(s, where, ['type', 'id', 'stream', 'maxLen', 'idleExpiryDays']);
        sink = {
          type: 'redis-stream',
          id: f.str('id', 'redis', ID),
          stream: f.str('stream', 'kguard:audit'),
          maxLen: f.int('maxLen', 1_000_000, 1000, 2 ** 32),
          idleExpiryMs: f.int('idleExpiryDays', 90, 0, 3650) * 86_400_000,
        };
        break;
      }
      case 'stdout': {
        const f = new Reader(s, where, ['type', 'id', 'maxPendingBytes']);
        sink = { type: 'stdout', id: f.str('id', 'stdout', ID), maxPendingBytes: f.int('maxPendingBytes', 4 * 1024 * 1024, 64 * 1024, 1024 * 1024 * 1024) };
        break;
      }
      default:
        throw new ConfigError(`${where}.type: must be one of file, redis-stream, stdout, got ${JSON.stringify(s.type)}`);
    }
    if (ids.has(sink.id)) throw new ConfigError(`${where}.id: '${sink.id}' is used by another sink; give each sink its own id`);
    ids.add(sink.id);
    return sink;
  });
  const fileDirs = sinks.filter((s): s is FileSinkConfig => s.type === 'file').map((s) => s.dir);
  if (new Set(fileDirs).size !== fileDirs.length) throw new ConfigError('audit.sinks: two file sinks share a dir');

  const rawCp = section.checkpoint ?? {};
  if (!isObject(rawCp)) throw new ConfigError('audit.checkpoint: must be an object');
  const c = new Reader(rawCp, 'audit.checkpoint', ['everyRecords', 'everyMs', 'mirrorDir', 'mirrorRedisKey', 'mirrorRedisMaxLen']);
  const mirrorDir = c.str('mirrorDir', undefined);
  const checkpoint: CheckpointConfig = {
    everyRecords: c.int('everyRecords', 1000, 1, 1_000_000),
    everyMs: c.int('everyMs', 10_000, 100, 24 * 3600 * 1000),
    ...(mirrorDir === undefined ? {} : { mirrorDir: resolve(mirrorDir) }),
    ...(c.str('mirrorRedisKey', undefined) === undefined ? {} : { mirrorRedisKey: c.str('mirrorRedisKey', undefined)! }),
    mirrorRedisMaxLen: c.int('mirrorRedisMaxLen', 1_000_000, 100, 2 ** 32),
  };
  if (checkpoint.mirrorDir !== undefined && fileDirs.includes(checkpoint.mirrorDir)) {
    throw new ConfigError('audit.checkpoint.mirrorDir: must be a different place from the audit log dir, or truncation goes unnoticed');
  }

  const rawDurability = section.durability ?? {};
  if (!isObject(rawDurability)) throw new ConfigError('audit.durability: must be an object');
  const durability: DurabilityConfig = {
    default: new Reader(rawDurability, 'audit.durability', ['default']).oneOf<AuditDurability>('default', 'fsync', ['fsync', 'write']),
  };

  const hmacFields = section.hmacFields ?? [...DEFAULT_HMAC_FIELDS];
  if (!Array.isArray(hmacFields) || hmacFields.some((f) => typeof f !== 'string' || f.length === 0 || f.length > 128)) {
    throw new ConfigError('audit.hmacFields: must be a list of field names');
  }

  return {
    sinks,
    durability,
    checkpoint,
    hmacFields: hmacFields as string[],
    signingKeyFile: resolve(r.str('signingKeyFile', 'audit-signing.key')),
    hmacKeyFile: resolve(r.str('hmacKeyFile', 'audit-hmac.key')),
    replicaId: r.str('replicaId', sanitizeReplicaId(hostname()), ID),
    sinkTimeoutMs: r.int('sinkTimeoutMs', 5_000, 10, 120_000),
    sinkRetryMs: r.int('sinkRetryMs', 1_000, 0, 600_000),
    maxStringLength: r.int('maxStringLength', 4096, 16, 1024 * 1024),
    maxRecordBytes: r.int('maxRecordBytes', 64 * 1024, 1024, 16 * 1024 * 1024),
  };
}
