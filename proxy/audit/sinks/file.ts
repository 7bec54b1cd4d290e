// The file sink: JSON Lines with size/time rotation, crash recovery (on open
// the tail since the last checkpoint is re-walked and a torn final write is
// sealed by a recovery record, never dropped), and two decoupled steps per
// record: a write loop that appends queued records in chain order, one
// write() per batch (inline on the loop's thread, or on the thread pool where
// writes can stall: cfg.write), and a group fsync that runs beside it. 'write' appends
// resolve after the write, 'fsync' appends after an fdatasync started once
// their write completed; so a query never waits behind an order's fsync, and
// an order's record is on disk before it is forwarded.
// Recovery (the walk on open) is in file-recovery.ts and the group fsync in
// file-sync.ts; this file owns the file handle, the write loop and rotation.
import { writeSync } from 'node:fs';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { GuardError } from '../../common/errors.js';
import { appendCheckpointLine, syncDir, type Checkpoint } from '../checkpoint.js';
import type { Checkpointer } from '../checkpointer.js';
import type { FileSinkConfig } from '../config.js';
import type { PendingRotation } from '../key-rotation.js';
import { logFileName, LOCAL_CHECKPOINT_FILE } from '../logfiles.js';
import type { AuditMetrics } from '../metrics.js';
import { chainRecord, GENESIS_HASH, type AuditRecord, type ChainHead, type RecordBody } from '../record.js';
import type { AuditAck, AuditDurability, AuditEventType } from '../types.js';
import { tornSealData } from '../walker.js';
import { walkLog } from './file-recovery.js';
import { asSinkError, GroupCommit } from './file-sync.js';
import type { AuditSink, SinkAppendOptions } from './types.js';

interface Pending {
  readonly record: AuditRecord;
  readonly line: string;
  readonly durability: AuditDurability;
  readonly resolve: (ack: AuditAck) => void;
  readonly reject: (err: Error) => void;
}

export interface FileSinkDeps {
  readonly logger: Logger;
  readonly metrics: AuditMetrics;
  readonly replica: string;
  /** Builds the checkpointer once the sink knows how to persist (null: no checkpoints). */
  readonly makeCheckpointer: (hooks: { beforeCheckpoint: () => Promise<void>; persistLocal: (cp: Checkpoint) => Promise<void> }) => Checkpointer;
  readonly retryMs: number;
  /** A signing-key rotation to complete: the sink hands over before it signs with the new key. */
  readonly rotation?: PendingRotation;
}

export class FileSink implements AuditSink {
  readonly kind = 'file' as const;
  readonly id: string;
  readonly checkpointer: Checkpointer;
  private fh: FileHandle | undefined;
  private fileBytes = 0;
  private fileOpenedAt = 0;
  private head: ChainHead = { seq: 0, hash: GENESIS_HASH };
  private pending: Pending[] = [];
  private writing = false;
  private writeScheduled: NodeJS.Immediate | undefined;
  /** Set from an inline write at once until the loop's next turn: later records of this turn are batched. */
  private turnStarted: NodeJS.Immediate | undefined;
  private readonly sync: GroupCommit;
  private isUp = false;
  private reason: string | undefined = 'not opened';
  private lastOpenAttempt = 0;
  private opening: Promise<void> | undefined;
  private closed = false;
  private failedBefore = false;

  constructor(
    private readonly cfg: FileSinkConfig,
    private readonly deps: FileSinkDeps,
  ) {
    this.id = cfg.id;
    this.sync = new GroupCommit({
      id: this.id,
      metrics: deps.metrics,
      file: () => this.fh,
      reason: () => this.reason,
      fail: (err) => this.fail(err, []),
    });
    this.checkpointer = deps.makeCheckpointer({
      // A checkpoint may only sign records that are on disk, or a power loss
      // would leave a signed checkpoint past the end of the log.
      beforeCheckpoint: () => this.sync.syncWritten(),
      persistLocal: (cp) => appendCheckpointLine(this.checkpointFile, cp),
    });
  }

