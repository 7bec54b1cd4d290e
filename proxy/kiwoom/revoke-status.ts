// Whether a key's broker token has really gone, as any replica can tell from
// the shared Store. The key's leased value is its one live token: it is
// dropped only once Kiwoom confirmed the revoke ([8015] "not registered" and
// [8005] "not valid" answers to it included) or the token is known dead
// (expired: the value's TTL is the token's; [8005] on a call: invalidated).
// A revoke that failed leaves the value live (Kiwoom still honours the token)
// until a retry succeeds, with the failure noted beside it (session-sweep.ts
// retireShared); if the token expires before the retry would run, the value
// is dropped early and noted as live until its expiry. A lockdown marks the
// key's token after its own calls and follows the mark until it has ended.
import type { Store } from '../state/types.js';
import { expiringKey, revokeFailedKey, valueKey } from './session-sweep.js';

/** The key's token at one moment: its generation, or none when no token was live. Never the token itself. */
export interface TokenMark {
  /** The app key's keyed fingerprint. */
  readonly key: string;
  readonly version?: string;
}

export type TokenState =
  | { readonly state: 'ended' }
  | { readonly state: 'live' }
  /** The last revoke of this token failed (code of the last attempt's error); a sweep retries it. */
  | { readonly state: 'failed'; readonly code: string; readonly attempts: number; readonly at: number };

export async function markToken(store: Store, key: string): Promise<TokenMark> {
  const v = await store.leasePeek(valueKey(key));
  return v ? { key, version: v.version } : { key };
}

/** Ended once the marked generation is no longer the key's value: one token per key, so a newer one means it went. */
export async function tokenState(store: Store, mark: TokenMark): Promise<TokenState> {
  if (!mark.version) return { state: 'ended' };
  const [v, noted] = await Promise.all([store.leasePeek(valueKey(mark.key)), store.get(revokeFailedKey(mark.key))]);
  // Given up as expired (its revoke failed, a retry would come too late): live at Kiwoom until it expires.
  if (!v || v.version !== mark.version) return (await store.get(expiringKey(mark.key))) === mark.version ? { state: 'live' } : { state: 'ended' };
  const f = parseFailure(noted);
  return f && f.version === mark.version ? { state: 'failed', code: f.code, attempts: f.attempts, at: f.at } : { state: 'live' };
}

/** True when the last revoke of the key's token of this version failed: Kiwoom honours it until a retry ends it or it expires. */
export async function revokeFailed(store: Store, key: string, version: string): Promise<boolean> {
  return parseFailure(await store.get(revokeFailedKey(key)))?.version === version;
}

function parseFailure(raw: string | null): { version: string; code: string; attempts: number; at: number } | undefined {
  if (!raw) return undefined;
  try {
    const f = JSON.parse(raw) as Record<string, unknown>;
    if (typeof f.version !== 'string' || typeof f.code !== 'string') return undefined;
    return { version: f.version, code: f.code, attempts: Number(f.attempts) || 0, at: Number(f.at) || 0 };
  } catch {
    return undefined;
  }
}
