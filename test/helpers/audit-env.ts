// Shared set-up for audit tests: a temp data dir, a parsed config and a
// silent logger; everything real (files, fsync, keys).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createAuditor, parseAuditConfig, type AuditConfig, type AuditorHandle, type CreateAuditorOptions } from '../../proxy/audit/index.js';

export interface AuditEnv {
  readonly dataDir: string;
  readonly logDir: string;
  readonly config: AuditConfig;
  readonly registry: Registry;
  open(extra?: Partial<CreateAuditorOptions>): Promise<AuditorHandle>;
  cleanup(): Promise<void>;
}

export async function auditEnv(raw: Record<string, unknown> = {}): Promise<AuditEnv> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'kguard-audit-'));
  const config = parseAuditConfig({ replicaId: 'test-replica', ...raw }, dataDir);
  const registry = new Registry();
  const logger = pino({ level: 'silent' });
  const opened: AuditorHandle[] = [];
  return {
    dataDir,
    logDir: path.join(dataDir, 'audit'),
    config,
    registry,
    async open(extra = {}) {
      // A fresh registry per auditor: metric names may only be registered once per registry.
      const a = await createAuditor({ config, logger, registry: opened.length === 0 ? registry : new Registry(), ...extra });
      opened.push(a);
      return a;
    },
    async cleanup() {
      await Promise.all(opened.map((a) => a.close().catch(() => undefined)));
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
