// The in-memory store's key space: typed entries, lazy expiry and the maxKeys
// budget. memory-ops.ts and memory-coordination.ts both work on it, so the
// rules for "does this key exist" and "is there room" live in one place.
import { GuardError } from '../common/errors.js';

interface WindowEvent {
  readonly at: number;
  readonly cost: number;
}

export type Entry =
  | { kind: 'string'; value: string; expiresAt: number }
  | { kind: 'hash'; fields: Map<string, string>; expiresAt: number }
  | { kind: 'window'; events: WindowEvent[]; sum: number; expiresAt: number }
  // A Redis sorted set (member -> score): governor slot windows and lease sets.
  | { kind: 'zset'; members: Map<string, number>; expiresAt: number };

export type StringEntry = Extract<Entry, { kind: 'string' }>;
export type HashEntry = Extract<Entry, { kind: 'hash' }>;
export type WindowEntry = Extract<Entry, { kind: 'window' }>;
export type ZsetEntry = Extract<Entry, { kind: 'zset' }>;

export const NO_EXPIRY = Number.POSITIVE_INFINITY;

export function wrongType(): GuardError {
  return new GuardError('KG7002', 'WRONGTYPE: key holds another kind of value');
}

export function integerValue(entry: StringEntry | undefined): number {
  if (!entry) return 0;
  const n = Number(entry.value);
  if (!/^-?\d+$/.test(entry.value) || !Number.isSafeInteger(n)) {
    throw new GuardError('KG7002', 'value is not an integer');
  }
  return n;
}

export interface MemoryData {
  readonly data: Map<string, Entry>;
  readonly now: () => number;
  assertOpen(): void;
  /** Drops every expired key (the periodic sweep, and before a full store gives up). */
  sweep(): void;
  /** The entry if it exists and has not expired (an expired one is dropped on the way). */
  live(key: string, t?: number): Entry | undefined;
  /** Stores an entry; a new key beyond maxKeys fails closed. */
  put(key: string, entry: Entry): void;
  stringEntry(key: string, t: number): StringEntry | undefined;
  hashEntry(key: string, t: number): HashEntry | undefined;
  zsetEntry(key: string, t: number): ZsetEntry | undefined;
  trimZset(key: string, entry: ZsetEntry | undefined, cutoff: number): ZsetEntry | undefined;
  /** Fails closed (before any change) when `n` new keys would not fit. */
  ensureRoom(n: number): void;
}

export function createMemoryData(opts: { now: () => number; maxKeys: number; isClosed: () => boolean }): MemoryData {
  const { now, maxKeys, isClosed } = opts;
  const data = new Map<string, Entry>();

  function sweep(): void {
    const t = now();
    for (const [key, entry] of data) {
      if (entry.expiresAt <= t) data.delete(key);
    }
  }

  function assertOpen(): void {
    if (isClosed()) throw new GuardError('KG7001', 'store closed');
  }

  function live(key: string, t = now()): Entry | undefined {
    const entry = data.get(key);
    if (entry && entry.expiresAt <= t) {
      data.delete(key);
      return undefined;
    }
    return entry;
  }

  function put(key: string, entry: Entry): void {
    if (!data.has(key) && data.size >= maxKeys) {
      sweep();
      if (data.size >= maxKeys) throw new GuardError('KG7001', 'memory store full (state.memory.maxKeys)');
    }
    data.set(key, entry);
  }

  function stringEntry(key: string, t: number): StringEntry | undefined {
    const entry = live(key, t);
    if (entry && entry.kind !== 'string') throw wrongType();
    return entry;
  }

  function zsetEntry(key: string, t: number): ZsetEntry | undefined {
    const entry = live(key, t);
    if (entry && entry.kind !== 'zset') throw wrongType();
    return entry;
  }

  function hashEntry(key: string, t: number): HashEntry | undefined {
    const entry = live(key, t);
    if (entry && entry.kind !== 'hash') throw wrongType();
    return entry;
  }

  // As ZREMRANGEBYSCORE -inf cutoff: drops members scored <= cutoff; an emptied set no longer exists.
  function trimZset(key: string, entry: ZsetEntry | undefined, cutoff: number): ZsetEntry | undefined {
    if (!entry) return undefined;
    for (const [member, score] of entry.members) if (score <= cutoff) entry.members.delete(member);
    if (entry.members.size > 0) return entry;
    data.delete(key);
    return undefined;
  }

  function ensureRoom(n: number): void {
    if (n > 0 && data.size + n > maxKeys) {
      sweep();
      if (data.size + n > maxKeys) throw new GuardError('KG7001', 'memory store full (state.memory.maxKeys)');
    }
  }

  return { data, now, assertOpen, sweep, live, put, stringEntry, hashEntry, zsetEntry, trimZset, ensureRoom };
}
