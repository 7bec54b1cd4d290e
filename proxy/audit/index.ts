// Public API of the audit part.
export type { AppendOptions, AuditAck, AuditDurability, AuditEvent, AuditEventType, Auditor } from './types.js';
export { parseAuditConfig, DEFAULT_HMAC_FIELDS } from './config.js';
export type {
  AuditConfig,
  SinkConfig,
  FileSinkConfig,
  RedisStreamSinkConfig,
  StdoutSinkConfig,
  CheckpointConfig,
  DurabilityConfig,
  FsyncMode,
} from './config.js';
export { createAuditor } from './auditor.js';
export type { AuditorHandle, ManagedAuditor, CreateAuditorOptions, RedisClient } from './auditor.js';
export { fingerprint, loadPublicKey, publicKeyFileFor } from './keys.js';
export { buildReceipt, verifyReceipt, ReceiptError } from './receipt.js';
export type { Receipt, ReceiptVerdict } from './receipt.js';
export type { Checkpoint } from './checkpoint.js';
export type { AuditRecord } from './record.js';
