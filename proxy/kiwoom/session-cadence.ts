// A key whose calls keep coming keeps its token between them
// (brokerTokens.cadenceLingerMs): the gap between a key's calls is tracked as
// a moving average, and an idle token lingers 1.5 x that gap after the last
// call, never more than the bound. Counted from the last call, so a key that
// went quiet loses its token once that passes.
import type { KeyState } from './session-types.js';

/** Notes a call on the key: the gap since the previous one enters the moving average (each new gap counts half). */
export function noteCall(k: KeyState, now = Date.now()): void {
  if (k.lastCallAt !== undefined) {
    const gap = now - k.lastCallAt;
    k.callGapMs = k.callGapMs === undefined ? gap : (k.callGapMs + gap) / 2;
  }
  k.lastCallAt = now;
}

/** How much longer to keep the key's idle token for its cadence (ms; 0 = not at all). */
export function cadenceLinger(k: KeyState, now: number, boundMs: number): number {
  if (boundMs <= 0 || k.callGapMs === undefined || k.lastCallAt === undefined || k.callGapMs > boundMs) return 0;
  return Math.max(0, k.lastCallAt + Math.min(boundMs, Math.ceil(k.callGapMs * 1.5)) - now);
}
