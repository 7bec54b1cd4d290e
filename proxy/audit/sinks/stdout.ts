// The stdout sink: one JSON line per record for containers whose log shipper
// is the durable store. Its chain starts afresh (seq 1) in every process.
import type { Writable } from 'node:stream';
import { GuardError } from '../../common/errors.js';
import type { AuditMetrics } from '../metrics.js';
import { chainRecord, GENESIS_HASH, type ChainHead, type RecordBody } from '../record.js';
import type { AuditAck } from '../types.js';
import type { AuditSink, SinkAppendOptions } from './types.js';

export class StdoutSink implements AuditSink {
  readonly kind = 'stdout' as const;
  private head: ChainHead = { seq: 0, hash: GENESIS_HASH };
  private isUp = false;
  private reason: string | undefined = 'not opened';

  constructor(
    readonly id: string,
    private readonly out: Writable,
    private readonly metrics: AuditMetrics,
    /** config audit.sinks[].maxPendingBytes: written but not taken by the reader before the sink counts as down. */
    private readonly maxPendingBytes = 4 * 1024 * 1024,
  ) {
    // A broken stream (its reader gone: EPIPE) fails the write in flight and every later one: down at once,
    // as the other sinks go down, so records go to the sinks still up (or calls are refused when none is).
    out.on('error', () => this.down('stdout write failed'));
  }

  /** A reader that stopped taking lines (a stalled shipper): what was written waits in memory. */
  private stalled(): boolean {
    return this.out.writableLength > this.maxPendingBytes;
  }

  private down(reason: string): void {
    if (!this.isUp && this.reason === reason) return;
    this.isUp = false;
    this.reason = reason;
    this.metrics.sinkUp.set({ sink: this.id }, 0);
    this.metrics.failures.inc({ sink: this.id, reason: reason === 'stdout is not keeping up' ? 'backlog' : 'write' });
  }

  get up(): boolean {
    return this.isUp;
  }

  get downReason(): string | undefined {
    return this.isUp ? undefined : this.reason;
  }

  async open(): Promise<void> {
    if (this.out.destroyed || !this.out.writable) {
      this.reason = 'stdout is closed';
      throw new GuardError('KG6001', `${this.id}: stdout is closed`);
    }
    if (this.stalled()) {
      this.reason = 'stdout is not keeping up';
      throw new GuardError('KG6001', `${this.id}: stdout is not keeping up (${this.out.writableLength} bytes waiting)`);
    }
    this.isUp = true;
    this.reason = undefined;
    this.metrics.sinkUp.set({ sink: this.id }, 1);
  }

  append(body: RecordBody, opts: SinkAppendOptions): Promise<AuditAck> {
    if (this.isUp && this.stalled()) {
      // Not an unbounded queue that times out one call after another while /readyz stays green: down, as a full
      // disk takes a file sink down; health() brings it back once the reader has caught up.
      this.down('stdout is not keeping up');
    }
    if (!this.isUp || this.out.destroyed) return Promise.reject(new GuardError('KG6001', `${this.id}: ${this.reason ?? 'stdout is closed'}`));
    const { record, line } = chainRecord(body, this.id, this.head, opts.dataJson);
    this.head = { seq: record.seq, hash: record.hash };
    return new Promise((resolve, reject) => {
      this.out.write(line, (err) => {
        if (err) {
          this.down('stdout write failed');
          reject(new GuardError('KG6001', `${this.id}: stdout write failed`));
          return;
        }
        this.metrics.records.inc({ sink: this.id });
        resolve({ seq: record.seq, hash: record.hash, sink: this.id });
      });
    });
  }

  async close(): Promise<void> {
    this.isUp = false;
    this.reason = 'closed';
    this.metrics.sinkUp.set({ sink: this.id }, 0);
  }
}
