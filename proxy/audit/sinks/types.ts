import type { RecordBody } from '../record.js';
import type { AuditAck } from '../types.js';

export interface AuditSink {
  readonly id: string;
  readonly kind: 'file' | 'redis-stream' | 'stdout';
  /** Resumes the chain (recovering a torn tail). Throws GuardError('KG6001') if it cannot. */
  open(): Promise<void>;
  /** Chains and stores one record; resolves when durable per the sink's mode. */
  append(body: RecordBody): Promise<AuditAck>;
  /** Whether the sink currently accepts records. */
  readonly up: boolean;
  /** Why the sink is down (no secrets; shown in logs and /readyz detail). */
  readonly downReason: string | undefined;
  close(): Promise<void>;
}
