// Signed checkpoints: Ed25519 over (chain, sink, seq range, head hash, Merkle
// root of the range's record hashes, time). Consecutive checkpoints tile the
// sequence range, so a copy kept elsewhere detects truncation of the log.
import { sign, verify, type KeyObject } from 'node:crypto';
import { mkdir, open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { canonicalJson } from './canonical.js';

export const CHECKPOINT_VERSION = 1;

export interface CheckpointBody {
  readonly v: number;
  readonly kind: 'checkpoint';
  /** Hash of the chain's first record: names the chain (and its mirror file). */
  readonly chain: string;
  readonly sink: string;
  readonly replica: string;
  readonly fromSeq: number;
  readonly seq: number;
  /** Hash of record `seq`. */
  readonly head: string;
  /** RFC 6962 Merkle root over the hashes of records fromSeq..seq. */
  readonly root: string;
  readonly time: string;
  readonly keyId: string;
  /**
   * A hand-over (signing-key rotation): signed by the retiring key `keyId`, it
   * names the key that signs every later checkpoint of the chain. Both or neither.
   */
  readonly nextKeyId?: string;
  /** The next key's public key (SPKI PEM). */
  readonly nextPublicKey?: string;
}

export interface Checkpoint extends CheckpointBody {
  /** base64url Ed25519 signature over the canonical encoding of the other fields. */
  readonly sig: string;
}

export function signCheckpoint(body: CheckpointBody, privateKey: KeyObject): Checkpoint {
  const sig = sign(null, Buffer.from(canonicalJson(body)), privateKey).toString('base64url');
  return { ...body, sig };
}

export function checkpointSignatureValid(cp: Checkpoint, publicKey: KeyObject): boolean {
  const { sig, ...body } = cp;
  try {
    return verify(null, Buffer.from(canonicalJson(body)), publicKey, Buffer.from(sig, 'base64url'));
  } catch {
    return false;
  }
}

export function mirrorFileName(chain: string): string {
  return `checkpoints-${chain.slice(0, 16)}.jsonl`;
}

export function looksLikeCheckpoint(v: unknown): v is Checkpoint {
  if (typeof v !== 'object' || v === null) return false;
  const c = v as Record<string, unknown>;
  return (
    c.kind === 'checkpoint' &&
    c.v === CHECKPOINT_VERSION &&
    typeof c.chain === 'string' &&
    typeof c.sink === 'string' &&
    Number.isSafeInteger(c.fromSeq) &&
    Number.isSafeInteger(c.seq) &&
    typeof c.head === 'string' &&
    typeof c.root === 'string' &&
    typeof c.time === 'string' &&
    typeof c.keyId === 'string' &&
    typeof c.sig === 'string' &&
    (c.nextKeyId === undefined) === (c.nextPublicKey === undefined) &&
    (c.nextKeyId === undefined || (typeof c.nextKeyId === 'string' && typeof c.nextPublicKey === 'string'))
  );
}

export interface CheckpointFile {
  readonly checkpoints: Checkpoint[];
  /** Lines that are not checkpoints (line number, 1-based). */
  readonly badLines: number[];
  /** The last line had no newline: a write cut short by a crash. */
  readonly tornTail: boolean;
}

export async function readCheckpointFile(file: string): Promise<CheckpointFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { checkpoints: [], badLines: [], tornTail: false };
    throw err;
  }
  const lines = text.split('\n');
  const tornTail = lines[lines.length - 1] !== '';
  const last = lines.length - 1;
  const checkpoints: Checkpoint[] = [];
  const badLines: number[] = [];
  lines.forEach((line, i) => {
    if (i === last) return; // '' after the final newline, or the torn tail
    try {
      const v: unknown = JSON.parse(line);
      if (looksLikeCheckpoint(v)) checkpoints.push(v);
      else badLines.push(i + 1);
    } catch {
      badLines.push(i + 1);
    }
  });
  return { checkpoints, badLines, tornTail };
}

/** Appends one checkpoint line durably (write + fsync, directory synced on creation). */
export async function appendCheckpointLine(file: string, cp: Checkpoint): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const fh = await open(file, 'a', 0o600);
  try {
    const { size } = await fh.stat();
    await fh.write(`${canonicalJson(cp)}\n`);
    await fh.datasync();
    if (size === 0) await syncDir(path.dirname(file));
  } finally {
    await fh.close();
  }
}

export async function syncDir(dir: string): Promise<void> {
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the file's own fsync still holds.
  } finally {
    await dh.close();
  }
}
