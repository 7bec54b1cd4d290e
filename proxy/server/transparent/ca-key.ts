// Where the transparent CA's private key is kept: `file` (ca.key, PKCS#8 PEM,
// mode 0600 checked on every load) or `key-provider` (ca.key.sealed: the
// PKCS#8 DER envelope-encrypted by the vault's key provider, bound to the CA
// certificate's fingerprint, so a sealed key cannot be paired with another
// certificate). Key bytes live in Buffers and are zero-filled as soon as a
// KeyObject holds them; neither form is ever logged or echoed in an error.
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { lstat, readFile, stat, unlink } from 'node:fs/promises';
import type { CaKeyStore } from '../../common/config-transparent.js';
import { GuardError } from '../../common/errors.js';
import { writeFileAtomic } from '../../common/fsutil.js';
import { readPrivateKey } from '../../common/tls-server.js';
import { overwriteAndUnlink } from '../../vault/files.js';
import { openSecret, parseSealedSecret, sealSecret } from '../../vault/secret-box.js';
import type { EncryptionContext, KeyProvider } from '../../vault/types.js';

export type { CaKeyStore } from '../../common/config-transparent.js';

/** The box kind, bound into the AAD. */
export const CA_KEY_KIND = 'transparent-ca-key';
const MAX_SEALED_BYTES = 64 * 1024;

export interface CaKeyFiles {
  /** `file`: the CA private key (PKCS#8 PEM, mode 0600). */
  readonly keyFile: string;
  /** `key-provider`: the sealed CA private key (JSON, ciphertext only). */
  readonly sealedKeyFile: string;
}

export interface CaKeyStorage {
  readonly store: CaKeyStore;
  /** Required for `key-provider`: the vault's primary provider (it also unwraps). */
  readonly provider?: KeyProvider;
}

function caKeyContext(certFingerprint256: string): EncryptionContext {
  return { purpose: CA_KEY_KIND, ca: certFingerprint256 };
}

function needProvider(s: CaKeyStorage): KeyProvider {
  if (!s.provider) throw new GuardError('KG9003', 'transparent.caKeyStore is key-provider but no key provider was given');
  return s.provider;
}

/** Whether a file is there, without reading it (a key's bytes are read only to be used). */
async function present(file: string): Promise<boolean> {
  return lstat(file).then(
    () => true,
    (err: NodeJS.ErrnoException) => err.code !== 'ENOENT',
  );
}

/** True when either form of the key exists. */
export async function caKeyPresent(files: CaKeyFiles): Promise<boolean> {
  return (await present(files.keyFile)) || (await present(files.sealedKeyFile));
}

/** Writes the key in the chosen form and removes the other form (a replaced plaintext key is overwritten first). */
export async function writeCaKey(files: CaKeyFiles, key: KeyObject, certFingerprint256: string, s: CaKeyStorage): Promise<void> {
  if (s.store === 'key-provider') {
    const provider = needProvider(s);
    const der = key.export({ type: 'pkcs8', format: 'der' });
    try {
      const box = await sealSecret(provider, CA_KEY_KIND, der, caKeyContext(certFingerprint256));
      await writeFileAtomic(files.sealedKeyFile, `${JSON.stringify(box, null, 2)}\n`, 0o600);
    } finally {
      der.fill(0);
    }
    if (await present(files.keyFile)) await overwriteAndUnlink(files.keyFile);
    return;
  }
  const pem = Buffer.from(key.export({ type: 'pkcs8', format: 'pem' }));
  try {
    await writeFileAtomic(files.keyFile, pem, 0o600);
  } finally {
    pem.fill(0);
  }
  await unlink(files.sealedKeyFile).catch(() => undefined);
}

/**
 * Reads the key in the configured form. Fails closed: with `key-provider` a
 * plaintext ca.key beside it is refused (remove it), and with `file` a
 * sealed-only CA says which setting it needs.
 */
export async function readCaKey(files: CaKeyFiles, certFingerprint256: string, s: CaKeyStorage): Promise<KeyObject> {
  if (s.store === 'key-provider') {
    const provider = needProvider(s);
    if (await present(files.keyFile))
      throw new GuardError('KG9003', `${files.keyFile}: a plaintext CA key is present while transparent.caKeyStore is key-provider; remove it`);
    if ((await stat(files.sealedKeyFile)).size > MAX_SEALED_BYTES) throw new GuardError('KG4004', `${files.sealedKeyFile} is too large to be a sealed CA key`);
    const box = parseSealedSecret(await readFile(files.sealedKeyFile, 'utf8'), CA_KEY_KIND);
    const providerFor = (name: string): KeyProvider => {
      if (name !== provider.id) throw new GuardError('KG4001', `the CA key is sealed by key provider ${name}, not the configured ${provider.id}`);
      return provider;
    };
    const der = await openSecret(providerFor, box, caKeyContext(certFingerprint256));
    try {
      return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    } finally {
      der.fill(0);
    }
  }
  if (!(await present(files.keyFile)) && (await present(files.sealedKeyFile)))
    throw new GuardError('KG9003', `the CA key in ${files.sealedKeyFile} is sealed by the key provider; set transparent.caKeyStore: key-provider`);
  const pem = await readPrivateKey(files.keyFile);
  try {
    return createPrivateKey(pem);
  } finally {
    pem.fill(0);
  }
}
