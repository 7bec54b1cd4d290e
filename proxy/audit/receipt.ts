// Per-record receipts: the record's hash, an RFC 6962 inclusion proof and the
// signed checkpoint whose Merkle root it proves against. Anyone holding the
// public key can check one order without the rest of the log.
import type { KeyObject } from 'node:crypto';
import path from 'node:path';
import { GuardError } from '../common/errors.js';
import { readCheckpointFile, type Checkpoint } from './checkpoint.js';
import { KeyTrust } from './key-trust.js';
import { listLogFiles, readLines, LOCAL_CHECKPOINT_FILE } from './logfiles.js';
import { inclusionProof, merkleRoot, verifyInclusion } from './merkle.js';
import { parseRecordLine, recordHash, type AuditRecord } from './record.js';

export interface Receipt {
  readonly v: 1;
  readonly sink: string;
  readonly seq: number;
  readonly recordHash: string;
  /** Position of the record among the checkpoint's records (seq - checkpoint.fromSeq). */
  readonly leafIndex: number;
  readonly treeSize: number;
  readonly proof: readonly string[];
  readonly checkpoint: Checkpoint;
  /**
   * The chain's signing-key hand-overs before `checkpoint`, oldest first: they lead a verifier that holds
   * an older key to the key that signed it.
   */
  readonly handovers?: readonly Checkpoint[];
  /** The record itself, when the receipt was built from the log. */
  readonly record?: AuditRecord;
}

/** KG6004: no receipt can be issued for this seq (the log around it does not verify, or seq is not one). */
export class ReceiptError extends GuardError {
  constructor(detail: string) {
    super('KG6004', detail);
    this.name = 'ReceiptError';
  }
}

/** Builds a receipt from a file sink's dir; undefined if no checkpoint covers `seq` yet. */
export async function buildReceipt(dir: string, seq: number, opts: { checkpointsFile?: string } = {}): Promise<Receipt | undefined> {
  if (!Number.isSafeInteger(seq) || seq < 1) throw new ReceiptError(`seq must be a positive integer, got ${seq}`);
  const { checkpoints } = await readCheckpointFile(opts.checkpointsFile ?? path.join(dir, LOCAL_CHECKPOINT_FILE));
  const cp = checkpoints.find((c) => c.fromSeq <= seq && seq <= c.seq);
  if (!cp) return undefined;
  const files = await listLogFiles(dir);
  let startIndex = 0;
  for (let i = 0; i < files.length; i++) if (files[i]!.firstSeq <= cp.fromSeq) startIndex = i;
  const hashes: string[] = [];
  let target: AuditRecord | undefined;
  outer: for (const file of files.slice(startIndex)) {
    if (file.firstSeq > cp.seq) break;
    for await (const raw of readLines(file.path)) {
      const parsed = parseRecordLine(raw.bytes.toString('utf8'));
      if (!parsed.ok) continue;
      const r = parsed.record;
      if (r.seq < cp.fromSeq) continue;
      if (r.seq > cp.seq) break outer;
      if (r.seq !== cp.fromSeq + hashes.length) throw new ReceiptError(`log has a gap or reorder at seq ${r.seq}; run kguard audit verify`);
      hashes.push(r.hash);
      if (r.seq === seq) target = r;
    }
  }
  if (!target || hashes.length !== cp.seq - cp.fromSeq + 1)
    throw new ReceiptError(`records ${cp.fromSeq}..${cp.seq} are not all in the log; run kguard audit verify`);
  if (merkleRoot(hashes) !== cp.root) throw new ReceiptError(`records ${cp.fromSeq}..${cp.seq} do not match their signed checkpoint; run kguard audit verify`);
  const leafIndex = seq - cp.fromSeq;
  const handovers = checkpoints.filter((c) => c.nextKeyId !== undefined && c.chain === cp.chain && c.seq < cp.fromSeq).sort((a, b) => a.seq - b.seq);
  return {
    v: 1,
    sink: cp.sink,
    seq,
    recordHash: target.hash,
    leafIndex,
    treeSize: hashes.length,
    proof: inclusionProof(hashes, leafIndex),
    checkpoint: cp,
    ...(handovers.length ? { handovers } : {}),
    record: target,
  };
}

export type ReceiptVerdict = { ok: true } | { ok: false; reason: string };

/**
 * Checks a receipt: the checkpoint's signature by a trusted key (or by a key the receipt's hand-overs lead to
 * from one), the inclusion proof, and (if present) that the record hashes to recordHash.
 */
export function verifyReceipt(receipt: Receipt, publicKeys: KeyObject | readonly KeyObject[]): ReceiptVerdict {
  const cp = receipt.checkpoint;
  if (!cp) return { ok: false, reason: 'no checkpoint in the receipt' };
  const trust = new KeyTrust(Array.isArray(publicKeys) ? publicKeys : [publicKeys as KeyObject]);
  for (const h of [...(receipt.handovers ?? [])].sort((a, b) => a.seq - b.seq)) {
    // One no trusted key vouches for adds no trust (a verifier that holds the newer key needs none).
    if (h.nextKeyId !== undefined && h.chain === cp.chain && h.seq < cp.fromSeq) trust.accept(h);
  }
  const why = trust.accept(cp);
  if (why) return { ok: false, reason: why };
  if (receipt.seq < cp.fromSeq || receipt.seq > cp.seq) return { ok: false, reason: 'checkpoint does not cover this seq' };
  if (receipt.leafIndex !== receipt.seq - cp.fromSeq || receipt.treeSize !== cp.seq - cp.fromSeq + 1)
    return { ok: false, reason: 'leaf index or tree size inconsistent with the checkpoint' };
  if (receipt.record) {
    if (receipt.record.seq !== receipt.seq || recordHash(receipt.record) !== receipt.recordHash)
      return { ok: false, reason: 'record does not hash to recordHash' };
  }
  if (receipt.seq === cp.seq && receipt.recordHash !== cp.head) return { ok: false, reason: 'record hash differs from the checkpoint head' };
  if (!verifyInclusion(receipt.recordHash, receipt.leafIndex, receipt.treeSize, receipt.proof, cp.root))
    return { ok: false, reason: 'inclusion proof does not lead to the checkpoint root' };
  return { ok: true };
}
