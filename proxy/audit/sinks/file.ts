// The file sink: JSON Lines with size/time rotation, crash recovery (on open
// the tail since the last checkpoint is re-walked and a torn final write is
// sealed by a recovery record, never dropped), and two decoupled steps per
// record: a write loop that appends queued records in chain order, one
// write() per batch, and a group fsync that runs beside it. 'write' appends
// resolve after the write, 'fsync' appends after an fdatasync started once
// their write completed; so a query never waits behind an order's fsync, and
// an order's record is on disk before it is forwarded.
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { GuardError } from '../../common/errors.js';
import { appendCheckpointLine, readCheckpointFile, syncDir, type Checkpoint } from '../checkpoint.js';
import type { Checkpointer } from '../checkpointer.js';
import type { FileSinkConfig } from '../config.js';
import { listLogFiles, logFileName, readLines, LOCAL_CHECKPOINT_FILE } from '../logfiles.js';
import type { AuditMetrics } from '../metrics.js';
import { chainRecord, GENESIS_HASH, type AuditRecord, type ChainHead, type RecordBody } from '../record.js';
import type { AuditAck, AuditDurability } from '../types.js';
import { ChainWalker, tornSealData } from '../walker.js';
import type { AuditSink, SinkAppendOptions } from './types.js';

interface Pending {
  readonly record: AuditRecord;
  readonly line: string;
  readonly durability: AuditDurability;
  readonly resolve: (ack: AuditAck) => void;
  readonly reject: (err: Error) => void;
}

/** Someone waiting for an fdatasync that covers `seq` (an 'fsync' append, a checkpoint, close). */
interface SyncWaiter {
  readonly seq: number;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

export interface FileSinkDeps {
  readonly logger: Logger;
  readonly metrics: AuditMetrics;
  readonly replica: string;
  /** Builds the checkpointer once the sink knows how to persist (null: no checkpoints). */
  readonly makeCheckpointer: (hooks: { beforeCheckpoint: () => Promise<void>; persistLocal: (cp: Checkpoint) => Promise<void> }) => Checkpointer;
  readonly retryMs: number;
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
  /** Highest seq handed to write() successfully, and highest covered by a completed fdatasync. */
  private writtenSeq = 0;
  private syncedSeq = 0;
  /** In seq order (records are written in order, and a waiter is added after its write). */
  private syncWaiters: SyncWaiter[] = [];
  private syncChain: Promise<void> = Promise.resolve();
  private syncInFlight = false;
  private syncTimer: NodeJS.Timeout | undefined;
  private isUp = false;
  private reason: string | undefined = 'not opened';
  private lastOpenAttempt = 0;
  private opening: Promise<void> | undefined;
  private closed = false;
  private failedBefore = false;

