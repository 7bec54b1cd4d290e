// The file sink: JSON Lines with size/time rotation, group commit (one write
// and one fdatasync per batch, then every append in it resolves), and crash
// recovery: on open the tail since the last checkpoint is re-walked, and a
// torn final write is sealed by a recovery record, never dropped.
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
import type { AuditAck } from '../types.js';
import { ChainWalker, tornSealData } from '../walker.js';
import type { AuditSink } from './types.js';

interface Pending {
  readonly record: AuditRecord;
  readonly line: string;
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
  private flushing = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private isUp = false;
  private reason: string | undefined = 'not opened';
  private lastOpenAttempt = 0;
  private opening: Promise<void> | undefined;
  private closed = false;
  private failedBefore = false;

  constructor(private readonly cfg: FileSinkConfig, private readonly deps: FileSinkDeps) {
    this.id = cfg.id;
    this.checkpointer = deps.makeCheckpointer({
      beforeCheckpoint: async () => {
        if (cfg.fsync === 'none') await this.fh?.datasync();
      },
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
    if (last && last.size < this.cfg.rotateBytes) {
      await this.openFile(last.path, false);
    } else {
      await this.openFile(path.join(dir, logFileName(this.head.seq + 1)), true);
    }
    this.checkpointer.reset(chain, lastCp?.seq ?? 0, windowHashes);

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
    this.checkpointer.recordDurable(record);
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

  async append(body: RecordBody): Promise<AuditAck> {
    if (this.closed) throw new GuardError('KG6001', `${this.id}: closed`);
    if (!this.isUp) {
      if (Date.now() - this.lastOpenAttempt < this.deps.retryMs) throw new GuardError('KG6001', `${this.id}: ${this.reason ?? 'down'}`);
      await this.open();
    }
    if (this.pending.length >= this.cfg.maxQueue) {
      this.deps.metrics.failures.inc({ sink: this.id, reason: 'queue_full' });
      throw new GuardError('KG6001', `${this.id}: ${this.pending.length} records already waiting`);
    }
    const { record, line } = chainRecord(body, this.id, this.head);
    this.head = { seq: record.seq, hash: record.hash };
    return new Promise<AuditAck>((resolve, reject) => {
      this.pending.push({ record, line, resolve, reject });
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    if (this.flushing || this.flushTimer) return;
    const delay = this.cfg.fsync === 'group' ? this.cfg.groupCommitMs : 0;
    const run = () => {
      this.flushTimer = undefined;
      void this.flush();
    };
    // 0 ms: gather only what arrives in this turn of the event loop (plus what queues during an fsync).
    this.flushTimer = delay > 0 ? setTimeout(run, delay) : (setImmediate(run) as unknown as NodeJS.Timeout);
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.pending.length > 0 && this.isUp) {
        const batch = this.cfg.fsync === 'always' ? this.pending.splice(0, 1) : this.pending.splice(0, this.pending.length);
        try {
          await this.writeBatch(batch);
        } catch (err) {
          const failed = [...batch, ...this.pending.splice(0, this.pending.length)];
          this.markDown(err);
          const error = asSinkError(this.id, err);
          this.deps.metrics.failures.inc({ sink: this.id, reason: 'write' }, failed.length);
          for (const p of failed) p.reject(error);
          await this.fh?.close().catch(() => undefined);
          this.fh = undefined;
        }
      }
    } finally {
      this.flushing = false;
      if (this.pending.length > 0) this.scheduleFlush();
    }
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    const started = process.hrtime.bigint();
    const now = Date.now();
    if (this.fileBytes > 0 && (this.fileBytes >= this.cfg.rotateBytes || now - this.fileOpenedAt >= this.cfg.rotateMs)) {
      await this.rotate(batch[0]!.record.seq);
    }
    const buf = Buffer.from(batch.length === 1 ? batch[0]!.line : batch.map((p) => p.line).join(''));
    await this.writeAll(buf);
    if (this.cfg.fsync !== 'none') await this.fh!.datasync();
    const { metrics } = this.deps;
    metrics.fsyncSeconds.observe({ sink: this.id }, Number(process.hrtime.bigint() - started) / 1e9);
    metrics.batchSize.observe({ sink: this.id }, batch.length);
    metrics.records.inc({ sink: this.id }, batch.length);
    for (const p of batch) {
      this.checkpointer.recordDurable(p.record);
      p.resolve({ seq: p.record.seq, hash: p.record.hash, sink: this.id });
    }
  }

  private async rotate(nextSeq: number): Promise<void> {
    const old = this.fh!;
    await old.datasync();
    await old.close();
    this.fh = undefined;
    await this.openFile(path.join(this.cfg.dir, logFileName(nextSeq)), true);
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

  /** Stops accepting, flushes what is queued, writes a last checkpoint. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      clearImmediate(this.flushTimer as unknown as NodeJS.Immediate);
      this.flushTimer = undefined;
    }
    if (this.pending.length > 0 && this.isUp) await this.flush();
    while (this.flushing) await new Promise((r) => setTimeout(r, 1));
    this.checkpointer.stop();
    if (this.isUp) await this.checkpointer.checkpointNow().catch(() => undefined);
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
