// Turns a caller's AuditEvent into record data: JSON-safe values only,
// configured sensitive fields replaced by keyed hashes, and anything whose
// name looks like a secret dropped (the caller should have fingerprinted it).
// The rules are compiled once; the per-event walk allocates only the output.
import type { KeyObject } from 'node:crypto';
import { GuardError } from '../common/errors.js';
import { hmacString, isKeyedHash } from './keys.js';
import type { AuditEvent } from './types.js';

/** Names that may hold a secret. A value already in `hmac:<hex>` form is let through. */
const SECRET_NAME = /app_?key|secret|token|authori[sz]ation|passw(or)?d|passphrase|credential|private_?key|bearer|cookie|api_?key|session_?key|data_?key/i;
/** Credentials that can turn up inside free text (a body field, a reason typed by a person), by their shape. */
const JWT_IN_TEXT = /eyJ[\w-]{2,}\.[\w-]{2,}\.[\w-]*/g;
const ADMIN_TOKEN_IN_TEXT = /kga_[\w-]{16,}/g;
const BEARER_IN_TEXT = /\bbearer\s+\S+/gi;
const MIN_CREDENTIAL_LENGTH = 8; // "bearer x"
const MAX_DEPTH = 8;
const MAX_KEYS = 256;

export interface SanitizedEvent {
  readonly data: Record<string, unknown>;
  /** Dotted paths of fields that were dropped because they looked secret. */
  readonly stripped: readonly string[];
}

export interface SanitizerOptions {
  readonly hmacFields: readonly string[];
  readonly hmacKey: KeyObject;
  readonly maxStringLength: number;
  readonly maxRecordBytes: number;
}

export type Sanitizer = (event: AuditEvent) => SanitizedEvent;

type NameKind = 'plain' | 'secret' | 'hmac';

export function isSecretLookingName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** Cuts JWTs, admin tokens and Bearer credentials out of free text; the rest of the text stays readable. */
export function stripCredentials(s: string): string {
  let out = s;
  if (out.includes('eyJ')) out = out.replace(JWT_IN_TEXT, '[stripped:jwt]');
  if (out.includes('kga_')) out = out.replace(ADMIN_TOKEN_IN_TEXT, '[stripped:admin-token]');
  if (/bearer\s/i.test(out)) out = out.replace(BEARER_IN_TEXT, '[stripped:bearer]');
  return out;
}

export function createSanitizer(opts: SanitizerOptions): Sanitizer {
  const hmacNames = new Set(opts.hmacFields.map((f) => f.toLowerCase()));
  const { hmacKey, maxStringLength } = opts;
  // Field names recur on every record (botId, apiId, ...): each is classified once. Bounded, so
  // names taken from bodies cannot grow it without limit; past the bound names are classified each time.
  const NAME_CACHE_MAX = 4_096;
  const nameKinds = new Map<string, NameKind>();
  function kindOf(key: string): NameKind {
    let kind = nameKinds.get(key);
    if (kind === undefined) {
      kind = isSecretLookingName(key) ? 'secret' : hmacNames.has(key.toLowerCase()) ? 'hmac' : 'plain';
      if (nameKinds.size < NAME_CACHE_MAX) nameKinds.set(key, kind);
    }
    return kind;
  }

  // The values under sensitive names recur on every record (a bot's account, its address): each is
  // hashed once. Bounded the same way; a full cache is dropped whole rather than tracked for age.
  const HASH_CACHE_MAX = 4_096;
  const hashes = new Map<string, string>();
  function keyedHash(value: string): string {
    let h = hashes.get(value);
    if (h === undefined) {
      h = hmacString(value, hmacKey);
      if (hashes.size >= HASH_CACHE_MAX) hashes.clear();
      hashes.set(value, h);
    }
    return h;
  }

  function clampString(value: string): string {
    const s = value.length < MIN_CREDENTIAL_LENGTH ? value : stripCredentials(value);
    return s.length > maxStringLength ? `${s.slice(0, maxStringLength)}…[+${s.length - maxStringLength}]` : s;
  }

  function walk(value: unknown, at: string, depth: number, stripped: string[]): unknown {
    if (value === null) return null;
    switch (typeof value) {
      case 'string':
        return clampString(value);
      case 'number':
        return Number.isFinite(value) ? value : String(value);
      case 'boolean':
        return value;
      case 'bigint':
        return value.toString();
      case 'undefined':
      case 'function':
      case 'symbol':
        return undefined;
    }
    if (Buffer.isBuffer(value) || ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
      // Buffers carry secrets by convention here: never record their bytes.
      stripped.push(at || '(root)');
      return undefined;
    }
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
    if (depth >= MAX_DEPTH) return '[depth limit]';
    if (Array.isArray(value)) {
      const out: unknown[] = [];
      for (let i = 0; i < value.length && i < MAX_KEYS; i++) {
        const v = walk(value[i], `${at}[${i}]`, depth + 1, stripped);
        out.push(v === undefined ? null : v);
      }
      return out;
    }
    const out: Record<string, unknown> = {};
    let n = 0;
    for (const key of Object.keys(value as object)) {
      if (++n > MAX_KEYS) break;
      const v = (value as Record<string, unknown>)[key];
      const kind = kindOf(key);
      if (kind === 'secret' && !isKeyedHash(v)) {
        if (v !== undefined && v !== null) stripped.push(at ? `${at}.${key}` : key);
        continue;
      }
      if (kind === 'hmac' && v !== undefined && v !== null && !isKeyedHash(v)) {
        if (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint') out[key] = keyedHash(String(v));
        else stripped.push(at ? `${at}.${key}` : key); // a structured value under a sensitive name: nothing safe to keep
        continue;
      }
      // Scalars need no path (only stripped fields are named): build it only for what can hold one.
      const w = typeof v === 'object' && v !== null ? walk(v, at ? `${at}.${key}` : key, depth + 1, stripped) : walk(v, '', depth + 1, stripped);
      if (w !== undefined) out[key] = w;
    }
    return out;
  }

  return (event: AuditEvent): SanitizedEvent => {
    if (typeof event !== 'object' || event === null) throw new GuardError('KG6002', 'event is not an object');
    const stripped: string[] = [];
    const { type: _type, ...rest } = event;
    const data = walk(rest, '', 0, stripped) as Record<string, unknown>;
    if (stripped.length > 0) data._stripped = stripped.slice(0, 32);
    return { data, stripped };
  };
}