  constructor(private readonly cfg: FileSinkConfig, private readonly deps: FileSinkDeps) {
    this.id = cfg.id;
    this.checkpointer = deps.makeCheckpointer({
      // A checkpoint may only sign records that are on disk, or a power loss
      // would leave a signed checkpoint past the end of the log.
      beforeCheckpoint: () => this.syncWritten(),
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
    return { writtenSeq: this.writtenSeq, syncedSeq: this.syncedSeq };
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
      await this.recoverAndResume();
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

  private async recoverAndResume(): Promise<void> {
    const { dir } = this.cfg;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;

    // The last checkpoint bounds how much must be re-walked, and pins its head.
    const cpFile = await readCheckpointFile(this.checkpointFile);
    if (cpFile.tornTail) await truncateToLastNewline(this.checkpointFile);
    const lastCp = cpFile.checkpoints.reduce<Checkpoint | undefined>((a, c) => (!a || c.seq > a.seq ? c : a), undefined);

    const files = await listLogFiles(dir);
    let startIndex = 0;
    if (lastCp) {
      for (let i = 0; i < files.length; i++) if (files[i]!.firstSeq <= lastCp.seq) startIndex = i;
    }
    let chain = lastCp?.chain;
    let cpHeadSeen = false;
    const windowHashes: string[] = [];
    const walker = new ChainWalker({
      expectGenesis: true,
      ...(lastCp ? { fromSeq: lastCp.seq } : {}),
      onRecord: (r) => {
        if (r.seq === 1) chain = r.hash;
        if (lastCp && r.seq === lastCp.seq) {
          if (r.hash !== lastCp.head) throw new GuardError('KG6001', `${this.id}: record ${r.seq} differs from its signed checkpoint; run kguard audit verify`);
          cpHeadSeen = true;
        } else {
          windowHashes.push(r.hash);
        }
      },
    });
    const toWalk = files.slice(startIndex);
    for (let f = 0; f < toWalk.length; f++) {
      const file = toWalk[f]!;
      let lineNo = 0;
      for await (const raw of readLines(file.path)) {
        if (!walker.line(raw, { file: file.name, line: ++lineNo, offset: raw.offset })) break;
      }
      if (!walker.endFile(f === toWalk.length - 1) || walker.error) break;
    }
    if (walker.error) {
      const e = walker.error;
      throw new GuardError('KG6001', `${this.id}: log broken at ${e.file}:${e.line}${e.seq ? ` (seq ${e.seq})` : ''}: ${e.reason}; run kguard audit verify`);
    }
    if (lastCp && !cpHeadSeen) {
      throw new GuardError('KG6001', `${this.id}: log ends at seq ${walker.head?.seq ?? 0} but a signed checkpoint covers seq ${lastCp.seq}: the log was truncated`);
    }
    this.head = walker.head ?? { seq: 0, hash: GENESIS_HASH };

    const last = toWalk[toWalk.length - 1];
    // A torn final write is sealed in the file that holds it, even when that
    // file is already at its rotation size: the seal must follow the torn bytes.
    if (last && (last.size < this.cfg.rotateBytes || walker.tornTail())) {
      await this.openFile(last.path, false);
    } else {
      await this.openFile(path.join(dir, logFileName(this.head.seq + 1)), true);
    }
    this.checkpointer.reset(chain, lastCp?.seq ?? 0, windowHashes);
    // What a crashed process left may still be only in the page cache; make it
    // durable before the chain grows on top of it.
    await this.fh!.datasync();
    this.writtenSeq = this.syncedSeq = this.head.seq;

    const torn = walker.tornTail();
    if (torn) {
      // Seal it: terminate the torn line, then a chained record naming its size and hash.
      const seal = tornSealData(torn.bytes);
      if (torn.bytes[torn.bytes.length - 1] !== 0x0a) await this.writeAll(Buffer.from('\n'));
      const record = await this.writeRecordNow({ reason: 'torn-tail', file: torn.file, line: torn.line, offset: torn.offset, ...seal });
      this.deps.metrics.recoveries.inc({ sink: this.id });
      this.deps.logger.warn({ sink: this.id, file: torn.file, tornBytes: seal.tornBytes, seq: record.seq }, 'audit log had a torn final write (crash); sealed it with a recovery record');
    }
  }

  /** Writes one recovery record outside the batch path (only while opening). */
  private async writeRecordNow(data: Record<string, unknown>): Promise<AuditRecord> {
    const { record, line } = chainRecord({ ts: new Date().toISOString(), replica: this.deps.replica, type: 'recovery', data }, this.id, this.head);
    await this.writeAll(Buffer.from(line));
    await this.fh!.datasync();
    this.head = { seq: record.seq, hash: record.hash };
    this.writtenSeq = this.syncedSeq = record.seq;
    this.checkpointer.recordWritten(record);
    return record;
  }

  private async openFile(file: string, isNew: boolean): Promise<void> {
    const fh = await open(file, 'a', 0o600);
    const st = await fh.stat();
    this.fh = fh;
    this.fileBytes = st.size;
    this.fileOpenedAt = isNew || st.size === 0 ? Date.now() : (st.birthtimeMs || st.mtimeMs);
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

  async append(body: RecordBody, opts: SinkAppendOptions): Promise<AuditAck> {
    if (this.closed) throw new GuardError('KG6001', `${this.id}: closed`);
    if (!this.isUp) {
      if (Date.now() - this.lastOpenAttempt < this.deps.retryMs) throw new GuardError('KG6001', `${this.id}: ${this.reason ?? 'down'}`);
      await this.open();
    }
    if (this.pending.length + this.syncWaiters.length >= this.cfg.maxQueue) {
      this.deps.metrics.failures.inc({ sink: this.id, reason: 'queue_full' });
      throw new GuardError('KG6001', `${this.id}: ${this.pending.length + this.syncWaiters.length} records already waiting`);
    }
    const { record, line } = chainRecord(body, this.id, this.head, opts.dataJson);
    this.head = { seq: record.seq, hash: record.hash };
    return new Promise<AuditAck>((resolve, reject) => {
      this.pending.push({ record, line, durability: opts.durability, resolve, reject });
      this.scheduleWrite();
    });
  }

  /** Writes go out on the next turn: whatever arrives in this one (or during a write) shares one write(). */
  private scheduleWrite(): void {
    if (this.writing || this.writeScheduled) return;
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
    await this.writeAll(buf);
    this.writtenSeq = batch[batch.length - 1]!.record.seq;
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
        this.syncWaiters.push({ seq: p.record.seq, resolve: () => p.resolve(ack), reject: p.reject });
        waiting = true;
      }
    }
    if (!waiting) return;
    // 'always': this record's own fdatasync before the next record is written.
    if (this.cfg.fsync === 'always') await this.syncThrough().catch(() => undefined); // a failure has already rejected them
    else this.scheduleSync(this.cfg.groupCommitMs);
  }

  /** Group commit: the first waiter starts a timer; everything written until it fires shares one fdatasync. */
  private scheduleSync(delayMs: number): void {
    if (this.syncInFlight || this.syncTimer || this.syncWaiters.length === 0) return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = undefined;
      this.syncThrough().catch(() => undefined); // a failure has already rejected the waiters
    }, delayMs);
  }

