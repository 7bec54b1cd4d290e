// PKCS#11 (HSM) key provider through pkcs11js. Data keys are wrapped with
// AES-256-GCM *inside the token* under an AES key that is sensitive and not
// extractable, so the master key never exists in this process. The record's
// encryption context is bound as GCM AAD.
import { randomBytes } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import type { Logger } from 'pino';
import { GuardError } from '../common/errors.js';
import type { Pkcs11Config } from './config.js';
import { canonicalContext } from './context.js';
import { readPrivateFile } from './files.js';
import type { EncryptionContext, KeyProvider } from './types.js';

export const PKCS11_PROVIDER_ID = 'pkcs11';
const BLOB_FORMAT = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const DATA_KEY_BYTES = 32;

type Lib = InstanceType<typeof pkcs11js.PKCS11>;

/**
 * A PKCS#11 module may be initialised once per process, however many
 * providers use it (tests open several). Count users per module path so the
 * last one to close finalises it. This is the one module-level state here,
 * and it mirrors the library's own process-wide state.
 */
const loadedModules = new Map<string, { lib: Lib; users: number }>();

function acquireModule(modulePath: string): Lib {
  const loaded = loadedModules.get(modulePath);
  if (loaded) {
    loaded.users++;
    return loaded.lib;
  }
  const lib = new pkcs11js.PKCS11();
  try {
    lib.load(modulePath);
  } catch {
    throw new GuardError('KG4005', 'cannot load the PKCS#11 module');
  }
  try {
    lib.C_Initialize();
  } catch (err) {
    if ((err as { code?: number }).code !== pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
      lib.close();
      throw new GuardError('KG4001', `PKCS#11 initialise failed (${p11Name(err)})`);
    }
  }
  loadedModules.set(modulePath, { lib, users: 1 });
  return lib;
}

function releaseModule(modulePath: string): void {
  const loaded = loadedModules.get(modulePath);
  if (!loaded || --loaded.users > 0) return;
  loadedModules.delete(modulePath);
  try {
    loaded.lib.C_Finalize();
  } catch {
    // already finalised
  }
  loaded.lib.close();
}

function p11Name(err: unknown): string {
  const m = /^CKR_[A-Z0-9_]+/.exec(String((err as Error)?.message ?? ''));
  return m ? m[0] : 'error';
}

/** Errors that mean "the token/session is gone" rather than "these bytes are wrong". */
function isUnavailable(err: unknown): boolean {
  return /^CKR_(SESSION_|DEVICE_|TOKEN_|USER_NOT_LOGGED_IN|CRYPTOKI_NOT_INITIALIZED|PIN_|SLOT_ID_INVALID)/.test(p11Name(err));
}

