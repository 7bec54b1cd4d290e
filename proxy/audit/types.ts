// The audit contract the pipeline relies on. `append` resolves only once at
// least one sink has the record at the requested durability (fail closed
// otherwise): 'fsync' = on disk (group fsync), 'write' = written in chain
// order (page cache; a later fsync covers it, an OS crash before then may lose it).

export type AuditEventType =
  | 'call.intent'
  | 'call.outcome'
  | 'decision'
  | 'decrypt'
  | 'broker_token.issued'
  | 'broker_token.revoked'
  | 'broker_token.revoke_failed'
  | 'broker_token.invalidated'
  | 'session.issued'
  | 'session.revoked'
  | 'admin'
  | 'approval'
  | 'lockdown'
  | 'incident'
  | 'recovery'
  | 'audit.key_rotated'
  | 'transparent.connect_refused'
  | 'transparent.tls_failed'
  | 'security.real_key_presented';

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

/** 'fsync': resolve after the group fsync covering the record (orders). 'write': once written in chain order (queries, non-call records). */
export type AuditDurability = 'fsync' | 'write';

export interface AppendOptions {
  /** Default: `audit.durability.default` ('fsync'). */
  readonly durability?: AuditDurability;
}

export interface Auditor {
  append(event: AuditEvent, options?: AppendOptions): Promise<AuditAck>;
  /** Throws when no sink can accept records (used by /readyz). */
  health(): Promise<void>;
  close(): Promise<void>;
}
