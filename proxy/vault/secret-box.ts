// One secret sealed under the vault's envelope encryption, for secrets that
// are not Kiwoom credentials (the transparent CA's private key): a fresh
// AES-256-GCM data key from the key provider (local keyring, AWS KMS, PKCS#11)
// seals the bytes, bound to an encryption context and to the box's kind, and
// only the wrapped data key is kept. The same aead and context helpers as the
// credential records; the data key is zero-filled before these return.
import { GuardError, isGuardError } from '../common/errors.js';
import { open, packSealed, seal, unpackSealed } from './aead.js';
import { canonicalContext } from './context.js';
import type { EncryptionContext, KeyProvider } from './types.js';

export interface SealedSecret {
  readonly v: 1;
  /** What the box holds; bound into the AAD, so one kind of box cannot stand in for another. */
  readonly kind: string;
  readonly provider: string;
  readonly keyId: string;
  /** The wrapped data key (base64). */
  readonly wrappedKey: string;
  /** iv | tag | ciphertext (base64). */
  readonly sealed: string;
}

function aad(kind: string, context: EncryptionContext): Buffer {
  return canonicalContext({ ...context, kind });
}

/** Seals `plaintext` (the caller still owns and zero-fills it) under a new data key from `provider`. */
export async function sealSecret(provider: KeyProvider, kind: string, plaintext: Buffer, context: EncryptionContext): Promise<SealedSecret> {
  const { plaintext: dataKey, wrapped } = await provider.generateDataKey({ ...context, kind });
  try {
    const sealed = packSealed(seal(dataKey, plaintext, aad(kind, context))).toString('base64');
    return { v: 1, kind, provider: wrapped.provider, keyId: wrapped.keyId, wrappedKey: wrapped.ciphertext, sealed };
  } finally {
    dataKey.fill(0);
  }
}

/** Parses a box read from storage; anything malformed is KG4004 (never echoes the content). */
export function parseSealedSecret(text: string, kind: string): SealedSecret {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    throw new GuardError('KG4004', `sealed ${kind} is not valid JSON`);
  }
  const b = o as Partial<SealedSecret> | null;
  const strings = [b?.provider, b?.keyId, b?.wrappedKey, b?.sealed];
  if (b?.v !== 1 || b.kind !== kind || strings.some((s) => typeof s !== 'string' || s.length === 0))
    throw new GuardError('KG4004', `sealed ${kind} is malformed or of another kind`);
  return b as SealedSecret;
}

/**
 * Unwraps through the provider the box names and opens it. The result is a
 * fresh Buffer the caller zero-fills. KG4001 when the provider is unavailable,
 * KG4004 when the box does not match its context or was altered.
 */
export async function openSecret(providerFor: (name: string) => KeyProvider, box: SealedSecret, context: EncryptionContext): Promise<Buffer> {
  const provider = providerFor(box.provider);
  const dataKey = await provider.unwrap({ provider: box.provider, keyId: box.keyId, ciphertext: box.wrappedKey }, { ...context, kind: box.kind });
  try {
    return open(dataKey, unpackSealed(Buffer.from(box.sealed, 'base64')), aad(box.kind, context));
  } catch (err) {
    if (isGuardError(err)) throw err;
    throw new GuardError('KG4004', `sealed ${box.kind} does not match its context`);
  } finally {
    dataKey.fill(0);
  }
}
