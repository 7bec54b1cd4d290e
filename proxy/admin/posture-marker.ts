// When `kguard audit verify` last ran and what it found, for the posture
// check "time since the last audit verify": a small JSON file in the data
// directory (<dataDir>/audit-verify.json, 0600), written by the CLI after each
// verify and read by the sidecar. It records a time, a verdict, a path and
// counts: nothing secret. A failed write never fails the verify itself.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../common/fsutil.js';

export const AUDIT_VERIFY_MARKER = 'audit-verify.json';

export interface AuditVerifyMarker {
  readonly v: 1;
  /** ISO time the verify finished. */
  readonly at: string;
  readonly ok: boolean;
  /** Absolute path of the file or directory that was verified. */
  readonly target: string;
  readonly records?: number;
  readonly lastSeq?: number;
}

export function auditVerifyMarkerFile(dataDir: string): string {
  return path.join(dataDir, AUDIT_VERIFY_MARKER);
}

export async function recordAuditVerify(
  dataDir: string,
  result: { readonly ok: boolean; readonly target: string; readonly records?: number; readonly lastSeq?: number; readonly at?: Date },
): Promise<void> {
  const marker: AuditVerifyMarker = {
    v: 1,
    at: (result.at ?? new Date()).toISOString(),
    ok: result.ok,
    target: path.resolve(result.target),
    ...(result.records !== undefined ? { records: result.records } : {}),
    ...(result.lastSeq !== undefined ? { lastSeq: result.lastSeq } : {}),
  };
  await writeFileAtomic(auditVerifyMarkerFile(dataDir), `${JSON.stringify(marker)}\n`);
}

/** The recorded verify, or undefined when none is recorded or the file is not a marker. */
export async function readAuditVerify(dataDir: string): Promise<AuditVerifyMarker | undefined> {
  let text: string;
  try {
    text = await readFile(auditVerifyMarkerFile(dataDir), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const m = JSON.parse(text) as Partial<AuditVerifyMarker>;
    if (m.v !== 1 || typeof m.at !== 'string' || Number.isNaN(Date.parse(m.at)) || typeof m.ok !== 'boolean' || typeof m.target !== 'string') return undefined;
    return {
      v: 1,
      at: m.at,
      ok: m.ok,
      target: m.target,
      ...(typeof m.records === 'number' ? { records: m.records } : {}),
      ...(typeof m.lastSeq === 'number' ? { lastSeq: m.lastSeq } : {}),
    };
  } catch {
    return undefined;
  }
}

/** Whether a verified path is one of these log directories (or a file in one). */
export function verifiedOneOf(target: string, dirs: readonly string[]): boolean {
  const t = path.resolve(target);
  return dirs.some((d) => {
    const dir = path.resolve(d);
    return t === dir || path.dirname(t) === dir;
  });
}
