// The redis-stream sink: the same chained records, one stream per replica
// (`<stream>:<replica>`), bounded with XADD MAXLEN ~. On (re)open the chain
// resumes from the stream's last entry, so a failed write never forks it.
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { GuardError } from '../../common/errors.js';
import type { RedisStreamSinkConfig } from '../config.js';
import type { AuditMetrics } from '../metrics.js';
import { chainRecord, GENESIS_HASH, parseRecordLine, type ChainHead, type RecordBody } from '../record.js';
import type { AuditAck } from '../types.js';
import type { AuditSink, SinkAppendOptions } from './types.js';

export interface RedisStreamSinkDeps {
  readonly redis: Redis | Cluster;
  readonly replica: string;
  readonly metrics: AuditMetrics;
  readonly logger: Logger;
  readonly timeoutMs: number;
  readonly retryMs: number;
}

export const RECORD_FIELD = 'r';

export function streamKey(cfg: RedisStreamSinkConfig, replica: string): string {
  return `${cfg.stream}:${replica}`;
}

export class RedisStreamSink implements AuditSink {
  readonly kind = 'redis-stream' as const;
  readonly id: string;
  readonly key: string;
  private head: ChainHead = { seq: 0, hash: GENESIS_HASH };
  private isUp = false;
  private reason: string | undefined = 'not opened';
  private lastOpenAttempt = 0;
  private opening: Promise<void> | undefined;

  constructor(
    private readonly cfg: RedisStreamSinkConfig,
    private readonly deps: RedisStreamSinkDeps,
  ) {
    this.id = cfg.id;
    this.key = streamKey(cfg, deps.replica);
  }

  get up(): boolean {
    return this.isUp;
  }

  get downReason(): string | undefined {
    return this.isUp ? undefined : this.reason;
  }

  private timed<T>(p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout;
    return Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new GuardError('KG6001', `${this.id}: Redis did not answer within ${this.deps.timeoutMs} ms`)), this.deps.timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  open(): Promise<void> {
    this.opening ??= this.openOnce().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private async openOnce(): Promise<void> {
    this.lastOpenAttempt = Date.now();
    try {
      const last = await this.timed(this.deps.redis.xrevrange(this.key, '+', '-', 'COUNT', 1));
      if (last.length === 0) {
        this.head = { seq: 0, hash: GENESIS_HASH };
      } else {
        const fields = last[0]![1];
        const idx = fields.indexOf(RECORD_FIELD);
        const parsed = idx >= 0 && idx % 2 === 0 ? parseRecordLine(fields[idx + 1] ?? '') : { ok: false as const, reason: 'no record field' };
        if (!parsed.ok) throw new GuardError('KG6001', `${this.id}: last stream entry is not a valid record (${parsed.reason})`);
        this.head = { seq: parsed.record.seq, hash: parsed.record.hash };
      }
      this.isUp = true;
      this.reason = undefined;
      this.deps.metrics.sinkUp.set({ sink: this.id }, 1);
    } catch (err) {
      this.markDown(err);
      throw err instanceof GuardError ? err : new GuardError('KG6001', `${this.id}: Redis unavailable`, { cause: err });
    }
  }

  async append(body: RecordBody, opts: SinkAppendOptions): Promise<AuditAck> {
    if (!this.isUp) {
      if (Date.now() - this.lastOpenAttempt < this.deps.retryMs) throw new GuardError('KG6001', `${this.id}: ${this.reason ?? 'down'}`);
      await this.open();
    }
    const { record, line } = chainRecord(body, this.id, this.head, opts.dataJson);
    this.head = { seq: record.seq, hash: record.hash };
    try {
      await this.timed(this.deps.redis.xadd(this.key, 'MAXLEN', '~', this.cfg.maxLen, '*', RECORD_FIELD, line.slice(0, -1)));
    } catch (err) {
      this.deps.metrics.failures.inc({ sink: this.id, reason: 'write' });
      this.markDown(err);
      throw err instanceof GuardError ? err : new GuardError('KG6001', `${this.id}: XADD failed`, { cause: err });
    }
    this.deps.metrics.records.inc({ sink: this.id });
    return { seq: record.seq, hash: record.hash, sink: this.id };
  }

  private markDown(err: unknown): void {
    if (this.isUp || this.reason === 'not opened') {
      this.deps.logger.error({ sink: this.id, reason: err instanceof GuardError ? err.detail : 'Redis error' }, 'audit sink down');
    }
    this.isUp = false;
    this.reason = err instanceof GuardError ? (err.detail ?? 'Redis error') : 'Redis error';
    this.deps.metrics.sinkUp.set({ sink: this.id }, 0);
  }

  async close(): Promise<void> {
    this.isUp = false;
    this.reason = 'closed';
    this.deps.metrics.sinkUp.set({ sink: this.id }, 0);
  }
}
