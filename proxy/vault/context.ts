// Encryption contexts are bound as AES-GCM AAD (local, pkcs11) or sent as the
// KMS EncryptionContext. AAD must be byte-identical at wrap and unwrap time,
// so it is serialised canonically: keys sorted, plain JSON.
import type { EncryptionContext } from './types.js';

export function canonicalContext(context: EncryptionContext): Buffer {
  const sorted: Record<string, string> = {};
  for (const key of Object.keys(context).sort()) {
    const value = context[key];
    if (typeof value !== 'string') throw new TypeError(`encryption context value ${key} must be a string`);
    sorted[key] = value;
  }
  return Buffer.from(JSON.stringify(sorted), 'utf8');
}

/** The seed's per-record context: who the keys belong to and which version of them this is. */
export function credentialContext(r: { botId: string; account: string; keyVersion: number; createdAt: string }): EncryptionContext {
  return { botId: r.botId, account: r.account, keyVersion: String(r.keyVersion), createdAt: r.createdAt };
}

export function sameContext(a: EncryptionContext, b: EncryptionContext): boolean {
  return canonicalContext(a).equals(canonicalContext(b));
}