function handleToNumber(handle: Buffer): bigint {
  let n = 0n;
  for (let i = handle.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(handle[i]!);
  return n;
}

/** Reads the PIN file (0600 or tighter). pkcs11js takes the PIN as a JS string; that residual is documented in SECURITY.md. */
async function readPin(pinFile: string): Promise<Buffer> {
  const raw = await readPrivateFile(pinFile, 'PKCS#11 PIN file', 256).catch((err: unknown) => {
    if (err instanceof GuardError) throw err;
    throw new GuardError('KG4005', `cannot read the PKCS#11 PIN file (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  });
  let end = raw.length;
  while (end > 0 && (raw[end - 1] === 0x0a || raw[end - 1] === 0x0d)) end--;
  const pin = Buffer.from(raw.subarray(0, end));
  raw.fill(0);
  if (pin.length === 0) throw new GuardError('KG4005', 'the PKCS#11 PIN file is empty');
  return pin;
}

interface TokenSession {
  lib: Lib;
  session: Buffer;
  close(): void;
}

function findSlot(lib: Lib, cfg: Pick<Pkcs11Config, 'slot' | 'tokenLabel'>): Buffer {
  const slots = lib.C_GetSlotList(true);
  for (const slot of slots) {
    if (cfg.slot !== undefined && handleToNumber(slot) === BigInt(cfg.slot)) return slot;
    if (cfg.tokenLabel !== undefined && lib.C_GetTokenInfo(slot).label.trim() === cfg.tokenLabel) return slot;
  }
  throw new GuardError('KG4001', 'PKCS#11 token not found');
}

async function openSession(lib: Lib, cfg: Pick<Pkcs11Config, 'slot' | 'tokenLabel' | 'pinFile'>, readWrite: boolean): Promise<TokenSession> {
  // The PIN first: a session opened before a PIN file that cannot be read would be left open.
  const pin = await readPin(cfg.pinFile);
  let session: Buffer;
  try {
    const slot = findSlot(lib, cfg);
    const flags = pkcs11js.CKF_SERIAL_SESSION | (readWrite ? pkcs11js.CKF_RW_SESSION : 0);
    session = lib.C_OpenSession(slot, flags);
  } catch (err) {
    pin.fill(0);
    throw err;
  }
  try {
    lib.C_Login(session, pkcs11js.CKU_USER, pin.toString('utf8'));
  } catch (err) {
    if (p11Name(err) !== 'CKR_USER_ALREADY_LOGGED_IN') {
      lib.C_CloseSession(session);
      throw new GuardError('KG4001', `PKCS#11 login failed (${p11Name(err)})`);
    }
  } finally {
    pin.fill(0);
  }
  return {
    lib,
    session,
    close() {
      try {
        lib.C_CloseSession(session);
      } catch {
        // session already gone
      }
    },
  };
}

function findKeys(lib: Lib, session: Buffer, keyLabel: string): Buffer[] {
  lib.C_FindObjectsInit(session, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
    { type: pkcs11js.CKA_LABEL, value: keyLabel },
  ]);
  try {
    return lib.C_FindObjects(session, 2);
  } finally {
    lib.C_FindObjectsFinal(session);
  }
}

function checkKeyAttributes(lib: Lib, session: Buffer, key: Buffer): void {
  const attrs = lib.C_GetAttributeValue(session, key, [
    { type: pkcs11js.CKA_KEY_TYPE },
    { type: pkcs11js.CKA_SENSITIVE },
    { type: pkcs11js.CKA_EXTRACTABLE },
    { type: pkcs11js.CKA_ENCRYPT },
    { type: pkcs11js.CKA_DECRYPT },
    { type: pkcs11js.CKA_VALUE_LEN },
  ]);
  const v = (t: number): Buffer => (attrs.find((a) => a.type === t)?.value as Buffer | undefined) ?? Buffer.alloc(0);
  const bool = (t: number): boolean => v(t)[0] === 1;
  if (handleToNumber(v(pkcs11js.CKA_KEY_TYPE)) !== BigInt(pkcs11js.CKK_AES)) throw new GuardError('KG4005', 'PKCS#11 key is not an AES key');
  if (handleToNumber(v(pkcs11js.CKA_VALUE_LEN)) !== 32n) throw new GuardError('KG4005', 'PKCS#11 key must be AES-256');
  // Refuse a master key that could ever leave the token.
  if (!bool(pkcs11js.CKA_SENSITIVE) || bool(pkcs11js.CKA_EXTRACTABLE)) throw new GuardError('KG4005', 'PKCS#11 key must be sensitive and non-extractable');
  if (!bool(pkcs11js.CKA_ENCRYPT) || !bool(pkcs11js.CKA_DECRYPT)) throw new GuardError('KG4005', 'PKCS#11 key must allow encrypt and decrypt');
}

/**
 * Generates the AES-256 wrapping key inside the token (CKA_TOKEN, sensitive,
 * non-extractable). For provisioning and tests; refuses if the label exists.
 */
export async function createPkcs11WrappingKey(cfg: Pick<Pkcs11Config, 'module' | 'slot' | 'tokenLabel' | 'pinFile' | 'keyLabel'>): Promise<void> {
  const lib = acquireModule(cfg.module);
  try {
    const s = await openSession(lib, cfg, true);
    try {
      if (findKeys(lib, s.session, cfg.keyLabel).length > 0) throw new GuardError('KG4005', 'a PKCS#11 key with this label already exists');
      lib.C_GenerateKey(s.session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_AES },
        { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_PRIVATE, value: true },
        { type: pkcs11js.CKA_LABEL, value: cfg.keyLabel },
        { type: pkcs11js.CKA_SENSITIVE, value: true },
        { type: pkcs11js.CKA_EXTRACTABLE, value: false },
        { type: pkcs11js.CKA_ENCRYPT, value: true },
        { type: pkcs11js.CKA_DECRYPT, value: true },
      ]);
    } finally {
      s.close();
    }
  } finally {
    releaseModule(cfg.module);
  }
}

export interface Pkcs11ProviderOptions extends Pkcs11Config {
  logger: Logger;
}

