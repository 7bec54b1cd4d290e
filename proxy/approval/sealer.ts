// Approver TOTP secrets must be readable by the service (TOTP needs the key),
// so they are sealed, not hashed: envelope encryption with a fresh data key
// from the vault's KeyProvider (local keyring, KMS or HSM), AES-256-GCM,
// bound to the approver name through the encryption context.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { GuardError } from '../common/errors.js';
import type { EncryptionContext, KeyProvider, WrappedKey } from '../vault/types.js';

export interface SecretSealer {
  seal(plaintext: Buffer, context: EncryptionContext): Promise<string>;
  /** Caller zero-fills the result. */
  open(sealed: string, context: EncryptionContext): Promise<Buffer>;
}

interface SealedBox {
  v: 1;
  wrapped: WrappedKey;
  iv: string;
  tag: string;
  ct: string;
}

function aad(context: EncryptionContext): Buffer {
  return Buffer.from(
    JSON.stringify(
      Object.keys(context)
        .sort()
        .map((k) => [k, context[k]]),
    ),
  );
}

export function createKeyProviderSealer(provider: KeyProvider): SecretSealer {
  return {
    async seal(plaintext, context) {
      const { plaintext: key, wrapped } = await provider.generateDataKey(context);
      try {
        const iv = randomBytes(12);
        const cipher = createCipheriv('aes-256-gcm', key, iv);
        cipher.setAAD(aad(context));
        const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
        const box: SealedBox = { v: 1, wrapped, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), ct: ct.toString('base64') };
        return JSON.stringify(box);
      } finally {
        key.fill(0);
      }
    },
    async open(sealed, context) {
      let box: SealedBox;
      try {
        box = JSON.parse(sealed) as SealedBox;
      } catch {
        throw new GuardError('KG4004', 'sealed approver secret is corrupt');
      }
      const key = await provider.unwrap(box.wrapped, context);
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(box.iv, 'base64'));
        decipher.setAAD(aad(context));
        decipher.setAuthTag(Buffer.from(box.tag, 'base64'));
        return Buffer.concat([decipher.update(Buffer.from(box.ct, 'base64')), decipher.final()]);
      } catch (err) {
        throw new GuardError('KG4004', 'sealed approver secret failed authentication', { cause: err });
      } finally {
        key.fill(0);
      }
    },
  };
}
