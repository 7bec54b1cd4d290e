// Reads a sidecar's audit log the way an auditor would (all rotated files, in
// order) and groups records by request id, for the through-the-sidecar tests.
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { listLogFiles } from '../../proxy/audit/logfiles.js';
import { parseRecordLine } from '../../proxy/audit/record.js';
import type { AuditRecord } from '../../proxy/audit/index.js';

/** Every complete, self-consistent record in the log dir (a torn final line is skipped). */
export async function readAuditRecords(dir: string): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for (const file of await listLogFiles(dir)) {
    const lines = (await readFile(file.path, 'utf8')).split('\n');
    for (const line of lines) {
      if (line.length === 0) continue;
      const parsed = parseRecordLine(line);
      if (parsed.ok) out.push(parsed.record);
    }
  }
  return out;
}

/** The raw text of every log file, for "this value never appears" checks. */
export async function auditLogText(dir: string): Promise<string> {
  const parts = await Promise.all((await listLogFiles(dir)).map((f) => readFile(f.path, 'utf8')));
  return parts.join('');
}

export function recordsFor(records: readonly AuditRecord[], requestId: string): AuditRecord[] {
  return records.filter((r) => r.data.requestId === requestId);
}

export function typesOf(records: readonly AuditRecord[]): string[] {
  return records.map((r) => r.type);
}

/**
 * Polls the log until `ready` holds for the records of every id: outcome and
 * revocation records are written after the bot has its answer.
 */
export async function waitForRequestRecords(
  dir: string,
  ids: readonly string[],
  ready: (records: AuditRecord[], id: string) => boolean,
  timeoutMs = 20_000,
): Promise<AuditRecord[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const all = await readAuditRecords(dir);
    const pending = ids.filter((id) => !ready(recordsFor(all, id), id));
    if (pending.length === 0) return all;
    if (Date.now() > deadline) {
      const detail = pending
        .slice(0, 3)
        .map((id) => `${id}: [${typesOf(recordsFor(all, id)).join(', ')}]`)
        .join('; ');
      throw new Error(`timed out waiting for audit records of ${pending.length} request(s): ${detail}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

export const has = (records: readonly AuditRecord[], type: string): boolean => records.some((r) => r.type === type);

export interface RiskContribution {
  detector: string;
  score: number;
  weight: number;
  reason: string;
}

/** The risk contributions the call.intent record of `requestId` carries (of `detector` only, when given), once it is written. */
export async function riskContributions(dir: string, requestId: string, detector?: string): Promise<RiskContribution[]> {
  const all = await waitForRequestRecords(dir, [requestId], (rs) => has(rs, 'call.intent'), 10_000);
  const intent = recordsFor(all, requestId).find((r) => r.type === 'call.intent');
  const found = (intent?.data.risk as { contributions?: RiskContribution[] } | undefined)?.contributions ?? [];
  return detector === undefined ? found : found.filter((c) => c.detector === detector);
}

/**
 * Breaks a running sidecar's only file sink: its log directory is moved aside and a plain file takes its name, then
 * records are appended until a rotation fails to open a file there. `restore` puts the directory back.
 */
export async function breakAuditSink(
  t: { teardown(fn: () => unknown): void },
  h: { dataDir: string; sidecar: { parts: { auditor: { append(r: never): Promise<unknown> } } } },
): Promise<{ broken: boolean; restore(): Promise<void> }> {
  const auditDir = path.join(h.dataDir, 'audit');
  const aside = await mkdtemp(path.join(tmpdir(), 'kguard-audit-aside-'));
  t.teardown(() => rm(aside, { recursive: true, force: true }));
  await rename(auditDir, path.join(aside, 'audit'));
  await writeFile(auditDir, 'not a directory\n');
  const restore = async () => {
    await rm(auditDir);
    await rename(path.join(aside, 'audit'), auditDir);
  };
  for (let i = 0; i < 100; i++) {
    const refused = await h.sidecar.parts.auditor.append({ type: 'test.filler', pad: 'x'.repeat(1000) } as never).then(
      () => false,
      () => true,
    );
    if (refused) return { broken: true, restore };
  }
  return { broken: false, restore };
}