export async function createPkcs11KeyProvider(opts: Pkcs11ProviderOptions): Promise<KeyProvider> {
  const lib = acquireModule(opts.module);
  const keyId = `pkcs11:${opts.keyLabel}`;
  let current: { s: TokenSession; key: Buffer } | undefined;
  let closed = false;

  async function connect(): Promise<{ s: TokenSession; key: Buffer }> {
    const s = await openSession(lib, opts, false);
    try {
      const keys = findKeys(lib, s.session, opts.keyLabel);
      if (keys.length !== 1) throw new GuardError('KG4005', keys.length === 0 ? 'PKCS#11 key not found' : 'PKCS#11 key label is not unique');
      checkKeyAttributes(lib, s.session, keys[0]!);
      return { s, key: keys[0]! };
    } catch (err) {
      s.close();
      throw err;
    }
  }

  let connecting: Promise<{ s: TokenSession; key: Buffer }> | undefined;

  /** The one session; calls that find none wait for a single connect (each open session is held by the token). */
  async function session(): Promise<{ s: TokenSession; key: Buffer }> {
    if (closed) throw new GuardError('KG4001', 'pkcs11 provider closed');
    if (current) return current;
    connecting ??= connect().then(
      (c) => {
        connecting = undefined;
        if (closed) {
          c.s.close();
          throw new GuardError('KG4001', 'pkcs11 provider closed');
        }
        current = c;
        return c;
      },
      (err: unknown) => {
        connecting = undefined;
        throw err;
      },
    );
    return connecting;
  }

  /** Drops the session a call found dead, not a fresh one another call has opened since. */
  function dropSession(dead?: { s: TokenSession; key: Buffer }): void {
    if (dead !== undefined && current !== dead) return;
    current?.s.close();
    current = undefined;
  }

  function gcm(iv: Buffer, aad: Buffer): pkcs11js.Mechanism {
    const parameter: pkcs11js.AesGCM = { type: pkcs11js.CK_PARAMS_AES_GCM, iv, aad, ivBits: IV_BYTES * 8, tagBits: TAG_BYTES * 8 };
    return { mechanism: pkcs11js.CKM_AES_GCM, parameter };
  }

  function aadFor(context: EncryptionContext): Buffer {
    return Buffer.concat([Buffer.from(keyId, 'utf8'), Buffer.from([0]), canonicalContext(context)]);
  }

  /** One retry with a fresh session when the token dropped it (HSM restart, network HSM failover). */
  async function withSession<T>(op: (s: { s: TokenSession; key: Buffer }) => T): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const s = await session();
      try {
        return op(s);
      } catch (err) {
        if (err instanceof GuardError) throw err;
        if (isUnavailable(err) && attempt === 0) {
          dropSession(s);
          continue;
        }
        throw err;
      }
    }
  }

  try {
    await session();
  } catch (err) {
    releaseModule(opts.module);
    throw err instanceof GuardError ? err : new GuardError('KG4001', `PKCS#11 open failed (${p11Name(err)})`);
  }

  return {
    id: PKCS11_PROVIDER_ID,
    async generateDataKey(context) {
      const plaintext = randomBytes(DATA_KEY_BYTES);
      const iv = randomBytes(IV_BYTES);
      try {
        const sealed = await withSession(({ s, key }) => {
          lib.C_EncryptInit(s.session, gcm(iv, aadFor(context)), key);
          return Buffer.from(lib.C_Encrypt(s.session, plaintext, Buffer.alloc(DATA_KEY_BYTES + TAG_BYTES)));
        });
        const blob = Buffer.concat([Buffer.from([BLOB_FORMAT]), iv, sealed]);
        return { plaintext, wrapped: { provider: PKCS11_PROVIDER_ID, keyId, ciphertext: blob.toString('base64') } };
      } catch (err) {
        plaintext.fill(0);
        if (err instanceof GuardError) throw err;
        throw new GuardError('KG4001', `PKCS#11 wrap failed (${p11Name(err)})`);
      }
    },
    async unwrap(wrapped, context) {
      if (wrapped.provider !== PKCS11_PROVIDER_ID) throw new GuardError('KG4004', 'wrapped by another provider');
      if (wrapped.keyId !== keyId) throw new GuardError('KG4001', 'record is wrapped under another PKCS#11 key');
      const blob = Buffer.from(wrapped.ciphertext, 'base64');
      if (blob.length !== 1 + IV_BYTES + DATA_KEY_BYTES + TAG_BYTES || blob[0] !== BLOB_FORMAT) throw new GuardError('KG4004', 'unknown wrapped key format');
      const out = Buffer.alloc(DATA_KEY_BYTES + TAG_BYTES);
      try {
        const plain = await withSession(({ s, key }) => {
          lib.C_DecryptInit(s.session, gcm(blob.subarray(1, 1 + IV_BYTES), aadFor(context)), key);
          return lib.C_Decrypt(s.session, blob.subarray(1 + IV_BYTES), out);
        });
        if (plain.length !== DATA_KEY_BYTES) throw new GuardError('KG4004', 'bad data key length');
        return Buffer.from(plain);
      } catch (err) {
        if (err instanceof GuardError) throw err;
        // SoftHSM reports a GCM tag mismatch as CKR_GENERAL_ERROR; anything not session-related is "these bytes are wrong".
        throw isUnavailable(err)
          ? new GuardError('KG4001', `PKCS#11 unwrap failed (${p11Name(err)})`)
          : new GuardError('KG4004', 'data key does not match its context');
      } finally {
        out.fill(0);
      }
    },
    async health() {
      try {
        await withSession(({ s }) => lib.C_GetSessionInfo(s.session));
      } catch (err) {
        if (err instanceof GuardError) throw err;
        throw new GuardError('KG4001', `PKCS#11 session unavailable (${p11Name(err)})`);
      }
    },
    describe() {
      return { provider: PKCS11_PROVIDER_ID, keyId, module: opts.module, ...(opts.tokenLabel ? { tokenLabel: opts.tokenLabel } : { slot: opts.slot ?? -1 }) };
    },
    async close() {
      if (closed) return;
      closed = true;
      // No C_Logout: login is per process and token; it ends when the last session closes.
      dropSession();
      releaseModule(opts.module);
    },
  };
}
