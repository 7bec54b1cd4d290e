// The redis-stream sink: the same chained records, one stream per replica
// (`<stream>:<replica>`), bounded with XADD MAXLEN ~. Each record is appended
// only if it links to the stream's last entry (a script checks it): a second
// writer on the same stream (a replica id shared by mistake) is refused, not
// forked. On (re)open the chain resumes from the stream's last entry, unless
// the stream lost records this sink had acknowledged (Redis back empty): then
// it continues after them with a recovery record naming the loss. A down
// sink is skipped at once (the record goes to the sinks that are up) and
// reopened in the background every retryMs: no append waits on a Redis that
// does not answer.
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { GuardError } from '../../common/errors.js';
import type { RedisStreamSinkConfig } from '../config.js';
import type { AuditMetrics } from '../metrics.js';
import { chainRecord, GENESIS_HASH, parseRecordLine, type AuditRecord, type ChainHead, type RecordBody } from '../record.js';
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

/**
 * KEYS[1] stream; ARGV maxLen, seq, prev, hash, line, gap, idle expiry in ms ('0': never). Appends when the stream's last entry (the genesis
 * hash when it is empty) is `prev`, or, with gap = '1' (continuing after records the stream lost), when it
 * ends before seq - 1; else returns the last entry's seq and hash. Entries carry `s` and `h` beside the
 * record so the check needs no JSON decoding (older entries are decoded). Each append renews the stream's
 * expiry: a replica gone for good (a pod name a rollout retired) leaves no stream behind in Redis for ever.
 */
const APPEND_LINKED_LUA = `
local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local topSeq, topHash = 0, '${GENESIS_HASH}'
if #top > 0 then
  local fields = top[1][2]
  topSeq, topHash = nil, nil
  for i = 1, #fields, 2 do
    if fields[i] == 's' then topSeq = tonumber(fields[i + 1]) elseif fields[i] == 'h' then topHash = fields[i + 1] end
  end
  if topHash == nil then
    for i = 1, #fields, 2 do
      if fields[i] == 'r' then
        local ok, rec = pcall(cjson.decode, fields[i + 1])
        if ok and type(rec) == 'table' then topSeq = tonumber(rec.seq); topHash = rec.hash end
      end
    end
  end
end
local linked = topHash == ARGV[3]
local gap = ARGV[6] == '1' and topSeq ~= nil and topSeq < tonumber(ARGV[2]) - 1
if not (linked or gap) then
  return {0, tostring(topSeq), tostring(topHash)}
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'r', ARGV[5], 's', ARGV[2], 'h', ARGV[4])
if tonumber(ARGV[7]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[7]) end
return {1, id}
`;
const APPEND_LINKED = 'kguardAuditAppendLinked';
type AppendLinked = (
  key: string,
  maxLen: number,
  seq: number,
  prev: string,
  hash: string,
  line: string,
  gap: '0' | '1',
  expireMs: number,
) => Promise<[number, string, string?]>;

export function streamKey(cfg: RedisStreamSinkConfig, replica: string): string {
  return `${cfg.stream}:${replica}`;
}

