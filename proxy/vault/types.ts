// Envelope encryption: each credential record has its own AES-256-GCM data
// key, wrapped by a KeyProvider under an encryption context (like KMS).

/** Bound as AAD / KMS EncryptionContext. Values are plain, non-secret strings. */
import type { CredentialSwitch } from './records.js';

export type EncryptionContext = Readonly<Record<string, string>>;

export interface WrappedKey {
  readonly provider: string; // provider id, e.g. 'local', 'aws-kms', 'pkcs11'
  readonly keyId: string; // master key id / alias / label + version
  readonly ciphertext: string; // base64
}

export interface KeyProvider {
  readonly id: string;
  /** Generates a fresh 32-byte data key and returns it with its wrapped form. Caller zero-fills `plaintext`. */
  generateDataKey(context: EncryptionContext): Promise<{ plaintext: Buffer; wrapped: WrappedKey }>;
  /** Unwraps; throws GuardError KG4001 (unavailable) or KG4004 (context/ciphertext mismatch). Caller zero-fills. */
  unwrap(wrapped: WrappedKey, context: EncryptionContext): Promise<Buffer>;
  /** Throws when the provider cannot serve. */
  health(): Promise<void>;
  describe(): Record<string, string | number | boolean>;
  close(): Promise<void>;
}

/** Decrypted Kiwoom credentials: live only inside Vault.withCredentials and are zero-filled after. */
export interface KiwoomCredentials {
  readonly appKey: Buffer;
  readonly secretKey: Buffer;
}

export interface CredentialMeta {
  readonly botId: string;
  readonly account: string; // Kiwoom account label (not secret, but audited as HMAC)
  readonly keyVersion: number;
  readonly createdAt: string; // ISO time
  readonly provider: string;
  readonly keyId: string;
  readonly enabled: boolean;
  /** Keyed fingerprint of the app key (HMAC), to tell records apart without revealing anything. */
  readonly appKeyFingerprint: string;
}

/** Why a decrypt is happening; a disabled record still allows 'revoke' so lockdown can revoke tokens. */
export const DECRYPT_PURPOSES = ['call', 'revoke', 'lockdown', 'rewrap'] as const;
export type DecryptPurpose = (typeof DECRYPT_PURPOSES)[number];

export interface Vault {
  importCredentials(input: { botId: string; account: string; appKey: Buffer; secretKey: Buffer }): Promise<CredentialMeta>;
  /** Decrypts just in time, runs fn, zero-fills the plaintext whatever happens. */
  /** `requestId`: the bot call this decrypt serves, named in its audit record. */
  /**
   * `appKey`: only if the record holds this app key (its fingerprint, as appKeyOf gives it, with or without the
   * `hmac-sha256:` scheme), checked on the record decrypted: KG4003 (denied) when it holds another one (rotated).
   */
  withCredentials<T>(botId: string, purpose: DecryptPurpose, fn: (creds: KiwoomCredentials) => Promise<T>, requestId?: string, appKey?: string): Promise<T>;
  describe(botId: string): Promise<CredentialMeta | undefined>;
  /**
   * The keyed fingerprint of the app key in the bot's record, without
   * decrypting anything (the broker session is per app key). Refuses like a
   * decrypt would: KG4003 no record, KG4002 disabled for purpose 'call'.
   */
  appKeyOf(botId: string, purpose: DecryptPurpose): Promise<string>;
  list(): Promise<CredentialMeta[]>;
  /**
   * `by` defaults to an operator. A lockdown's enable (its unlock) leaves credentials an operator disabled off and
   * answers false; every other call answers true once the record is as asked.
   */
  setEnabled(botId: string, enabled: boolean, by?: CredentialSwitch): Promise<boolean>;
  health(): Promise<void>;
  close(): Promise<void>;
}

// ---- Additions by the vault part (additive; existing members unchanged) ----

export interface RewrapReport {
  readonly target: { provider: string; keyId: string };
  readonly total: number;
  readonly rewrapped: readonly string[];
  /** Already under the target key (including records done before an interruption). */
  readonly skipped: readonly string[];
  /** True when a journal from an interrupted run was found and resumed. */
  readonly resumed: boolean;
}

/** The vault plus the key-management operations the CLI and admin API need. */
export interface ManagedVault extends Vault {
  /** New Kiwoom keys for an existing bot: new record version; the old ciphertext is destroyed once the new one is committed. */
  rotateCredentials(input: { botId: string; appKey: Buffer; secretKey: Buffer; account?: string }): Promise<CredentialMeta>;
  /** Re-wraps every record not yet under the primary provider's current key; resumable. */
  rewrapAll(opts?: { onRecord?: (botId: string, outcome: 'rewrapped' | 'skipped') => void | Promise<void> }): Promise<RewrapReport>;
  /**
   * Imports many new records at once, all or none (bulk provisioning): KG4006
   * for bad input, KG4008 when a bot already has a record. The caller wipes the keys.
   */
  importMany(inputs: readonly { botId: string; account: string; appKey: Buffer; secretKey: Buffer }[]): Promise<CredentialMeta[]>;
  /** The bots that have a credential record (file names only: nothing is read or decrypted). */
  recordIds(): Promise<string[]>;
  /**
   * The bots whose credential record holds this app key (keyed fingerprint, with or without its scheme), each
   * checked against its record; from an index (key-index.ts), so it costs the key's bots, not every record.
   */
  holdersOf(fingerprint: string): Promise<string[]>;
  /** Verifies the app-key index against every record (once per process; holdersOf waits for it). */
  verifyKeyIndex(): Promise<void>;
  /** Deletes a bot's record, zero-filling the file first. */
  destroyCredentials(botId: string): Promise<boolean>;
  readonly provider: KeyProvider;
}
