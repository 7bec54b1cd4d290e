// The newest part of an audit log, for the dashboard: the last `maxBytes` of
// the primary file sink's log (across a rotation if the newest file is
// short), checked as `kguard audit verify` checks a whole log — each record's
// own hash, seq continuity, the prev links, unreadable bytes sealed by a
// recovery record — but only over that window. Full verification stays with
// `kguard audit verify`; this answers "is the chain intact where it is being
// written now" cheaply enough to ask every few seconds.
import { open } from 'node:fs/promises';
import { createPublicKey } from 'node:crypto';
import path from 'node:path';
import { checkpointSignatureValid, type Checkpoint } from '../../audit/checkpoint.js';
import { listLogFiles, LOCAL_CHECKPOINT_FILE, type RawLine } from '../../audit/logfiles.js';
import { parseRecordLine, type AuditRecord } from '../../audit/record.js';
import { ChainWalker } from '../../audit/walker.js';

export interface AuditTail {
  /** Records of the window that passed the chain checks, oldest first. */
  readonly records: readonly AuditRecord[];
  readonly fromSeq: number | null;
  readonly toSeq: number | null;
  readonly head: string | null;
  /** The first break in the window (a record edited, removed, reordered, or unreadable bytes not sealed). */
  readonly problem?: { readonly seq: number | null; readonly reason: string };
  /** Bytes the window covered. */
  readonly bytes: number;
}

const NL = 0x0a;

/** Reads the last `len` bytes of a file of `size` bytes. */
async function readEnd(file: string, size: number, len: number): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(len);
    const { bytesRead } = await fh.read(buf, 0, len, size - len);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** Whole lines of a chunk: a cut first line (the window starts inside it) and an unterminated last one (being written) are left out. */
function lines(buf: Buffer, cutStart: boolean, base: number): RawLine[] {
  const out: RawLine[] = [];
  let pos = 0;
  if (cutStart) {
    const nl = buf.indexOf(NL);
    if (nl === -1) return out;
    pos = nl + 1;
  }
  for (;;) {
    const nl = buf.indexOf(NL, pos);
    if (nl === -1) break;
    out.push({ bytes: buf.subarray(pos, nl), offset: base + pos, terminated: true });
    pos = nl + 1;
  }
  return out;
}

export async function readAuditTail(dir: string, maxBytes: number): Promise<AuditTail> {
  const files = await listLogFiles(dir);
  // Newest file first, going back while the budget lasts.
  const chunks: { file: string; lines: RawLine[] }[] = [];
  let budget = maxBytes;
  let bytes = 0;
  for (let i = files.length - 1; i >= 0 && budget > 0; i--) {
    const f = files[i]!;
    const len = Math.min(f.size, budget);
    const buf = await readEnd(f.path, f.size, len);
    budget -= len;
    bytes += buf.length;
    chunks.unshift({ file: f.name, lines: lines(buf, len < f.size, f.size - len) });
  }
  const records: AuditRecord[] = [];
  const walker = new ChainWalker({ expectGenesis: false, onRecord: (r) => records.push(r) });
  let started = false;
  chunks.forEach((c, i) => {
    for (const raw of c.lines) {
      // Bytes before the window's first readable record may be the tail of a sealed region whose start is outside it.
      if (!started && !parseRecordLine(raw.bytes.toString('utf8')).ok) continue;
      started = true;
      if (!walker.line(raw, { file: c.file, line: 0, offset: raw.offset })) break;
    }
    walker.endFile(i === chunks.length - 1);
  });
  const err = walker.error;
  return {
    records,
    fromSeq: records[0]?.seq ?? null,
    toSeq: walker.head?.seq ?? null,
    head: walker.head?.hash ?? null,
    ...(err ? { problem: { seq: err.seq ?? null, reason: err.reason } } : {}),
    bytes,
  };
}

export interface CheckpointStatus {
  readonly seq: number;
  readonly fromSeq: number;
  readonly time: string;
  readonly keyId: string;
  /** 'other-key': signed by a key other than the one in use now (rotated); `kguard audit verify` checks it with that key. */
  readonly signature: 'valid' | 'invalid' | 'other-key';
  /** Whether the checkpoint's head is the hash of that record in the window; null when the record is outside it. */
  readonly matchesLog: boolean | null;
}

/** The file sink's newest local checkpoint, its signature checked with the auditor's key. */
export async function lastCheckpoint(
  dir: string,
  key: { readonly keyId: string; readonly publicKeyPem: string },
  tail: AuditTail,
): Promise<CheckpointStatus | null> {
  let text: string;
  try {
    const file = path.join(dir, LOCAL_CHECKPOINT_FILE);
    const fh = await open(file, 'r');
    try {
      const { size } = await fh.stat();
      const len = Math.min(size, 64 * 1024);
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, size - len);
      text = buf.toString('utf8');
    } finally {
      await fh.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const whole = text.split('\n').slice(0, -1);
  let cp: Checkpoint | undefined;
  for (let i = whole.length - 1; i >= 0 && !cp; i--) {
    try {
      const v = JSON.parse(whole[i]!) as Checkpoint;
      if (v?.kind === 'checkpoint' && Number.isSafeInteger(v.seq) && typeof v.sig === 'string') cp = v;
    } catch {
      // A torn or foreign line: look at the one before.
    }
  }
  if (!cp) return null;
  const record = tail.records.find((r) => r.seq === cp.seq);
  return {
    seq: cp.seq,
    fromSeq: cp.fromSeq,
    time: cp.time,
    keyId: cp.keyId,
    signature: cp.keyId !== key.keyId ? 'other-key' : checkpointSignatureValid(cp, createPublicKey(key.publicKeyPem)) ? 'valid' : 'invalid',
    matchesLog: record ? record.hash === cp.head : null,
  };
}
