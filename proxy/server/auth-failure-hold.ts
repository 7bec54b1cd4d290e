// Repeated authentication failures on bot calls (no token, a forged or unknown one, a revoked, killed or
// disabled session) are answered slowly: past limits.authFailureHold.afterFailures in windowMs from one
// source address, or for one bot id once the token's signature names it, each further failure's answer is
// held holdMs (through the refusal hold and its caps). A flood of forged tokens or a token brute force then
// costs one call per connection per hold, not a spin of the event loop other tenants share. An expired token
// (KG2003) is not counted: many bots behind one address expire together and each logs in again once.
// A realtime LOGIN refused for the same reasons counts in the same windows and is held alike (realtime.ts).
// State is bounded: maxSources windows, the oldest forgotten first.
import { Counter, type Registry } from 'prom-client';
import type { ErrorCode } from '../common/errors.js';

export interface AuthFailureHoldLimits {
  afterFailures: number;
  windowMs: number;
  /** How long a failure past afterFailures is held (0: the hold is off). */
  holdMs: number;
  maxSources: number;
}

const COUNTED: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['KG2001', 'KG2002', 'KG2004', 'KG2006', 'KG2007']);

export interface AuthFailureHold {
  /** Counts this refusal if it is an authentication failure; how long its answer should be held. */
  delayFor(code: ErrorCode, who: string, now?: number): number;
}

export function createAuthFailureHold(limits: AuthFailureHoldLimits, registry: Registry): AuthFailureHold {
  const slowed = new Counter({
    name: 'kguard_auth_failures_slowed_total',
    help: 'Bot-call authentication failures held because their source or bot id failed often (limits.authFailureHold)',
    registers: [registry],
  });
  const windows = new Map<string, { start: number; failures: number }>();
  return {
    delayFor(code, who, now = Date.now()) {
      if (limits.holdMs === 0 || !COUNTED.has(code)) return 0;
      let w = windows.get(who);
      if (!w || now - w.start >= limits.windowMs) {
        windows.delete(who);
        // Bounded: a new source past maxSources forgets the one seen longest ago.
        if (windows.size >= limits.maxSources) windows.delete(windows.keys().next().value!);
        w = { start: now, failures: 0 };
        windows.set(who, w);
      }
      w.failures++;
      if (w.failures <= limits.afterFailures) return 0;
      slowed.inc();
      return limits.holdMs;
    },
  };
}
