// AES-256-GCM helpers over Buffers. Plaintext never becomes a string here.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface Sealed {
  iv: Buffer;
  tag: Buffer;
  ciphertext: Buffer;
}

export function seal(key: Buffer, plaintext: Buffer, aad: Buffer): Sealed {
  if (key.length !== KEY_BYTES) throw new RangeError('AES-256-GCM key must be 32 bytes');
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, tag: cipher.getAuthTag(), ciphertext };
}

/** Throws (a plain Error from OpenSSL) when the key, AAD or bytes do not match; callers map it. */
export function open(key: Buffer, sealed: Sealed, aad: Buffer): Buffer {
  if (key.length !== KEY_BYTES) throw new RangeError('AES-256-GCM key must be 32 bytes');
  if (sealed.iv.length !== IV_BYTES || sealed.tag.length !== TAG_BYTES) throw new RangeError('bad iv or tag length');
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.tag);
  const head = decipher.update(sealed.ciphertext);
  try {
    const tail = decipher.final();
    if (tail.length === 0) return head;
    const out = Buffer.concat([head, tail]);
    head.fill(0);
    tail.fill(0);
    return out;
  } catch (err) {
    head.fill(0); // unauthenticated output must not linger
    throw err;
  }
}

/** One blob for wrapped keys: iv | tag | ciphertext. */
export function packSealed(s: Sealed): Buffer {
  return Buffer.concat([s.iv, s.tag, s.ciphertext]);
}

export function unpackSealed(blob: Buffer): Sealed {
  if (blob.length < IV_BYTES + TAG_BYTES + 1) throw new RangeError('sealed blob too short');
  return {
    iv: blob.subarray(0, IV_BYTES),
    tag: blob.subarray(IV_BYTES, IV_BYTES + TAG_BYTES),
    ciphertext: blob.subarray(IV_BYTES + TAG_BYTES),
  };
}
