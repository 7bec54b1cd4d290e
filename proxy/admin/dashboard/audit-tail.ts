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

/** The auditor's signing key as the dashboard checks checkpoints with it, and the earlier keys it may have handed over from. */
export interface SigningKeyView {
  readonly keyId: string;
  readonly publicKeyPem: string;
  readonly previousKeys?: readonly { readonly keyId: string; readonly publicKeyPem: string }[];
}

export interface CheckpointStatus {
  readonly seq: number;
  readonly fromSeq: number;
  readonly time: string;
  readonly keyId: string;
  /**
   * 'other-key': signed by a key other than the one in use now, and not one that handed over to it: the sidecar
   * refuses to start on a log whose checkpoints another key signed, and `kguard audit verify` fails such a checkpoint.
   * 'handed-over': validly signed by an earlier key of this sidecar (its key history), at or before a hand-over,
   * so signed by that key, to the key in use (a signing-key rotation).
   */
  readonly signature: 'valid' | 'invalid' | 'other-key' | 'handed-over';
  /** Whether the checkpoint's head is the hash of that record in the window; null when the record is outside it. */
  readonly matchesLog: boolean | null;
}

/** Bound of a caller's verified-lines cache (the 64 KiB read holds a few hundred checkpoints at most). */
const MAX_VERIFIED = 1024;

/** What the checkpoint file says about the window. */
export interface CheckpointCheck {
  /** The highest checkpoint (not the last line: an older genuine one can be appended after it). */
  readonly newest: CheckpointStatus | null;
  /** Its head hash, for the caller to remember. */
  readonly newestHead?: string;
  /** The first checkpoint read that is not validly signed, or whose record in the window has another hash. */
  readonly problem?: { readonly seq: number; readonly reason: string };
}

/** The newest part (64 KiB) of the file sink's local checkpoints, each checked against the auditor's key and the window. */
export async function checkCheckpoints(
  dir: string,
  key: SigningKeyView,
  tail: AuditTail,
  /** Lines already verified (line → signature valid), so a status asked every few seconds verifies only new ones. */
  verified: Map<string, boolean> = new Map(),
): Promise<CheckpointCheck> {
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
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { newest: null };
    throw err;
  }
  const publicKey = createPublicKey(key.publicKeyPem);
  const previous = new Map((key.previousKeys ?? []).map((k) => [k.keyId, k.publicKeyPem]));
  const bySeq = new Map(tail.records.map((r) => [r.seq, r.hash]));
  let newest: { cp: Checkpoint; status: CheckpointStatus } | undefined;
  let problem: CheckpointCheck['problem'];
  const parsed: { line: string; cp: Checkpoint }[] = [];
  for (const line of text.split('\n').slice(0, -1)) {
    try {
      const cp = JSON.parse(line) as Checkpoint;
      if (cp?.kind === 'checkpoint' && Number.isSafeInteger(cp.seq) && typeof cp.sig === 'string') parsed.push({ line, cp });
    } catch {
      // a torn or foreign line (the window may also start inside one)
    }
  }
  const check = (line: string, cp: Checkpoint, pem: string): boolean => {
    let valid = verified.get(line);
    if (valid === undefined) {
      valid = checkpointSignatureValid(cp, pem === key.publicKeyPem ? publicKey : createPublicKey(pem));
      if (verified.size >= MAX_VERIFIED) verified.clear();
      verified.set(line, valid);
    }
    return valid;
  };
  // The newest hand-over to the key in use that an earlier key of this sidecar validly signed.
  let handedOverAt = 0;
  for (const { line, cp } of parsed) {
    const pem = previous.get(cp.keyId);
    if (cp.nextKeyId === key.keyId && pem && cp.seq > handedOverAt && check(line, cp, pem)) handedOverAt = cp.seq;
  }
  for (const { line, cp } of parsed) {
    const pem = cp.keyId === key.keyId ? key.publicKeyPem : cp.seq <= handedOverAt ? previous.get(cp.keyId) : undefined;
    const valid = pem === undefined ? undefined : check(line, cp, pem);
    const signature = pem === undefined ? 'other-key' : !valid ? 'invalid' : cp.keyId === key.keyId ? 'valid' : 'handed-over';
    const hash = bySeq.get(cp.seq);
    const matchesLog = hash === undefined ? null : hash === cp.head;
    problem ??=
      signature !== 'valid' && signature !== 'handed-over'
        ? { seq: cp.seq, reason: `checkpoint #${cp.seq} is not validly signed by the audit key in use (${signature})` }
        : matchesLog === false
          ? { seq: cp.seq, reason: `checkpoint #${cp.seq} does not match record #${cp.seq} of the log` }
          : undefined;
    if (!newest || cp.seq >= newest.cp.seq) {
      newest = { cp, status: { seq: cp.seq, fromSeq: cp.fromSeq, time: cp.time, keyId: cp.keyId, signature, matchesLog } };
    }
  }
  if (!newest) return { newest: null, ...(problem ? { problem } : {}) };
  return { newest: newest.status, newestHead: newest.cp.head, ...(problem ? { problem } : {}) };
}

/** The file sink's newest local checkpoint, its signature checked with the auditor's key. */
export async function lastCheckpoint(dir: string, key: SigningKeyView, tail: AuditTail): Promise<CheckpointStatus | null> {
  return (await checkCheckpoints(dir, key, tail)).newest;
}
