// The record format. One JSON line per record; `hash` is SHA-256 over the
// canonical encoding of every other field, and `prev` is the previous
// record's hash, so each sink's records form a chain.
import { canonicalJson, sha256Hex } from './canonical.js';
import type { AuditEventType } from './types.js';

export const RECORD_VERSION = 1;
/** `prev` of the first record of a chain. */
export const GENESIS_HASH = '0'.repeat(64);
const HEX64 = /^[0-9a-f]{64}$/;

/** What the auditor decides once per event; each sink then chains it. */
export interface RecordBody {
  readonly ts: string;
  readonly replica: string;
  readonly type: AuditEventType;
  readonly data: Record<string, unknown>;
}

export interface AuditRecord extends RecordBody {
  readonly v: number;
  readonly sink: string;
  readonly seq: number;
  readonly prev: string;
  readonly hash: string;
}

export interface ChainHead {
  seq: number;
  hash: string;
}

export function recordHash(record: Omit<AuditRecord, 'hash'> & { hash?: string }): string {
  const { hash: _ignored, ...rest } = record;
  return sha256Hex(canonicalJson(rest));
}

/**
 * Chains `body` after `head`, returning the record and its line (with trailing
 * newline). The line is assembled around `dataJson` (the canonical encoding of
 * `body.data`, which the auditor makes once per event) in canonical key order,
 * so the data is encoded once rather than once for the hash and again for the line.
 */
export function chainRecord(
  body: RecordBody,
  sink: string,
  head: ChainHead,
  dataJson: string = canonicalJson(body.data),
): { record: AuditRecord; line: string } {
  const seq = head.seq + 1;
  // Canonical key order: data, hash, prev, replica, seq, sink, ts, type, v.
  const front = `{"data":${dataJson},`;
  const rest = `"prev":${JSON.stringify(head.hash)},"replica":${JSON.stringify(body.replica)},"seq":${seq},"sink":${JSON.stringify(sink)},"ts":${JSON.stringify(body.ts)},"type":${JSON.stringify(body.type)},"v":${RECORD_VERSION}}`;
  const hash = sha256Hex(front + rest);
  const record: AuditRecord = { v: RECORD_VERSION, sink, seq, prev: head.hash, ts: body.ts, replica: body.replica, type: body.type, data: body.data, hash };
  return { record, line: `${front}"hash":"${hash}",${rest}\n` };
}

export type ParsedLine = { ok: true; record: AuditRecord } | { ok: false; reason: string };

/** Parses and self-checks one line (no chain context). */
export function parseRecordLine(line: string): ParsedLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { ok: false, reason: 'not valid JSON (torn or edited line)' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, reason: 'not a JSON object' };
  const r = value as Record<string, unknown>;
  if (r.v !== RECORD_VERSION) return { ok: false, reason: `unknown record version ${String(r.v)}` };
  if (!Number.isSafeInteger(r.seq) || (r.seq as number) < 1) return { ok: false, reason: 'bad seq' };
  if (typeof r.hash !== 'string' || !HEX64.test(r.hash)) return { ok: false, reason: 'bad hash field' };
  if (typeof r.prev !== 'string' || !HEX64.test(r.prev)) return { ok: false, reason: 'bad prev field' };
  if (typeof r.sink !== 'string' || typeof r.replica !== 'string' || typeof r.type !== 'string' || typeof r.ts !== 'string') {
    return { ok: false, reason: 'missing sink/replica/type/ts' };
  }
  if (typeof r.data !== 'object' || r.data === null || Array.isArray(r.data)) return { ok: false, reason: 'bad data field' };
  // The writer emits canonical JSON, so the hashed bytes are the line minus its `,"hash":"…"` member.
  // The hash must cover the line as written: a line re-encoded to the same meaning (a \u escape, spaces,
  // a duplicated key) hides a signed record from a byte search, or shows some readers other values.
  const at = line.lastIndexOf(',"hash":"');
  if (at === -1 || sha256Hex(line.slice(0, at) + line.slice(at + 74)) !== r.hash) {
    return { ok: false, reason: 'hash does not match the line as written (edited, or re-encoded)' };
  }
  return { ok: true, record: r as unknown as AuditRecord };
}
