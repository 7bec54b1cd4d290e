// Sealing and opening one credential record: a fresh data key from the
// primary provider seals both keys under the record's encryption context, and
// opening unwraps through whichever provider wrapped it. Kept apart from the
// vault's file and lock handling so the crypto path is small enough to review
// on its own. Every data key is zero-filled before these functions return.
import type { Histogram } from 'prom-client';
import { GuardError, isGuardError } from '../common/errors.js';
import { open, seal } from './aead.js';
import { canonicalContext, credentialContext } from './context.js';
import { decodeSealed, encodeSealed, RECORD_FORMAT, type CredentialRecord } from './records.js';
import type { EncryptionContext, KeyProvider, KiwoomCredentials } from './types.js';

const FIELD_APP_KEY = 'appKey';
const FIELD_SECRET_KEY = 'secretKey';

/** The record's fields without its key material: what a writer decides before sealing. */
export type RecordBase = Omit<CredentialRecord, 'provider' | 'keyId' | 'wrappedKey' | 'appKey' | 'secretKey'>;

/** The clear part of a first record for a bot (key version 1, enabled); `now` is an ISO time. */
export function newRecordBase(botId: string, account: string, appKeyFingerprint: string, now: string): RecordBase {
  return { format: RECORD_FORMAT, botId, account, keyVersion: 1, createdAt: now, updatedAt: now, enabled: true, appKeyFingerprint };
}

export interface RecordSealer {
  /** Seals the credentials under a new data key from the primary provider. */
  sealNewRecord(base: RecordBase, creds: KiwoomCredentials): Promise<CredentialRecord>;
  /** Unwraps and decrypts a record into fresh Buffers (the caller zero-fills them). */
  decryptRecord(record: CredentialRecord): Promise<KiwoomCredentials>;
}

export interface RecordSealerDeps {
  readonly primary: KeyProvider;
  /** The provider named by a record; throws KG4001 when it is not configured. */
  readonly providerFor: (name: string) => KeyProvider;
  readonly unwrapSeconds: Histogram<'provider'>;
}

// Each field is bound to its own name as well as the record, so the two ciphertexts cannot be swapped.
function fieldAad(context: EncryptionContext, field: string): Buffer {
  return canonicalContext({ ...context, field });
}

export function createRecordSealer({ primary, providerFor, unwrapSeconds }: RecordSealerDeps): RecordSealer {
  async function sealNewRecord(base: RecordBase, creds: KiwoomCredentials): Promise<CredentialRecord> {
    const context = credentialContext(base);
    let dataKey: Buffer | undefined;
    try {
      const generated = await primary.generateDataKey(context);
      dataKey = generated.plaintext;
      return {
        ...base,
        provider: generated.wrapped.provider,
        keyId: generated.wrapped.keyId,
        wrappedKey: generated.wrapped.ciphertext,
        appKey: encodeSealed(seal(dataKey, creds.appKey, fieldAad(context, FIELD_APP_KEY))),
        secretKey: encodeSealed(seal(dataKey, creds.secretKey, fieldAad(context, FIELD_SECRET_KEY))),
      };
    } finally {
      dataKey?.fill(0);
    }
  }

  /** Unwraps and decrypts a record into fresh Buffers. The data key is zero-filled before returning. */
  async function decryptRecord(record: CredentialRecord): Promise<KiwoomCredentials> {
    const provider = providerFor(record.provider);
    const context = credentialContext(record);
    const started = process.hrtime.bigint();
    let dataKey: Buffer;
    try {
      dataKey = await provider.unwrap({ provider: record.provider, keyId: record.keyId, ciphertext: record.wrappedKey }, context);
    } finally {
      unwrapSeconds.observe({ provider: provider.id }, Number(process.hrtime.bigint() - started) / 1e9);
    }
    let appKey: Buffer | undefined;
    try {
      appKey = open(dataKey, decodeSealed(record.appKey), fieldAad(context, FIELD_APP_KEY));
      const secretKey = open(dataKey, decodeSealed(record.secretKey), fieldAad(context, FIELD_SECRET_KEY));
      return { appKey, secretKey };
    } catch (err) {
      appKey?.fill(0);
      if (isGuardError(err)) throw err;
      throw new GuardError('KG4004', 'ciphertext does not match its record');
    } finally {
      dataKey.fill(0);
    }
  }

  return { sealNewRecord, decryptRecord };
}