  get dir(): string {
    return this.cfg.dir;
  }

  get checkpointFile(): string {
    return path.join(this.cfg.dir, LOCAL_CHECKPOINT_FILE);
  }

  get up(): boolean {
    return this.isUp;
  }

  get downReason(): string | undefined {
    return this.isUp ? undefined : this.reason;
  }

  get chainHead(): ChainHead {
    return { ...this.head };
  }

  /** Highest seq written to the log file (in the page cache at least), and highest known fdatasynced. */
  get durability(): { writtenSeq: number; syncedSeq: number } {
    return { writtenSeq: this.sync.writtenSeq, syncedSeq: this.sync.syncedSeq };
  }

  open(): Promise<void> {
    this.opening ??= this.openOnce().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private async openOnce(): Promise<void> {
    this.lastOpenAttempt = Date.now();
    const previousFailure = this.failedBefore ? this.reason : undefined;
    try {
      await this.handOver(await this.recoverAndResume());
      // After a failure, prove the sink writable again (a full disk still opens)
      // and leave a mark in the chain that there was an outage.
      if (previousFailure !== undefined) await this.writeRecordNow({ reason: 'sink-resumed', after: previousFailure });
      this.isUp = true;
      this.reason = undefined;
      this.deps.metrics.sinkUp.set({ sink: this.id }, 1);
      this.checkpointer.start();
    } catch (err) {
      this.markDown(err);
      throw asSinkError(this.id, err);
    }
  }

  /** A pending rotation: a chained record and the hand-over checkpoint (signed by the retiring key) before anything else. */
  private async handOver(lastCheckpointKeyId: string | undefined): Promise<void> {
    const rotation = this.deps.rotation;
    if (!rotation) return;
    const from = rotation.handoverFrom(this.id, lastCheckpointKeyId);
    if (from) {
      const to = rotation.next.keyId;
      const record = await this.writeRecordNow({ fromKeyId: from.keyId, toKeyId: to }, 'audit.key_rotated');
      await this.checkpointer.handOver(from);
      this.deps.logger.warn(
        { sink: this.id, seq: record.seq, from: from.keyId, to },
        'audit signing key handed over: later checkpoints are signed by the new key',
      );
    }
    await rotation.handedOver(this.id);
  }

  /** Returns the key id of the last checkpoint. */
  private async recoverAndResume(): Promise<string | undefined> {
    const { dir } = this.cfg;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;

    const log = await walkLog(this.id, dir, this.checkpointFile);
    this.head = log.head;
    const { last, torn } = log;
    // A torn final write is sealed in the file that holds it, even when that
    // file is already at its rotation size: the seal must follow the torn bytes.
    if (last && (last.size < this.cfg.rotateBytes || torn)) {
      await this.openFile(last.path, false);
    } else {
      await this.openFile(path.join(dir, logFileName(this.head.seq + 1)), true);
    }
    this.checkpointer.reset(log.chain, log.lastCheckpointSeq, log.windowHashes);
    // What a crashed process left may still be only in the page cache; make it
    // durable before the chain grows on top of it.
    await this.fh!.datasync();
    this.sync.markDurable(this.head.seq);

    if (torn) {
      // Seal it: terminate the torn line, then a chained record naming its size and hash.
      const seal = tornSealData(torn.bytes);
      if (torn.bytes[torn.bytes.length - 1] !== 0x0a) await this.writeAll(Buffer.from('\n'));
      const record = await this.writeRecordNow({ reason: 'torn-tail', file: torn.file, line: torn.line, offset: torn.offset, ...seal });
      this.deps.metrics.recoveries.inc({ sink: this.id });
      this.deps.logger.warn(
        { sink: this.id, file: torn.file, tornBytes: seal.tornBytes, seq: record.seq },
        'audit log had a torn final write (crash); sealed it with a recovery record',
      );
    }
    return log.lastCheckpointKeyId;
  }

  /** Writes one record (recovery, key rotation) outside the batch path (only while opening). */
  private async writeRecordNow(data: Record<string, unknown>, type: AuditEventType = 'recovery'): Promise<AuditRecord> {
    const { record, line } = chainRecord({ ts: new Date().toISOString(), replica: this.deps.replica, type, data }, this.id, this.head);
    await this.writeAll(Buffer.from(line));
    await this.fh!.datasync();
    this.head = { seq: record.seq, hash: record.hash };
    this.sync.markDurable(record.seq);
    this.checkpointer.recordWritten(record);
    return record;
  }

  private async openFile(file: string, isNew: boolean): Promise<void> {
    const fh = await open(file, 'a', 0o600);
    const st = await fh.stat();
    this.fh = fh;
    this.fileBytes = st.size;
    this.fileOpenedAt = isNew || st.size === 0 ? Date.now() : st.birthtimeMs || st.mtimeMs;
    if (isNew) await syncDir(this.cfg.dir);
  }

  private async writeAll(buf: Buffer): Promise<void> {
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await this.fh!.write(buf, off, buf.length - off);
      off += bytesWritten;
    }
    this.fileBytes += buf.length;
  }

