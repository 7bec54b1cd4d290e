// The on-disk credential record: one JSON file per bot. It holds only
// ciphertext, the wrapped data key and non-secret metadata; the app key's
// fingerprint is an HMAC under a separate key, never a plain hash.
import { GuardError } from '../common/errors.js';
import type { Sealed } from './aead.js';
import type { CredentialMeta } from './types.js';

export const RECORD_FORMAT = 1;

export interface SealedField {
  iv: string;
  tag: string;
  ciphertext: string;
}

export interface CredentialRecord {
  format: typeof RECORD_FORMAT;
  botId: string;
  account: string;
  keyVersion: number;
  createdAt: string;
  updatedAt: string;
  enabled: boolean;
  /** Who turned a disabled record off: an unlock turns on only what a lockdown did (absent: as before, unknown). */
  disabledBy?: CredentialSwitch;
  provider: string;
  keyId: string;
  wrappedKey: string;
  appKey: SealedField;
  secretKey: SealedField;
  appKeyFingerprint: string;
}

/** Who turns credentials off or on: an operator (kguard keys disable/enable), or a lockdown and its unlock. */
export type CredentialSwitch = 'operator' | 'lockdown';

export const BOT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const ACCOUNT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;

export function assertBotId(botId: unknown): asserts botId is string {
  if (typeof botId !== 'string' || !BOT_ID_PATTERN.test(botId)) {
    throw new GuardError('KG4006', 'bot id must be 1-64 characters of A-Z a-z 0-9 . _ - and start with a letter or digit');
  }
}

export function assertAccount(account: unknown): asserts account is string {
  if (typeof account !== 'string' || !ACCOUNT_PATTERN.test(account)) {
    throw new GuardError('KG4006', 'account must be 1-32 characters of A-Z a-z 0-9 _ -');
  }
}

export function encodeSealed(s: Sealed): SealedField {
  return { iv: s.iv.toString('base64'), tag: s.tag.toString('base64'), ciphertext: s.ciphertext.toString('base64') };
}

export function decodeSealed(f: SealedField): Sealed {
  return { iv: Buffer.from(f.iv, 'base64'), tag: Buffer.from(f.tag, 'base64'), ciphertext: Buffer.from(f.ciphertext, 'base64') };
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

function isSealedField(v: unknown): v is SealedField {
  if (typeof v !== 'object' || v === null) return false;
  const f = v as Record<string, unknown>;
  return ['iv', 'tag', 'ciphertext'].every((k) => typeof f[k] === 'string' && B64.test(f[k] as string));
}

/** Parses and checks a record file; anything off is KG4004 (we never guess at a damaged record). */
export function parseRecord(bytes: Buffer, expectedBotId: string): CredentialRecord {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new GuardError('KG4004', 'credential record is not valid JSON');
  }
  const r = raw as Partial<CredentialRecord> | null;
  const ok =
    r !== null &&
    typeof r === 'object' &&
    r.format === RECORD_FORMAT &&
    r.botId === expectedBotId &&
    typeof r.account === 'string' &&
    ACCOUNT_PATTERN.test(r.account) &&
    Number.isInteger(r.keyVersion) &&
    (r.keyVersion as number) >= 1 &&
    typeof r.createdAt === 'string' &&
    typeof r.updatedAt === 'string' &&
    typeof r.enabled === 'boolean' &&
    (r.disabledBy === undefined || r.disabledBy === 'operator' || r.disabledBy === 'lockdown') &&
    typeof r.provider === 'string' &&
    typeof r.keyId === 'string' &&
    typeof r.wrappedKey === 'string' &&
    B64.test(r.wrappedKey) &&
    isSealedField(r.appKey) &&
    isSealedField(r.secretKey) &&
    typeof r.appKeyFingerprint === 'string';
  if (!ok) throw new GuardError('KG4004', 'credential record is malformed');
  return r as CredentialRecord;
}

export function serializeRecord(r: CredentialRecord): Buffer {
  return Buffer.from(`${JSON.stringify(r, null, 2)}\n`, 'utf8');
}

export function recordMeta(r: CredentialRecord): CredentialMeta {
  return {
    botId: r.botId,
    account: r.account,
    keyVersion: r.keyVersion,
    createdAt: r.createdAt,
    provider: r.provider,
    keyId: r.keyId,
    enabled: r.enabled,
    appKeyFingerprint: r.appKeyFingerprint,
  };
}
