// Argument checks shared by every backend, so a bad call fails the same way
// (KG7002, nothing changed) on memory, Redis and Redis Cluster.
import { GuardError } from '../common/errors.js';
import type { LimitRequest, SlotRequest } from './types.js';

export interface NormalisedLimit {
  readonly key: string;
  readonly limit: number;
  readonly windowMs: number;
  readonly mode: 'sliding' | 'fixed';
  readonly cost: number;
}

/** Longest key accepted; keys are built by code, so a long one is a bug, not data. */
export const MAX_KEY_LENGTH = 512;
/** Upper bound on limits in one consume(): keeps one script call small. */
export const MAX_LIMITS_PER_CALL = 32;

/** Upper bound on keys in one mget() or fields in one hmget(): reads on the hot path are a handful. */
export const MAX_KEYS_PER_READ = 64;

/** Longest slot id, lease holder, lease version or lock value (identifiers made by code). */
export const MAX_ID_LENGTH = 200;
/** Largest leased value, in UTF-8 bytes (a broker token and its metadata). */
export const MAX_LEASE_VALUE_BYTES = 64 * 1024;
/** Largest slot limit: every call scans at most this many stamps. */
export const MAX_SLOT_LIMIT = 10_000;
/** Suffix of the sorted set that holds a leased value's leases (same hash tag as the value). */
export const LEASES_SUFFIX = ':leases';

function invalid(detail: string): GuardError {
  return new GuardError('KG7002', detail);
}

export function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0) throw invalid('key must be a non-empty string');
  if (key.length > MAX_KEY_LENGTH) throw invalid(`key longer than ${MAX_KEY_LENGTH}`);
  // Control characters in a key are a bug; 'generation…' is the store's own flush marker.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(key)) throw invalid('control characters in a key');
  if (key.startsWith('generation')) throw invalid("keys starting with 'generation' are reserved");
  // Braces are only for a Redis hash tag; a stray one would silently change the slot.
  if (hashTagOf(key) === undefined && /[{}]/.test(key)) throw invalid('braces in a key must form a non-empty {hash tag}');
  return key;
}

export function checkTtl(ttlMs: unknown, name = 'ttlMs'): number {
  if (typeof ttlMs !== 'number' || !Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw invalid(`${name} must be a positive integer`);
  }
  return ttlMs;
}

export function checkOptionalTtl(ttlMs: unknown): number | undefined {
  return ttlMs === undefined ? undefined : checkTtl(ttlMs);
}

export function checkInteger(n: unknown, name: string): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw invalid(`${name} must be a safe integer`);
  return n;
}

export function checkString(v: unknown, name: string): string {
  if (typeof v !== 'string') throw invalid(`${name} must be a string`);
  return v;
}

/** A non-empty, bounded list of checked keys or fields. */
export function checkList(items: unknown, what: 'keys' | 'fields', check: (v: unknown) => string): string[] {
  if (!Array.isArray(items)) throw invalid(`${what} must be an array`);
  if (items.length === 0) throw invalid(`${what} must not be empty`);
  if (items.length > MAX_KEYS_PER_READ) throw invalid(`more than ${MAX_KEYS_PER_READ} ${what} in one read`);
  return items.map((v) => check(v));
}

/** Redis' own hash-tag rule: the text between the first '{' and the next '}', if non-empty. */
export function hashTagOf(key: string): string | undefined {
  const open = key.indexOf('{');
  if (open < 0) return undefined;
  const close = key.indexOf('}', open + 1);
  if (close <= open + 1) return undefined;
  return key.slice(open + 1, close);
}

export function normaliseLimits(limits: readonly LimitRequest[]): NormalisedLimit[] {
  if (!Array.isArray(limits)) throw invalid('limits must be an array');
  if (limits.length > MAX_LIMITS_PER_CALL) throw invalid(`more than ${MAX_LIMITS_PER_CALL} limits in one call`);
  const seen = new Set<string>();
  const out: NormalisedLimit[] = [];
  for (const [i, l] of limits.entries()) {
    if (l === null || typeof l !== 'object') throw invalid(`limit ${i} is not an object`);
    const key = checkKey(l.key);
    if (seen.has(key)) throw invalid(`limit ${i} repeats a key`);
    seen.add(key);
    const limit = checkInteger(l.limit, `limit ${i}.limit`);
    if (limit < 0) throw invalid(`limit ${i}.limit must be >= 0`);
    const windowMs = checkTtl(l.windowMs, `limit ${i}.windowMs`);
    const mode = l.mode ?? 'sliding';
    if (mode !== 'sliding' && mode !== 'fixed') throw invalid(`limit ${i}.mode must be sliding or fixed`);
    const cost = l.cost === undefined ? 1 : checkInteger(l.cost, `limit ${i}.cost`);
    if (cost < 0) throw invalid(`limit ${i}.cost must be >= 0`);
    out.push({ key, limit, windowMs, mode, cost });
  }
  if (out.length > 1) {
    const tag = hashTagOf(out[0]!.key);
    if (tag === undefined || out.some((l) => hashTagOf(l.key) !== tag)) {
      throw invalid('all limits of one call must share one {hash tag}');
    }
  }
  return out;
}

