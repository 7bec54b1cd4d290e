import type { RecordBody } from '../record.js';
import type { AuditAck, AuditDurability } from '../types.js';

export interface SinkAppendOptions {
  /** 'write': resolve once written in chain order; 'fsync': once on stable storage (sinks without an fsync treat both alike). */
  readonly durability: AuditDurability;
  /** canonicalJson(body.data), made once per event by the auditor and shared by every sink. */
  readonly dataJson: string;
}

export interface AuditSink {
  readonly id: string;
  readonly kind: 'file' | 'redis-stream' | 'stdout';
  /** Resumes the chain (recovering a torn tail). Throws GuardError('KG6001') if it cannot. */
  open(): Promise<void>;
  /** Chains and stores one record; resolves when it has the requested durability (per the sink's mode). */
  append(body: RecordBody, opts: SinkAppendOptions): Promise<AuditAck>;
  /** Whether the sink currently accepts records. */
  readonly up: boolean;
  /** Why the sink is down (no secrets; shown in logs and /readyz detail). */
  readonly downReason: string | undefined;
  close(): Promise<void>;
}