  /** fdatasyncs everything written so far (one sync at a time) and releases the waiters it covers. */
  private syncThrough(): Promise<void> {
    const next = this.syncChain.then(() => this.syncOnce());
    this.syncChain = next.catch(() => undefined);
    return next;
  }

  /** For checkpoints and close: make every written record durable, whatever the fsync mode. */
  private syncWritten(): Promise<void> {
    return this.writtenSeq <= this.syncedSeq ? Promise.resolve() : this.syncThrough();
  }

  private async syncOnce(): Promise<void> {
    const target = this.writtenSeq;
    if (target > this.syncedSeq) {
      const fh = this.fh;
      if (!fh) throw new GuardError('KG6001', `${this.id}: ${this.reason ?? 'log file not open'}`);
      this.syncInFlight = true;
      const started = process.hrtime.bigint();
      try {
        await fh.datasync();
      } catch (err) {
        if (fh === this.fh) this.fail(err, []);
        throw asSinkError(this.id, err);
      } finally {
        this.syncInFlight = false;
      }
      this.deps.metrics.fsyncSeconds.observe({ sink: this.id }, Number(process.hrtime.bigint() - started) / 1e9);
      if (target > this.syncedSeq) this.syncedSeq = target;
    }
    while (this.syncWaiters.length > 0 && this.syncWaiters[0]!.seq <= this.syncedSeq) this.syncWaiters.shift()!.resolve();
    // Waiters whose write finished during this sync have waited long enough: sync again at once.
    this.scheduleSync(0);
  }

  private async rotate(nextSeq: number): Promise<void> {
    // Everything in the old file is made durable (releasing its waiters) before it is closed.
    await this.syncThrough();
    const old = this.fh!;
    this.fh = undefined;
    await old.close();
    await this.openFile(path.join(this.cfg.dir, logFileName(nextSeq)), true);
  }

  /** A write or fdatasync failed: nothing queued or unsynced can be acknowledged any more (fail closed). */
  private fail(err: unknown, batch: readonly Pending[]): void {
    const error = asSinkError(this.id, err);
    const failed = [...batch, ...this.pending.splice(0, this.pending.length)];
    const unsynced = this.syncWaiters.splice(0, this.syncWaiters.length);
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
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
    this.writeScheduled = undefined;
    while (this.writing) await new Promise((r) => setTimeout(r, 1));
    if (this.pending.length > 0 && this.isUp) await this.writeLoop();
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
    if (this.isUp) await this.syncWritten().catch(() => undefined);
    this.checkpointer.stop();
    if (this.isUp) await this.checkpointer.checkpointNow().catch(() => undefined);
    await this.syncChain;
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;
    this.isUp = false;
    this.reason = 'closed';
    this.deps.metrics.sinkUp.set({ sink: this.id }, 0);
  }
}

function asSinkError(sinkId: string, err: unknown): GuardError {
  if (err instanceof GuardError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  return new GuardError('KG6001', `${sinkId}: write failed${code ? ` (${code})` : ''}`, { cause: err });
}

async function truncateToLastNewline(file: string): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    const { size } = await fh.stat();
    const buf = Buffer.alloc(Math.min(size, 1 << 20));
    await fh.read(buf, 0, buf.length, size - buf.length);
    const nl = buf.lastIndexOf(0x0a);
    await fh.truncate(nl === -1 ? size - buf.length : size - buf.length + nl + 1);
    await fh.datasync();
  } finally {
    await fh.close();
  }
}
