// The audit contract the pipeline relies on. `append` resolves only once the
// record is durable in at least one sink (fail closed otherwise).

export type AuditEventType =
  | 'call.intent'
  | 'call.outcome'
  | 'decision'
  | 'decrypt'
  | 'broker_token.issued'
  | 'broker_token.revoked'
  | 'broker_token.revoke_failed'
  | 'session.issued'
  | 'session.revoked'
  | 'admin'
  | 'approval'
  | 'lockdown'
  | 'incident'
  | 'recovery';

export interface AuditEvent {
  readonly type: AuditEventType;
  readonly requestId?: string;
  readonly botId?: string;
  readonly apiId?: string;
  /** Free-form, non-secret fields. Sensitive values are HMAC'd by the auditor per its config. */
  readonly [field: string]: unknown;
}

export interface AuditAck {
  readonly seq: number;
  readonly hash: string;
  /** Id of the sink whose chain `seq` and `hash` belong to (the first configured sink that accepted). */
  readonly sink?: string;
}

export interface Auditor {
  append(event: AuditEvent): Promise<AuditAck>;
  /** Throws when no sink can accept records (used by /readyz). */
  health(): Promise<void>;
  close(): Promise<void>;
}