  /** A batch written on the event loop's thread (write: inline): no thread-pool round trip. */
  private writeAllInline(buf: Buffer): void {
    const fd = this.fh!.fd;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    this.fileBytes += buf.length;
  }

  async append(body: RecordBody, opts: SinkAppendOptions): Promise<AuditAck> {
    if (this.closed) throw new GuardError('KG6001', `${this.id}: closed`);
    if (!this.isUp) {
      if (Date.now() - this.lastOpenAttempt < this.deps.retryMs) throw new GuardError('KG6001', `${this.id}: ${this.reason ?? 'down'}`);
      await this.open();
    }
    if (this.pending.length + this.sync.waiting >= this.cfg.maxQueue) {
      this.deps.metrics.failures.inc({ sink: this.id, reason: 'queue_full' });
      throw new GuardError('KG6001', `${this.id}: ${this.pending.length + this.sync.waiting} records already waiting`);
    }
    const { record, line } = chainRecord(body, this.id, this.head, opts.dataJson);
    this.head = { seq: record.seq, hash: record.hash };
    return new Promise<AuditAck>((resolve, reject) => {
      this.pending.push({ record, line, durability: opts.durability, resolve, reject });
      this.scheduleWrite();
    });
  }

  /**
   * Writes go out on the next turn: whatever arrives in this one (or during a write) shares one
   * write(). Inline, the first record of a turn is written at once instead (a query waits for its
   * intent: at a few hundred calls a second the turn's other work was most of that wait); the rest
   * of the turn still shares one write, so a busy loop makes two writes a turn, not one per record.
   */
  private scheduleWrite(): void {
    if (this.writing || this.writeScheduled) return;
    if (this.cfg.write === 'inline' && !this.turnStarted) {
      this.turnStarted = setImmediate(() => {
        this.turnStarted = undefined;
      });
      void this.writeLoop();
      return;
    }
    this.writeScheduled = setImmediate(() => {
      this.writeScheduled = undefined;
      void this.writeLoop();
    });
  }

