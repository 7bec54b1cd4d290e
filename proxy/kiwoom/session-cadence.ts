// A key whose calls keep coming keeps its token between them
// (brokerTokens.cadenceLingerMs): the gap between a key's calls is tracked as
// a moving average, and an idle token lingers 1.5 x that gap after the last
// call, never more than the bound. Counted from the last call, so a key that
// went quiet loses its token once that passes. Nor is it given up for less
// than giving it up takes (the key's recent revoke time): a call arriving
// while the revoke runs waits for it, and waiting lengthens the gaps, which
// shortens the linger, so with a slow Kiwoom revoke every call would wait.
import type { Governor } from './governor.js';
import type { KeyState } from './session-types.js';

/** Notes a call on the key: the gap since the previous one enters the moving average (each new gap counts half). */
export function noteCall(k: KeyState, now = Date.now()): void {
  if (k.lastCallAt !== undefined) {
    const gap = now - k.lastCallAt;
    k.callGapMs = k.callGapMs === undefined ? gap : (k.callGapMs + gap) / 2;
  }
  k.lastCallAt = now;
}

/** Notes an issue Kiwoom answered with a token (for its issue limit: the last 16 within a minute). */
export function noteIssue(k: KeyState, now = Date.now()): void {
  k.issues = [...k.issues.filter((t) => t > now - 60_000).slice(-15), now];
}

/** Notes how long giving up the key's token took (release and revoke): the next call would have waited that long. */
export function noteRetire(k: KeyState, ms: number): void {
  k.retireMs = k.retireMs === undefined ? ms : (k.retireMs + ms) / 2;
}

/** How much longer to keep the key's idle token for its cadence (ms; 0 = not at all). */
export function cadenceLinger(k: KeyState, now: number, boundMs: number): number {
  if (boundMs <= 0 || k.callGapMs === undefined || k.lastCallAt === undefined || k.callGapMs > boundMs) return 0;
  const linger = Math.max(Math.ceil(k.callGapMs * 1.5), Math.ceil(k.retireMs ?? 0));
  return Math.max(0, k.lastCallAt + Math.min(boundMs, linger) - now);
}

/**
 * A key that stopped calling costs this replica only memory: its state here (the cadence above, recent issues)
 * and its governor lanes, which grew with every app key the replica ever served (customers long gone included)
 * until a restart. Forgotten once it holds no token, nothing is under way for it (an issue, a revoke, a linger,
 * a queued call) and its last call is older than forgetIdleMs and twice sessionWaitMs; its next call starts
 * afresh, as after a restart. How many were forgotten.
 */
export function forgetIdleKeys(
  keys: Map<string, KeyState>,
  governor: Pick<Governor, 'forget' | 'waiting'>,
  opts: { forgetIdleMs?: number; sessionWaitMs: number },
  now = Date.now(),
): number {
  const before = now - Math.max(opts.forgetIdleMs ?? 600_000, 2 * opts.sessionWaitMs);
  let n = 0;
  for (const k of keys.values()) {
    const busy = k.gen || k.shared || k.obtaining || k.retiring || k.linger || k.refresh || governor.waiting(k.key) > 0;
    if (busy || (k.lastCallAt ?? 0) > before || k.issues.some((t) => t > before)) continue;
    keys.delete(k.key);
    governor.forget(k.key);
    n++;
  }
  return n;
}
