// Which signing keys a verifier accepts, checkpoint by checkpoint in seq
// order. The keys it was given (out of band: `--public-key`) are trusted from
// the start of the chain. A hand-over checkpoint (one that names a next key),
// validly signed by a key trusted at that point, introduces the next key for
// the checkpoints after it and retires the signer: a retired key signs
// nothing later in the chain, so a leaked old key cannot sign a second
// hand-over or checkpoints past its own. Shared by `verify` and receipts.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { checkpointSignatureValid, type Checkpoint } from './checkpoint.js';
import { publicKeyId } from './keys.js';

export interface Handover {
  /** The hand-over checkpoint's seq: the new key signs the checkpoints after it. */
  readonly seq: number;
  readonly fromKeyId: string;
  readonly toKeyId: string;
}

interface Trusted {
  readonly key: KeyObject;
  /** Accepted only for checkpoints that start after this seq (0: trusted out of band). */
  readonly after: number;
  retired?: { readonly seq: number; readonly to: string };
}

/** The next key a hand-over names, or why it is unusable. */
export function handoverKey(cp: Checkpoint): { key: KeyObject } | { reason: string } {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: cp.nextPublicKey!, format: 'pem' });
  } catch {
    return { reason: 'its next public key is not a public key' };
  }
  if (key.asymmetricKeyType !== 'ed25519') return { reason: 'its next public key is not an Ed25519 key' };
  const id = publicKeyId(key);
  if (id !== cp.nextKeyId) return { reason: `its next public key is key ${id}, not ${cp.nextKeyId ?? '?'}` };
  if (id === cp.keyId) return { reason: 'it hands over to the key that signed it' };
  return { key };
}

export class KeyTrust {
  private readonly keys = new Map<string, Trusted>();
  private readonly given: string[];
  readonly handovers: Handover[] = [];

  constructor(trusted: readonly KeyObject[]) {
    for (const key of trusted) this.keys.set(publicKeyId(key), { key, after: 0 });
    this.given = [...this.keys.keys()];
  }

  /** Key ids trusted out of band. */
  get trustedKeyIds(): readonly string[] {
    return this.given;
  }

  /**
   * Checks one checkpoint (call in ascending seq order; copies of one checkpoint may repeat).
   * Returns why it is not acceptable, or undefined; a valid hand-over introduces its next key.
   */
  accept(cp: Checkpoint): string | undefined {
    const what = cp.nextKeyId !== undefined ? `checkpoint for seq ${cp.seq} (a hand-over to key ${cp.nextKeyId})` : `checkpoint for seq ${cp.seq}`;
    const signer = this.keys.get(cp.keyId);
    if (!signer) {
      return `${what} is signed by key ${cp.keyId}, which is not trusted (${this.given.join(', ')}) and no trusted key handed over to`;
    }
    if (cp.fromSeq <= signer.after) {
      return `${what} is signed by key ${cp.keyId}, which was handed over to only at seq ${signer.after}`;
    }
    if (signer.retired && cp.seq > signer.retired.seq) {
      return `${what} is signed by key ${cp.keyId}, which handed over to key ${signer.retired.to} at seq ${signer.retired.seq} and signs nothing after it`;
    }
    if (!checkpointSignatureValid(cp, signer.key)) return `${what} has an invalid signature (key ${cp.keyId})`;
    if (cp.nextKeyId === undefined) return undefined;
    const next = handoverKey(cp);
    if ('reason' in next) return `${what} is malformed: ${next.reason}`;
    if (signer.retired) return signer.retired.to === cp.nextKeyId ? undefined : `${what} contradicts the hand-over at seq ${signer.retired.seq}`;
    signer.retired = { seq: cp.seq, to: cp.nextKeyId };
    if (!this.keys.has(cp.nextKeyId)) this.keys.set(cp.nextKeyId, { key: next.key, after: cp.seq });
    this.handovers.push({ seq: cp.seq, fromKeyId: cp.keyId, toKeyId: cp.nextKeyId });
    return undefined;
  }
}
