// Audit key material: an Ed25519 signing key for checkpoints and an HMAC key
// for sensitive fields and token fingerprints. Both are files created 0600 on
// first run; a file readable by group or others is refused (fail closed).
import { createHmac, createPrivateKey, createPublicKey, createSecretKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { chmod, mkdir, open, readFile, stat, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { GuardError } from '../common/errors.js';
import { readPrivateFile } from '../common/fsutil.js';
import { sha256Hex } from './canonical.js';

const HMAC_KEY_BYTES = 32;
export const HMAC_PREFIX = 'hmac:';
const HMAC_VALUE = /^hmac:[0-9a-f]{64}$/;

export interface SigningKeys {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** First 16 hex of SHA-256 over the SPKI DER: names the key in checkpoints. */
  readonly keyId: string;
  /** The `.pub` beside the signing key, when it holds this public key (already there, or written now). */
  readonly publicKeyFile?: string;
  /** Why there is no current `.pub` beside the key (a read-only place such as a Kubernetes Secret mount); stale: an older key's copy is there. */
  readonly publicKeyFileProblem?: { readonly code: string; readonly stale: boolean };
}

export function publicKeyId(publicKey: KeyObject): string {
  return sha256Hex(publicKey.export({ type: 'spki', format: 'der' })).slice(0, 16);
}

export function publicKeyPem(publicKey: KeyObject): string {
  return publicKey.export({ type: 'spki', format: 'pem' }).toString();
}

/** The name `kguard audit verify` looks for beside (or above) a log directory. */
export const PUBLIC_KEY_FILE = 'audit-signing.pub';

/** Where the public half of a signing key file lives. */
export function publicKeyFileFor(signingKeyFile: string): string {
  return `${signingKeyFile.replace(/\.key$/, '')}.pub`;
}

export async function assertPrivateFile(file: string): Promise<void> {
  const st = await stat(file);
  if (!st.isFile()) throw new GuardError('KG6003', `${path.basename(file)} is not a regular file`);
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
    throw new GuardError('KG6003', `${path.basename(file)} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
  }
}

/** Longest audit key file read (a PEM Ed25519 key is about 120 bytes; the HMAC key 32). */
const MAX_KEY_FILE_BYTES = 16 * 1024;

/**
 * A private key file's bytes (the caller wipes them), read by the one secret-file reader (common/fsutil: the opened
 * descriptor judged, no symlink followed, 0600 or tighter, ours); refused as the audit's own KG6003.
 */
async function readPrivateKeyFile(file: string): Promise<Buffer> {
  try {
    return await readPrivateFile(file, path.basename(file), MAX_KEY_FILE_BYTES);
  } catch (err) {
    if (err instanceof GuardError && err.code.startsWith('KG4'))
      throw new GuardError('KG6003', `${err.detail}${/ has mode /.test(err.detail ?? '') ? ' (chmod 600 it)' : ''}`);
    throw err;
  }
}

/** Creates `file` with `content` exclusively (never overwrites); returns false if it already exists. */
export async function createExclusive(file: string, content: Buffer | string, mode: number): Promise<boolean> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  let fh: FileHandle;
  try {
    fh = await open(file, 'wx', mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    await fh.writeFile(content);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await chmod(file, mode);
  return true;
}

/** Errors that mean "this place cannot be written", not "this key is unusable". */
const READ_ONLY_CODES = new Set(['EROFS', 'EACCES', 'EPERM']);

/**
 * Keeps `pubFile` holding `pem` so operators can hand it to auditors. The
 * public key itself is always derived in memory from the private key; a
 * place that cannot be written (read-only Secret mount) only costs the copy.
 */
async function keepPublicKeyFile(pubFile: string, pem: string): Promise<Pick<SigningKeys, 'publicKeyFile' | 'publicKeyFileProblem'>> {
  const existing = await readFile(pubFile, 'utf8').catch(() => undefined);
  if (existing === pem) return { publicKeyFile: pubFile };
  try {
    await writeFile(pubFile, pem, { mode: 0o644 });
    return { publicKeyFile: pubFile };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'write failed';
    if (!READ_ONLY_CODES.has(code)) throw err;
    return { publicKeyFileProblem: { code, stale: existing !== undefined } };
  }
}

function keyFileError(file: string, err: unknown): GuardError {
  if (err instanceof GuardError) return err;
  const code = (err as NodeJS.ErrnoException).code ?? 'invalid key';
  return new GuardError('KG6003', `${path.basename(file)}: ${code}`, { cause: err });
}

export async function generateSigningKeyFiles(signingKeyFile: string): Promise<boolean> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const pem = Buffer.from(privateKey.export({ type: 'pkcs8', format: 'pem' }));
  try {
    const created = await createExclusive(signingKeyFile, pem, 0o600);
    if (created) await writeFile(publicKeyFileFor(signingKeyFile), publicKeyPem(publicKey), { mode: 0o644 });
    return created;
  } finally {
    pem.fill(0);
  }
}

export async function generateHmacKeyFile(hmacKeyFile: string): Promise<boolean> {
  const key = randomBytes(HMAC_KEY_BYTES);
  try {
    return await createExclusive(hmacKeyFile, key, 0o600);
  } finally {
    key.fill(0);
  }
}

/** `accept` may refuse the key (by throwing) before anything is written beside it. */
export async function loadSigningKeys(signingKeyFile: string, createIfMissing: boolean, accept?: (keyId: string) => void): Promise<SigningKeys> {
  try {
    if (createIfMissing) await generateSigningKeyFiles(signingKeyFile);
    const { privateKey, publicKey, keyId } = await readSigningKey(signingKeyFile);
    accept?.(keyId);
    const copy = await keepPublicKeyFile(publicKeyFileFor(signingKeyFile), publicKeyPem(publicKey));
    return { privateKey, publicKey, keyId, ...copy };
  } catch (err) {
    throw keyFileError(signingKeyFile, err);
  }
}

/** Reads an Ed25519 private key file (0600 only); the PEM bytes are zero-filled once parsed. Writes nothing. */
export async function readSigningKey(file: string): Promise<SigningKeys> {
  try {
    const pem = await readPrivateKeyFile(file);
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey({ key: pem, format: 'pem' });
    } finally {
      pem.fill(0);
    }
    if (privateKey.asymmetricKeyType !== 'ed25519') throw new GuardError('KG6003', `${path.basename(file)} is not an Ed25519 key`);
    const publicKey = createPublicKey(privateKey);
    return { privateKey, publicKey, keyId: publicKeyId(publicKey) };
  } catch (err) {
    throw keyFileError(file, err);
  }
}

export async function loadHmacKey(hmacKeyFile: string, createIfMissing: boolean): Promise<KeyObject> {
  try {
    if (createIfMissing) await generateHmacKeyFile(hmacKeyFile);
    const raw = await readPrivateKeyFile(hmacKeyFile);
    try {
      if (raw.length < HMAC_KEY_BYTES) throw new GuardError('KG6003', `${path.basename(hmacKeyFile)} holds fewer than ${HMAC_KEY_BYTES} bytes`);
      return createSecretKey(raw);
    } finally {
      raw.fill(0);
    }
  } catch (err) {
    throw keyFileError(hmacKeyFile, err);
  }
}

export async function loadPublicKey(file: string): Promise<KeyObject> {
  try {
    const key = createPublicKey({ key: await readFile(file), format: 'pem' });
    if (key.asymmetricKeyType !== 'ed25519') throw new GuardError('KG6003', `${path.basename(file)} is not an Ed25519 public key`);
    return key;
  } catch (err) {
    throw keyFileError(file, err);
  }
}

/**
 * Keyed fingerprint of a secret (e.g. a broker token): `hmac:` + hex
 * HMAC-SHA256. The same function an investigator runs with
 * `kguard audit hash`, so a known value can be searched for.
 */
export function fingerprint(buf: Buffer, key: KeyObject | Buffer): string {
  return HMAC_PREFIX + createHmac('sha256', key).update(buf).digest('hex');
}

export function hmacString(value: string, key: KeyObject | Buffer): string {
  const buf = Buffer.from(value, 'utf8');
  try {
    return fingerprint(buf, key);
  } finally {
    buf.fill(0);
  }
}

export function isKeyedHash(value: unknown): boolean {
  return typeof value === 'string' && HMAC_VALUE.test(value);
}