  private async writeLoop(): Promise<void> {
    this.writing = true;
    try {
      while (this.pending.length > 0 && this.isUp) {
        const batch = this.cfg.fsync === 'always' ? this.pending.splice(0, 1) : this.pending.splice(0, this.pending.length);
        try {
          await this.writeBatch(batch);
        } catch (err) {
          this.fail(err, batch);
        }
      }
    } finally {
      this.writing = false;
      if (this.pending.length > 0 && this.isUp) this.scheduleWrite();
    }
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    const now = Date.now();
    if (this.fileBytes > 0 && (this.fileBytes >= this.cfg.rotateBytes || now - this.fileOpenedAt >= this.cfg.rotateMs)) {
      await this.rotate(batch[0]!.record.seq);
    }
    const buf = Buffer.from(batch.length === 1 ? batch[0]!.line : batch.map((p) => p.line).join(''));
    if (this.cfg.write === 'inline') this.writeAllInline(buf);
    else await this.writeAll(buf);
    this.sync.writtenSeq = batch[batch.length - 1]!.record.seq;
    const { metrics } = this.deps;
    metrics.batchSize.observe({ sink: this.id }, batch.length);
    metrics.records.inc({ sink: this.id }, batch.length);
    let waiting = false;
    for (const p of batch) {
      this.checkpointer.recordWritten(p.record);
      const ack: AuditAck = { seq: p.record.seq, hash: p.record.hash, sink: this.id };
      if (p.durability === 'write' || this.cfg.fsync === 'none') {
        p.resolve(ack);
      } else {
        this.sync.add({ seq: p.record.seq, resolve: () => p.resolve(ack), reject: p.reject });
        waiting = true;
      }
    }
    if (!waiting) return;
    // 'always': this record's own fdatasync before the next record is written.
    if (this.cfg.fsync === 'always')
      await this.sync.syncThrough().catch(() => undefined); // a failure has already rejected them
    else this.sync.schedule(this.cfg.groupCommitMs);
  }

  private async rotate(nextSeq: number): Promise<void> {
    // Everything in the old file is made durable (releasing its waiters) before it is closed.
    await this.sync.syncThrough();
    const old = this.fh!;
    this.fh = undefined;
    await old.close();
    await this.openFile(path.join(this.cfg.dir, logFileName(nextSeq)), true);
  }

  /** A write or fdatasync failed: nothing queued or unsynced can be acknowledged any more (fail closed). */
  private fail(err: unknown, batch: readonly Pending[]): void {
    const error = asSinkError(this.id, err);
    const failed = [...batch, ...this.pending.splice(0, this.pending.length)];
    const unsynced = this.sync.takeWaiters();
    if (this.isUp) this.markDown(err);
    this.deps.metrics.failures.inc({ sink: this.id, reason: 'write' }, failed.length + unsynced.length);
    for (const p of failed) p.reject(error);
    for (const w of unsynced) w.reject(error);
    // FileHandle.close waits for operations still running on it.
    void this.fh?.close().catch(() => undefined);
    this.fh = undefined;
  }

  private markDown(err: unknown): void {
    this.isUp = false;
    this.failedBefore = true;
    this.checkpointer.stop();
    const code = (err as NodeJS.ErrnoException)?.code;
    this.reason = err instanceof GuardError ? (err.detail ?? err.message) : `write failed${code ? ` (${code})` : ''}`;
    this.deps.metrics.sinkUp.set({ sink: this.id }, 0);
    this.deps.logger.error({ sink: this.id, reason: this.reason }, 'audit sink down');
  }

  /** Stops accepting, writes and fsyncs what is queued, writes a last checkpoint. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.writeScheduled) clearImmediate(this.writeScheduled);
    if (this.turnStarted) clearImmediate(this.turnStarted);
    this.writeScheduled = this.turnStarted = undefined;
    while (this.writing) await new Promise((r) => setTimeout(r, 1));
    if (this.pending.length > 0 && this.isUp) await this.writeLoop();
    this.sync.cancelTimer();
    if (this.isUp) await this.sync.syncWritten().catch(() => undefined);
    this.checkpointer.stop();
    if (this.isUp) await this.checkpointer.checkpointNow().catch(() => undefined);
    await this.sync.idle();
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;
    this.isUp = false;
    this.reason = 'closed';
    this.deps.metrics.sinkUp.set({ sink: this.id }, 0);
  }
}
