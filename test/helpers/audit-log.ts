// Builds a real audit log through the Auditor, for tamper and verify tests,
// plus small helpers to edit it the way an insider would.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { listLogFiles } from '../../proxy/audit/logfiles.js';
import { auditEnv, type AuditEnv } from './audit-env.js';

export interface BuiltLog {
  readonly env: AuditEnv;
  readonly dir: string;
  readonly mirrorDir: string;
  readonly publicKeyFile: string;
}

export async function buildLog(records: number, raw: Record<string, unknown> = {}): Promise<BuiltLog> {
  const env = await auditEnv({ checkpoint: { everyRecords: 10, mirrorDir: 'mirror' }, ...raw });
  const a = await env.open();
  for (let i = 0; i < records; i += 25) {
    await Promise.all(
      Array.from({ length: Math.min(25, records - i) }, (_, j) =>
        a.append({ type: 'call.intent', requestId: `req-${i + j}`, botId: 'bot-a', apiId: 'kt10000', body: { stk_cd: '005930', ord_qty: String(i + j) } }),
      ),
    );
    // Deterministic checkpoint boundaries (every 25 records) on top of the count/time triggers.
    await a.checkpointNow();
  }
  await a.close();
  return { env, dir: env.logDir, mirrorDir: path.join(env.dataDir, 'mirror'), publicKeyFile: path.join(env.dataDir, 'audit-signing.pub') };
}

export async function logFilePaths(dir: string): Promise<string[]> {
  return (await listLogFiles(dir)).map((f) => f.path);
}

export async function readLinesOf(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8');
  return text.split('\n').slice(0, -1);
}

export async function writeLinesOf(file: string, lines: string[]): Promise<void> {
  await writeFile(file, lines.map((l) => `${l}\n`).join(''));
}

/** Edits line `index` (0-based) of a log file with `fn` applied to the parsed record. */
export async function editRecord(file: string, index: number, fn: (r: Record<string, any>) => void): Promise<void> {
  const lines = await readLinesOf(file);
  const r = JSON.parse(lines[index]!) as Record<string, any>;
  fn(r);
  lines[index] = JSON.stringify(r);
  await writeLinesOf(file, lines);
}
