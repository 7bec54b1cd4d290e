// RFC 6962 (Certificate Transparency) Merkle tree hashing over record hashes:
// leaf = SHA-256(0x00 || leaf), node = SHA-256(0x01 || left || right), and the
// split point is the largest power of two smaller than the leaf count.
import { createHash } from 'node:crypto';

const LEAF = Buffer.from([0]);
const NODE = Buffer.from([1]);

export function leafHash(recordHashHex: string): Buffer {
  return createHash('sha256').update(LEAF).update(Buffer.from(recordHashHex, 'hex')).digest();
}

export function nodeHash(left: Buffer, right: Buffer): Buffer {
  return createHash('sha256').update(NODE).update(left).update(right).digest();
}

function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** Root over leaf hashes (already leafHash'ed). Iterative, O(n) hashes. */
export function merkleRootOfLeaves(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 0) return createHash('sha256').digest();
  // Bottom-up pairing with an odd last node promoted yields the RFC 6962 tree.
  let level: Buffer[] = leaves.slice();
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(nodeHash(level[i]!, level[i + 1]!));
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    level = next;
  }
  return level[0]!;
}

export function merkleRoot(recordHashes: readonly string[]): string {
  return merkleRootOfLeaves(recordHashes.map(leafHash)).toString('hex');
}

function subtreeRoot(leaves: readonly Buffer[], start: number, end: number): Buffer {
  return merkleRootOfLeaves(leaves.slice(start, end));
}

/** RFC 6962 PATH(m, D[n]) as hex strings, leaf-first. */
export function inclusionProof(recordHashes: readonly string[], index: number): string[] {
  if (!Number.isInteger(index) || index < 0 || index >= recordHashes.length) throw new RangeError('leaf index out of range');
  const leaves = recordHashes.map(leafHash);
  const path: Buffer[] = [];
  let start = 0;
  let end = leaves.length;
  let m = index;
  while (end - start > 1) {
    const k = splitPoint(end - start);
    if (m < k) {
      path.push(subtreeRoot(leaves, start + k, end));
      end = start + k;
    } else {
      path.push(subtreeRoot(leaves, start, start + k));
      start = start + k;
      m -= k;
    }
  }
  return path.reverse().map((b) => b.toString('hex'));
}

/** RFC 9162 section 2.1.3.2 inclusion verification. */
export function verifyInclusion(recordHashHex: string, index: number, treeSize: number, proof: readonly string[], rootHex: string): boolean {
  if (!Number.isInteger(index) || !Number.isInteger(treeSize) || index < 0 || index >= treeSize) return false;
  let fn = index;
  let sn = treeSize - 1;
  let r = leafHash(recordHashHex);
  for (const p of proof) {
    if (!/^[0-9a-f]{64}$/.test(p)) return false;
    const sibling = Buffer.from(p, 'hex');
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(sibling, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = nodeHash(r, sibling);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn === 0 && r.toString('hex') === rootHex;
}
