// Kiwoom's per-app-key limits: sliding 1000 ms windows counted at request
// arrival. A refused request takes no slot, so a client that backs off
// recovers as soon as the window moves on.

import { SimError, type RateLimitDetail } from './responses.js';
import type { SimLimits } from './types.js';

export const WINDOW_MS = 1000;
const MAX_LIMIT = 1_000_000;

export const DEFAULT_LIMITS: SimLimits = {
  tokenPerSecond: 2,
  perApiIdPerSecond: 5,
  totalPerSecond: 20,
  orderGroupPerSecond: 5,
  maxSymbolsPerRequest: 100,
};

const LIMIT_KEYS = Object.keys(DEFAULT_LIMITS) as ReadonlyArray<keyof SimLimits>;

/** `base` with the given overrides; throws SimError (nothing applied) on an unknown key or a value outside 1..1e6. */
export function mergeLimits(base: SimLimits, input: unknown): SimLimits {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new SimError('limits must be an object');
  const given = input as Record<string, unknown>;
  const next: Record<keyof SimLimits, number> = { ...base };
  for (const k of Object.keys(given)) {
    if (!(LIMIT_KEYS as readonly string[]).includes(k)) throw new SimError(`unknown limit: ${k}`);
    const v = given[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 || v > MAX_LIMIT) throw new SimError(`${k} must be an integer in 1..${MAX_LIMIT}`);
    next[k as keyof SimLimits] = v;
  }
  return next;
}

/** Arrival times of accepted requests, one list per key, oldest first. */
class Windows {
  private readonly seen = new Map<string, number[]>();

  /** Accepted requests for `key` in the window ending at `now`. */
  count(key: string, now: number): number {
    const times = this.seen.get(key);
    if (!times) return 0;
    let drop = 0;
    while (drop < times.length && times[drop]! <= now - WINDOW_MS) drop++;
    if (drop > 0) times.splice(0, drop);
    if (times.length === 0) this.seen.delete(key);
    return times.length;
  }

  take(key: string, now: number): void {
    const times = this.seen.get(key);
    if (times) times.push(now);
    else this.seen.set(key, [now]);
  }

  clear(): void {
    this.seen.clear();
  }
}

export interface TrRefusal {
  readonly detail: RateLimitDetail;
  readonly limit: number;
}

export class RateLimiter {
  private readonly windows = new Windows();

  constructor(private current: SimLimits) {}

  get limits(): SimLimits {
    return this.current;
  }

  set limits(next: SimLimits) {
    this.current = next;
  }

  /** True (and a slot taken) when the app may issue a token now. */
  tryIssue(appId: string, now: number): boolean {
    const key = `issue:${appId}`;
    if (this.windows.count(key, now) >= this.current.tokenPerSecond) return false;
    this.windows.take(key, now);
    return true;
  }

  /**
   * Checks group, then per-api-id, then total; takes a slot in every window
   * that applies only when all of them pass.
   */
  tryTr(appId: string, apiId: string, orderGroup: boolean, now: number): TrRefusal | undefined {
    const group = `group:${appId}`;
    const perApi = `api:${appId}:${apiId}`;
    const total = `total:${appId}`;
    const l = this.current;
    if (orderGroup && this.windows.count(group, now) >= l.orderGroupPerSecond) return { detail: '1702', limit: l.orderGroupPerSecond };
    if (this.windows.count(perApi, now) >= l.perApiIdPerSecond) return { detail: '1700', limit: l.perApiIdPerSecond };
    if (this.windows.count(total, now) >= l.totalPerSecond) return { detail: '1701', limit: l.totalPerSecond };
    if (orderGroup) this.windows.take(group, now);
    this.windows.take(perApi, now);
    this.windows.take(total, now);
    return undefined;
  }

  clear(): void {
    this.windows.clear();
  }
}

/** The largest number of events seen within one window, for "how hard did the client hit au10001". */
export class PeakRate {
  private times: number[] = [];
  private head = 0; // times before head have left the window; compacted now and then (ideal-mode benches issue a lot)
  peak = 0;

  note(now: number): void {
    while (this.head < this.times.length && this.times[this.head]! <= now - WINDOW_MS) this.head++;
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
    this.times.push(now);
    const inWindow = this.times.length - this.head;
    if (inWindow > this.peak) this.peak = inWindow;
  }

  clear(): void {
    this.times = [];
    this.head = 0;
    this.peak = 0;
  }
}
