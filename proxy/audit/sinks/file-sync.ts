// Group commit for the file sink: the fdatasync side, decoupled from the
// write loop in file.ts. Waiters are released once a completed fdatasync
// covers their seq; the first waiter starts a timer and everything written
// until it fires shares one fdatasync, and only one sync runs at a time.
import type { FileHandle } from 'node:fs/promises';
import { GuardError } from '../../common/errors.js';
import type { AuditMetrics } from '../metrics.js';

/** Someone waiting for an fdatasync that covers `seq` (an 'fsync' append, a checkpoint, close). */
export interface SyncWaiter {
  readonly seq: number;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

export interface GroupCommitHost {
  readonly id: string;
  readonly metrics: AuditMetrics;
  /** The open log file (undefined while the sink is down or rotating). */
  file(): FileHandle | undefined;
  /** Why there is no file, for the error a sync without one throws. */
  reason(): string | undefined;
  /** An fdatasync of the current file failed: the sink fails closed (and takes the waiters). */
  fail(err: unknown): void;
}

/** A write/fsync failure as the sink reports it: KG6001 naming the sink and the errno code. */
export function asSinkError(sinkId: string, err: unknown): GuardError {
  if (err instanceof GuardError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  return new GuardError('KG6001', `${sinkId}: write failed${code ? ` (${code})` : ''}`, { cause: err });
}

export class GroupCommit {
  /** Highest seq handed to write() successfully, and highest covered by a completed fdatasync. */
  writtenSeq = 0;
  syncedSeq = 0;
  /** In seq order (records are written in order, and a waiter is added after its write). */
  private waiters: SyncWaiter[] = [];
  private chain: Promise<void> = Promise.resolve();
  private inFlight = false;
  /** Cancels the pending group commit (a timer or an immediate); undefined when none is pending. */
  private cancelPending: (() => void) | undefined;

  constructor(private readonly host: GroupCommitHost) {}

  /** How many records wait for a sync (they count against the sink's queue bound). */
  get waiting(): number {
    return this.waiters.length;
  }

  /** Everything through `seq` is written and known durable (recovery and its records datasync themselves). */
  markDurable(seq: number): void {
    this.writtenSeq = this.syncedSeq = seq;
  }

  add(waiter: SyncWaiter): void {
    this.waiters.push(waiter);
  }

  /**
   * Group commit: the first waiter starts a timer; everything written until it fires shares one
   * fdatasync, and so does everything written while a sync runs. A delay of 0 syncs on the next
   * turn of the loop (setImmediate: setTimeout's floor is 1 ms).
   */
  schedule(delayMs: number): void {
    if (this.inFlight || this.cancelPending || this.waiters.length === 0) return;
    const fire = () => {
      this.cancelPending = undefined;
      this.syncThrough().catch(() => undefined); // a failure has already rejected the waiters
    };
    if (delayMs > 0) {
      const timer = setTimeout(fire, delayMs);
      this.cancelPending = () => clearTimeout(timer);
    } else {
      const immediate = setImmediate(fire);
      this.cancelPending = () => clearImmediate(immediate);
    }
  }

  /** fdatasyncs everything written so far (one sync at a time) and releases the waiters it covers. */
  syncThrough(): Promise<void> {
    const next = this.chain.then(() => this.syncOnce());
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** For checkpoints and close: make every written record durable, whatever the fsync mode. */
  syncWritten(): Promise<void> {
    return this.writtenSeq <= this.syncedSeq ? Promise.resolve() : this.syncThrough();
  }

  /** Takes every waiter (the sink rejects them when it fails) and cancels a pending group commit. */
  takeWaiters(): SyncWaiter[] {
    const taken = this.waiters.splice(0, this.waiters.length);
    this.cancelTimer();
    return taken;
  }

  cancelTimer(): void {
    this.cancelPending?.();
    this.cancelPending = undefined;
  }

  /** Settles once no sync is running or queued. */
  idle(): Promise<void> {
    return this.chain;
  }

  private async syncOnce(): Promise<void> {
    const target = this.writtenSeq;
    if (target > this.syncedSeq) {
      const fh = this.host.file();
      if (!fh) throw new GuardError('KG6001', `${this.host.id}: ${this.host.reason() ?? 'log file not open'}`);
      this.inFlight = true;
      const started = process.hrtime.bigint();
      try {
        await fh.datasync();
      } catch (err) {
        // A sync of a file already replaced (rotation, reopen) does not fail the new one.
        if (fh === this.host.file()) this.host.fail(err);
        throw asSinkError(this.host.id, err);
      } finally {
        this.inFlight = false;
      }
      this.host.metrics.fsyncSeconds.observe({ sink: this.host.id }, Number(process.hrtime.bigint() - started) / 1e9);
      if (target > this.syncedSeq) this.syncedSeq = target;
    }
    while (this.waiters.length > 0 && this.waiters[0]!.seq <= this.syncedSeq) this.waiters.shift()!.resolve();
    // Waiters whose write finished during this sync have waited long enough: sync again at once.
    this.schedule(0);
  }
}
