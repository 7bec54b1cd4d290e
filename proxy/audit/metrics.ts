// Audit metrics. Label values are sink ids from config and fixed enums only.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface AuditMetrics {
  readonly records: Counter<'sink'>;
  readonly failures: Counter<'sink' | 'reason'>;
  readonly sinkUp: Gauge<'sink'>;
  readonly healthy: Gauge;
  readonly refused: Counter;
  readonly fsyncSeconds: Histogram<'sink'>;
  readonly batchSize: Histogram<'sink'>;
  readonly checkpoints: Counter<'sink' | 'result'>;
  readonly mirrorFailures: Counter<'sink' | 'mirror'>;
  readonly stripped: Counter;
  readonly recoveries: Counter<'sink'>;
}

export function createAuditMetrics(registry: Registry): AuditMetrics {
  const registers = [registry];
  return {
    records: new Counter({ name: 'kguard_audit_records_total', help: 'Audit records made durable, per sink', labelNames: ['sink'], registers }),
    failures: new Counter({
      name: 'kguard_audit_sink_failures_total',
      help: 'Audit records a sink failed to accept',
      labelNames: ['sink', 'reason'],
      registers,
    }),
    sinkUp: new Gauge({ name: 'kguard_audit_sink_up', help: '1 when the audit sink accepts records', labelNames: ['sink'], registers }),
    healthy: new Gauge({ name: 'kguard_audit_healthy', help: '1 when at least one audit sink accepts records (else calls are refused)', registers }),
    refused: new Counter({ name: 'kguard_audit_refused_total', help: 'Events no sink could record (the call was refused)', registers }),
    fsyncSeconds: new Histogram({
      name: 'kguard_audit_fsync_seconds',
      help: 'Time to write and fsync one batch',
      labelNames: ['sink'],
      registers,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    }),
    batchSize: new Histogram({
      name: 'kguard_audit_batch_records',
      help: 'Records per group-commit batch',
      labelNames: ['sink'],
      registers,
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 1024],
    }),
    checkpoints: new Counter({ name: 'kguard_audit_checkpoints_total', help: 'Signed checkpoints written', labelNames: ['sink', 'result'], registers }),
    mirrorFailures: new Counter({
      name: 'kguard_audit_checkpoint_mirror_failures_total',
      help: 'Checkpoint copies that could not be mirrored',
      labelNames: ['sink', 'mirror'],
      registers,
    }),
    stripped: new Counter({ name: 'kguard_audit_stripped_fields_total', help: 'Secret-looking fields dropped from audit events', registers }),
    recoveries: new Counter({
      name: 'kguard_audit_recoveries_total',
      help: 'Torn tails sealed with a recovery record on open',
      labelNames: ['sink'],
      registers,
    }),
  };
}