/** refund()'s limits: as consume's, and fixed windows only. */
export function normaliseRefunds(limits: readonly LimitRequest[]): NormalisedLimit[] {
  const ls = normaliseLimits(limits);
  const sliding = ls.findIndex((l) => l.mode !== 'fixed');
  if (sliding >= 0) throw invalid(`limit ${sliding}: only fixed windows are refunded`);
  return ls;
}

/** A non-empty identifier of at most MAX_ID_LENGTH characters (slot id, lease holder or version, lock value). */
export function checkId(v: unknown, name: string): string {
  if (typeof v !== 'string' || v.length === 0) throw invalid(`${name} must be a non-empty string`);
  if (v.length > MAX_ID_LENGTH) throw invalid(`${name} longer than ${MAX_ID_LENGTH}`);
  return v;
}

/** Keys used together by one atomic operation: all carry the same non-empty {hash tag} (one Cluster slot). */
function checkSameTag(keys: readonly string[], what: string): void {
  const tag = hashTagOf(keys[0]!);
  if (tag === undefined || keys.some((k) => hashTagOf(k) !== tag)) throw invalid(`${what} must share one {hash tag}`);
  if (new Set(keys).size !== keys.length) throw invalid(`${what} must be different keys`);
}

/** A slot request after validation (same shape; numbers checked, keys checked and tag-matched). */
export type NormalisedSlot = Readonly<SlotRequest>;

export function normaliseSlot(req: SlotRequest): NormalisedSlot {
  if (req === null || typeof req !== 'object') throw invalid('slot request is not an object');
  const key = checkKey(req.key);
  const pauseKey = checkKey(req.pauseKey);
  checkSameTag([key, pauseKey], 'key and pauseKey');
  const limit = checkInteger(req.limit, 'limit');
  if (limit < 0 || limit > MAX_SLOT_LIMIT) throw invalid(`limit must be within 0..${MAX_SLOT_LIMIT}`);
  const windowMs = checkTtl(req.windowMs, 'windowMs');
  const holdMs = checkInteger(req.holdMs, 'holdMs');
  if (holdMs < 0) throw invalid('holdMs must be >= 0');
  if (!Number.isSafeInteger(windowMs + holdMs)) throw invalid('windowMs + holdMs is too large');
  const id = checkId(req.id, 'id');
  return { key, pauseKey, limit, windowMs, holdMs, id };
}

/**
 * A leased value's key and its leases key (`${key}:leases`). The key must
 * carry a {hash tag} so both (and the lock of leasePut) are one Cluster slot.
 */
export function leaseKeys(key: unknown): { key: string; leases: string } {
  const k = checkKey(key);
  if (hashTagOf(k) === undefined) throw invalid('a leased value key must carry a {hash tag}');
  return { key: k, leases: checkKey(k + LEASES_SUFFIX) };
}

export function checkLeaseValue(v: unknown): string {
  const value = checkString(v, 'value');
  if (Buffer.byteLength(value, 'utf8') > MAX_LEASE_VALUE_BYTES) throw invalid(`value larger than ${MAX_LEASE_VALUE_BYTES} bytes`);
  return value;
}

/** leasePut's fencing lock: a key with the value's hash tag (not the value or its leases) and an exact value. */
export function checkLeaseLock(lock: unknown, keys: { key: string; leases: string }): { key: string; value: string } {
  if (lock === null || typeof lock !== 'object') throw invalid('lock must be an object');
  const l = lock as { key?: unknown; value?: unknown };
  const key = checkKey(l.key);
  checkSameTag([keys.key, keys.leases, key], 'lock.key and the value key');
  return { key, value: checkId(l.value, 'lock.value') };
}

/** Every input of leasePut checked, changing nothing when one is bad (KG7002). */
export function normaliseLeasePut(key: string, version: string, value: string, ttlMs: number, lock: unknown, holder: string, leaseTtlMs: number) {
  const keys = leaseKeys(key);
  checkId(version, 'version');
  checkLeaseValue(value);
  const ttl = checkTtl(ttlMs);
  const l = checkLeaseLock(lock, keys);
  checkId(holder, 'holder');
  const leaseTtl = checkTtl(leaseTtlMs, 'leaseTtlMs');
  return { keys, ttl, lock: l, leaseTtl };
}
