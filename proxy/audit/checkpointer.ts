// Decides when to checkpoint (every N records or T ms, whichever first) and
// keeps the record hashes since the last checkpoint for its Merkle root.
// Checkpoints run one at a time; a failed one leaves the window to the next.
import type { Logger } from 'pino';
import { signCheckpoint, CHECKPOINT_VERSION, type Checkpoint } from './checkpoint.js';
import { publicKeyPem, type SigningKeys } from './keys.js';
import { merkleRoot } from './merkle.js';
import type { AuditMetrics } from './metrics.js';
import type { AuditRecord } from './record.js';

export interface CheckpointerOptions {
  readonly sinkId: string;
  readonly replica: string;
  readonly keys: SigningKeys;
  readonly everyRecords: number;
  readonly everyMs: number;
  /** Makes the covered records durable first (the file sink fdatasyncs whatever is written but not yet synced). */
  readonly beforeCheckpoint?: () => Promise<void>;
  /** Stores the checkpoint; throws if the primary copy could not be written. */
  readonly persist: (cp: Checkpoint) => Promise<void>;
  readonly logger: Logger;
  readonly metrics: AuditMetrics;
}

export class Checkpointer {
  private chain: string | undefined;
  private lastSeq = 0;
  private window: string[] = [];
  private running: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private scheduled = false;

  constructor(private readonly opts: CheckpointerOptions) {}

  /** Sets the state found on disk: chain id, last checkpointed seq and the hashes after it. */
  reset(chain: string | undefined, lastCheckpointSeq: number, windowHashes: string[]): void {
    this.chain = chain;
    this.lastSeq = lastCheckpointSeq;
    this.window = windowHashes;
  }

  start(): void {
    this.stop();
    this.timer = setInterval(() => {
      if (this.window.length > 0) void this.checkpointNow().catch(() => undefined);
    }, this.opts.everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  get pendingRecords(): number {
    return this.window.length;
  }

  get lastCheckpointSeq(): number {
    return this.lastSeq;
  }

  /** Called in seq order once a record is written; `beforeCheckpoint` makes it durable before it is signed. */
  recordWritten(record: AuditRecord): void {
    if (record.seq === 1) this.chain = record.hash;
    this.window.push(record.hash);
    if (this.window.length >= this.opts.everyRecords && !this.scheduled) {
      this.scheduled = true;
      void this.checkpointNow().catch(() => undefined);
    }
  }

  /** Checkpoints everything durable so far. Rejects if the checkpoint could not be stored. */
  checkpointNow(): Promise<void> {
    const run = this.running.then(() => this.checkpointOnce());
    this.running = run.catch(() => undefined);
    return run;
  }

  /**
   * The hand-over of a signing-key rotation: checkpoints the window (at least the rotation record) signed
   * by the retiring key `from`, naming this checkpointer's key as the next one. Rejects if it was not stored.
   */
  handOver(from: SigningKeys): Promise<void> {
    if (this.window.length === 0) return Promise.reject(new Error('a hand-over must cover at least one record'));
    const run = this.running.then(() => this.checkpointOnce(from));
    this.running = run.catch(() => undefined);
    return run;
  }

  private async checkpointOnce(retiring?: SigningKeys): Promise<void> {
    this.scheduled = false;
    const count = this.window.length;
    if (count === 0) return;
    const { sinkId, keys, logger, metrics } = this.opts;
    const signer = retiring ?? keys;
    try {
      if (this.chain === undefined) throw new Error('chain id unknown (first record and local checkpoints both missing)');
      const hashes = this.window.slice(0, count);
      await this.opts.beforeCheckpoint?.();
      const cp = signCheckpoint(
        {
          v: CHECKPOINT_VERSION,
          kind: 'checkpoint',
          chain: this.chain,
          sink: sinkId,
          replica: this.opts.replica,
          fromSeq: this.lastSeq + 1,
          seq: this.lastSeq + count,
          head: hashes[count - 1]!,
          root: merkleRoot(hashes),
          time: new Date().toISOString(),
          keyId: signer.keyId,
          ...(retiring ? { nextKeyId: keys.keyId, nextPublicKey: publicKeyPem(keys.publicKey) } : {}),
        },
        signer.privateKey,
      );
      await this.opts.persist(cp);
      this.window = this.window.slice(count);
      this.lastSeq = cp.seq;
      metrics.checkpoints.inc({ sink: sinkId, result: 'ok' });
    } catch (err) {
      metrics.checkpoints.inc({ sink: sinkId, result: 'error' });
      logger.error({ sink: sinkId, err: { code: (err as NodeJS.ErrnoException).code, message: (err as Error).message } }, 'audit checkpoint failed');
      throw err;
    }
  }
}
