// Local keyring: master keys in files beside the data (one machine, tests).
// Version 1 lives at `masterKeyFile`; later versions at `<masterKeyFile>.v<N>`.
// The highest version wraps new data keys; every present version unwraps, so
// `keys rewrap --to local --new-master-key` can migrate records one by one.
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { GuardError } from '../common/errors.js';
import { KEY_BYTES, open, packSealed, seal, unpackSealed } from './aead.js';
import { canonicalContext } from './context.js';
import { createFileExclusive, ensurePrivateDir, readPrivateFile } from './files.js';
import type { EncryptionContext, KeyProvider, WrappedKey } from './types.js';

export const LOCAL_PROVIDER_ID = 'local';
const BLOB_FORMAT = 1;

export interface LocalProviderOptions {
  /** Default `<dataDir>/master.key`. */
  masterKeyFile: string;
  /** Create version 1 when no master key exists yet (first run). Default true. */
  createIfMissing?: boolean;
  /**
   * Told about each master key version that is all zero bytes: what createFileExclusive wrote
   * before its fix (the key file's temporary name was zero-filled after linking). Such a key
   * protects nothing; it stays readable so records can be rewrapped off it.
   */
  onZeroKey?: (version: number) => void;
}

function versionFile(masterKeyFile: string, version: number): string {
  return version === 1 ? masterKeyFile : `${masterKeyFile}.v${version}`;
}

async function presentVersions(masterKeyFile: string): Promise<number[]> {
  const dir = path.dirname(masterKeyFile);
  const base = path.basename(masterKeyFile);
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  const versions: number[] = [];
  for (const name of names) {
    if (name === base) versions.push(1);
    else if (name.startsWith(`${base}.v`)) {
      const n = Number(name.slice(base.length + 2));
      if (Number.isInteger(n) && n > 1) versions.push(n);
    }
  }
  return versions.sort((a, b) => a - b);
}

async function loadMasterKey(file: string, version: number): Promise<Buffer> {
  const key = await readPrivateFile(file, `master key v${version}`, 1024);
  if (key.length !== KEY_BYTES) {
    key.fill(0);
    throw new GuardError('KG4005', `master key v${version} must be exactly ${KEY_BYTES} bytes`);
  }
  return key;
}

/** Creates the next master key version (32 random bytes, 0600) and returns its number. */
export async function addLocalMasterKeyVersion(masterKeyFile: string): Promise<number> {
  await ensurePrivateDir(path.dirname(masterKeyFile));
  for (;;) {
    const versions = await presentVersions(masterKeyFile);
    const next = (versions.at(-1) ?? 0) + 1;
    const key = randomBytes(KEY_BYTES);
    try {
      if (await createFileExclusive(versionFile(masterKeyFile, next), key)) return next;
    } finally {
      key.fill(0);
    }
  }
}

function parseKeyId(keyId: string): number | undefined {
  const m = /^local:v([1-9][0-9]{0,5})$/.exec(keyId);
  return m ? Number(m[1]) : undefined;
}

function aadFor(keyId: string, context: EncryptionContext): Buffer {
  return Buffer.concat([Buffer.from(keyId, 'utf8'), Buffer.from([0]), canonicalContext(context)]);
}

export async function createLocalKeyProvider(opts: LocalProviderOptions): Promise<KeyProvider> {
  const { masterKeyFile } = opts;
  await ensurePrivateDir(path.dirname(masterKeyFile));
  if ((await presentVersions(masterKeyFile)).length === 0) {
    if (opts.createIfMissing === false) throw new GuardError('KG4001', 'no local master key');
    await addLocalMasterKeyVersion(masterKeyFile);
  }
  const keys = new Map<number, Buffer>();
  let current = 0;
  let closed = false;
  let refreshing: Promise<void> | undefined;

  /**
   * Loads the versions present on disk that are not loaded yet: another process (the CLI's
   * `rewrap --new-master-key`) may add one while this keyring runs. The highest becomes current.
   */
  async function loadNewVersions(): Promise<void> {
    for (const v of await presentVersions(masterKeyFile)) {
      if (keys.has(v)) continue;
      const key = await loadMasterKey(versionFile(masterKeyFile, v), v);
      if (closed) {
        key.fill(0);
        return;
      }
      keys.set(v, key);
      if (v > current) current = v;
      if (key.every((b) => b === 0)) opts.onZeroKey?.(v);
    }
  }

  function refresh(): Promise<void> {
    refreshing ??= loadNewVersions().finally(() => {
      refreshing = undefined;
    });
    return refreshing;
  }

  try {
    await refresh();
  } catch (err) {
    for (const k of keys.values()) k.fill(0);
    throw err;
  }

  function keyFor(keyId: string): Buffer {
    if (closed) throw new GuardError('KG4001', 'local keyring closed');
    const version = parseKeyId(keyId);
    const key = version === undefined ? undefined : keys.get(version);
    if (!key) throw new GuardError('KG4001', 'master key version not present');
    return key;
  }

  /** The key for keyId, looking on disk once for a version added since start. */
  async function loadedKeyFor(keyId: string): Promise<Buffer> {
    if (closed) throw new GuardError('KG4001', 'local keyring closed');
    const version = parseKeyId(keyId);
    if (version !== undefined && !keys.has(version)) await refresh();
    return keyFor(keyId);
  }

  return {
    id: LOCAL_PROVIDER_ID,
    async generateDataKey(context) {
      if (closed) throw new GuardError('KG4001', 'local keyring closed');
      await refresh();
      const currentKeyId = `local:v${current}`;
      const master = keyFor(currentKeyId);
      const plaintext = randomBytes(KEY_BYTES);
      const sealed = seal(master, plaintext, aadFor(currentKeyId, context));
      const blob = Buffer.concat([Buffer.from([BLOB_FORMAT]), packSealed(sealed)]);
      const wrapped: WrappedKey = { provider: LOCAL_PROVIDER_ID, keyId: currentKeyId, ciphertext: blob.toString('base64') };
      return { plaintext, wrapped };
    },
    async unwrap(wrapped, context) {
      if (wrapped.provider !== LOCAL_PROVIDER_ID) throw new GuardError('KG4004', 'wrapped by another provider');
      const master = await loadedKeyFor(wrapped.keyId);
      const blob = Buffer.from(wrapped.ciphertext, 'base64');
      if (blob[0] !== BLOB_FORMAT) throw new GuardError('KG4004', 'unknown wrapped key format');
      try {
        const plaintext = open(master, unpackSealed(blob.subarray(1)), aadFor(wrapped.keyId, context));
        if (plaintext.length !== KEY_BYTES) {
          plaintext.fill(0);
          throw new Error('bad data key length');
        }
        return plaintext;
      } catch {
        throw new GuardError('KG4004', 'data key does not match its context');
      }
    },
    async health() {
      if (closed) throw new GuardError('KG4001', 'local keyring closed');
      // Picks up a newer version for describe(); a bad new key file fails the writes that need it, not readiness.
      await refresh().catch(() => undefined);
    },
    describe() {
      return { provider: LOCAL_PROVIDER_ID, keyId: `local:v${current}`, versions: [...keys.keys()].join(','), masterKeyFile };
    },
    async close() {
      closed = true;
      for (const k of keys.values()) k.fill(0);
      keys.clear();
    },
  };
}