export class RedisStreamSink implements AuditSink {
  readonly kind = 'redis-stream' as const;
  readonly id: string;
  readonly key: string;
  private head: ChainHead = { seq: 0, hash: GENESIS_HASH };
  /** The newest record the stream acknowledged (what a stream that lost records is checked against). */
  private acked: ChainHead = { seq: 0, hash: GENESIS_HASH };
  private readonly appendLinked: AppendLinked;
  private isUp = false;
  private reason: string | undefined = 'not opened';
  private opening: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly cfg: RedisStreamSinkConfig,
    private readonly deps: RedisStreamSinkDeps,
  ) {
    this.id = cfg.id;
    this.key = streamKey(cfg, deps.replica);
    deps.redis.defineCommand(APPEND_LINKED, { numberOfKeys: 1, lua: APPEND_LINKED_LUA });
    const fn = (deps.redis as unknown as Record<string, AppendLinked>)[APPEND_LINKED]!;
    this.appendLinked = fn.bind(deps.redis);
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
    const downBefore = this.reason;
    try {
      const last = await this.timed(this.deps.redis.xrevrange(this.key, '+', '-', 'COUNT', 1));
      let top: ChainHead = { seq: 0, hash: GENESIS_HASH };
      if (last.length > 0) {
        const fields = last[0]![1];
        const idx = fields.indexOf(RECORD_FIELD);
        const parsed = idx >= 0 && idx % 2 === 0 ? parseRecordLine(fields[idx + 1] ?? '') : { ok: false as const, reason: 'no record field' };
        if (!parsed.ok) throw new GuardError('KG6001', `${this.id}: last stream entry is not a valid record (${parsed.reason})`);
        top = { seq: parsed.record.seq, hash: parsed.record.hash };
      }
      if (top.seq >= this.acked.seq) {
        this.head = top;
      } else {
        // Records this sink had acknowledged are gone (Redis restarted empty, a failover lost writes): a
        // fresh chain from there would hide that. Continue after them, and say so in the chain.
        this.head = { ...this.acked };
        this.deps.logger.error({ sink: this.id, stream: this.key, streamSeq: top.seq, lostThrough: this.acked.seq }, 'audit stream lost acknowledged records');
        await this.store(
          chainRecord(
            {
              ts: new Date().toISOString(),
              replica: this.deps.replica,
              type: 'recovery',
              data: { reason: 'stream-lost-records', streamSeq: top.seq, lostThrough: this.acked.seq },
            },
            this.id,
            this.head,
          ),
          true,
        );
      }
      this.isUp = true;
      this.reason = undefined;
      this.deps.metrics.sinkUp.set({ sink: this.id }, 1);
      if (downBefore !== undefined && downBefore !== 'not opened') this.deps.logger.warn({ sink: this.id, after: downBefore }, 'audit sink resumed');
    } catch (err) {
      this.markDown(err);
      throw err instanceof GuardError ? err : new GuardError('KG6001', `${this.id}: Redis unavailable`, { cause: err });
    }
  }

  async append(body: RecordBody, opts: SinkAppendOptions): Promise<AuditAck> {
    // Down: skipped at once, never reopened here (that would make the call wait for Redis); see retryLater.
    if (!this.isUp) throw new GuardError('KG6001', `${this.id}: ${this.reason ?? 'down'}`);
    const chained = chainRecord(body, this.id, this.head, opts.dataJson);
    try {
      await this.store(chained);
    } catch (err) {
      this.markDown(err);
      throw err instanceof GuardError ? err : new GuardError('KG6001', `${this.id}: XADD failed`, { cause: err });
    }
    this.deps.metrics.records.inc({ sink: this.id });
    return { seq: chained.record.seq, hash: chained.record.hash, sink: this.id };
  }

  /** Appends a record if the stream's last entry is its prev (or, with `gap`, ends before it); throws KG6001 if not. */
  private async store({ record, line }: { record: AuditRecord; line: string }, gap = false): Promise<void> {
    this.head = { seq: record.seq, hash: record.hash };
    let result: [number, string, string?];
    try {
      result = await this.timed(
        this.appendLinked(this.key, this.cfg.maxLen, record.seq, record.prev, record.hash, line.slice(0, -1), gap ? '1' : '0', this.cfg.idleExpiryMs),
      );
    } catch (err) {
      this.deps.metrics.failures.inc({ sink: this.id, reason: 'write' });
      throw err;
    }
    if (Number(result[0]) !== 1) {
      this.deps.metrics.failures.inc({ sink: this.id, reason: 'conflict' });
      // Once per outage: the records queued behind this one are refused the same way.
      if (this.isUp)
        this.deps.logger.error(
          { sink: this.id, stream: this.key, seq: record.seq, streamSeq: result[1] },
          'another writer appends to this audit stream: give each replica its own audit.replicaId',
        );
      throw new GuardError('KG6001', `${this.id}: another writer appended to ${this.key} (its seq ${result[1]}, ours ${record.seq})`);
    }
    if (record.seq > this.acked.seq) this.acked = { seq: record.seq, hash: record.hash };
  }

  private markDown(err: unknown): void {
    if (this.isUp || this.reason === 'not opened') {
      this.deps.logger.error({ sink: this.id, reason: err instanceof GuardError ? err.detail : 'Redis error' }, 'audit sink down');
    }
    this.isUp = false;
    this.reason = err instanceof GuardError ? (err.detail ?? 'Redis error') : 'Redis error';
    this.deps.metrics.sinkUp.set({ sink: this.id }, 0);
    this.retryLater();
  }

  /** Reopens the down sink after retryMs, in the background; a failed try marks it down again, which schedules the next. */
  private retryLater(): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.closed && !this.isUp) this.open().catch(() => undefined);
    }, this.deps.retryMs);
    this.retryTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.isUp = false;
    this.reason = 'closed';
    this.deps.metrics.sinkUp.set({ sink: this.id }, 0);
  }
}
