// Failed admin logins (401) and role refusals (403), per source address:
// counted in a fixed window that starts with a source's first failure; at
// maxFailures the source is refused (429, retry-after) for blockMs (the admin
// listener still lets a valid token through: auth-guard.ts). A success does
// not clear the count (a viewer cannot interleave its own token to keep
// guessing an admin's). Memory is bounded: at most maxSources are tracked;
// when full, one not cooling down with the fewest failures goes first, then
// the oldest.
//
// The source is the socket's peer address (X-Forwarded-For is never trusted):
// IPv4-mapped IPv6 counts as IPv4, and an IPv6 source counts as its /64, the
// block one host is usually given.
import { isIPv6 } from 'node:net';
import type { AdminAuthFailureLimits } from '../common/config.js';

export type { AdminAuthFailureLimits };

export const DEFAULT_AUTH_FAILURE_LIMITS: AdminAuthFailureLimits = { maxFailures: 10, windowMs: 60_000, blockMs: 300_000, maxSources: 10_000 };

interface SourceState {
  windowStart: number;
  failures: number;
  /** 0 while not blocked. */
  blockedUntil: number;
}

export type LimiterVerdict = { readonly blocked: false } | { readonly blocked: true; readonly retryAfterSeconds: number };

export interface FailureOutcome {
  readonly failures: number;
  /** This failure reached the limit: the source is blocked from now on. */
  readonly blockedNow: boolean;
  /** A source was forgotten to make room (maxSources). */
  readonly evicted: boolean;
}

function expandIPv6(addr: string): string[] | undefined {
  const [head, tail, ...rest] = addr.split('::');
  if (rest.length > 0) return undefined;
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  if (tail === undefined && h.length !== 8) return undefined;
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-f]{1,4}$/i.test(g))) return undefined;
  return groups.map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''));
}

/** The key a source address is counted under: IPv4 as is, IPv4-mapped as IPv4, other IPv6 as its /64. */
export function sourceKey(remoteAddress: string | undefined): string {
  if (!remoteAddress) return 'unknown';
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(remoteAddress);
  if (mapped) return mapped[1]!;
  if (!isIPv6(remoteAddress)) return remoteAddress;
  const groups = expandIPv6(remoteAddress.replace(/%.*$/, ''));
  return groups ? `${groups.slice(0, 4).join(':')}::/64` : remoteAddress;
}

export class AuthFailureLimiter {
  private readonly sources = new Map<string, SourceState>();

  constructor(
    readonly limits: AdminAuthFailureLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether the source is in its cool-down now; an expired cool-down forgets the source. */
  check(key: string): LimiterVerdict {
    const s = this.sources.get(key);
    if (!s || s.blockedUntil === 0) return { blocked: false };
    const left = s.blockedUntil - this.now();
    if (left > 0) return { blocked: true, retryAfterSeconds: Math.max(1, Math.ceil(left / 1000)) };
    this.sources.delete(key);
    return { blocked: false };
  }

  /** Failures of the source in its current window or cool-down (0 once that has passed). */
  failures(key: string): number {
    const s = this.sources.get(key);
    if (!s) return 0;
    const now = this.now();
    if (s.blockedUntil === 0 ? now - s.windowStart >= this.limits.windowMs : s.blockedUntil <= now) return 0;
    return s.failures;
  }

  /** Records one failure of the source. */
  fail(key: string): FailureOutcome {
    const now = this.now();
    let s = this.sources.get(key);
    if (!s || (s.blockedUntil === 0 && now - s.windowStart >= this.limits.windowMs) || (s.blockedUntil !== 0 && s.blockedUntil <= now)) {
      s = { windowStart: now, failures: 0, blockedUntil: 0 };
    }
    s.failures++;
    const blockedNow = s.blockedUntil === 0 && s.failures >= this.limits.maxFailures && this.limits.blockMs > 0;
    if (blockedNow) s.blockedUntil = now + this.limits.blockMs;
    // Most recent failure last: the first key is the one to forget.
    this.sources.delete(key);
    this.sources.set(key, s);
    let evicted = false;
    while (this.sources.size > this.limits.maxSources) {
      this.sources.delete(this.evictee(key));
      evicted = true;
    }
    return { failures: s.failures, blockedNow, evicted };
  }

  /**
   * The entry to forget when full: one not cooling down before one that is, the fewest failures in their window
   * first, then the oldest. Forgetting the oldest alone let one address wipe its own count on a bot by failing on
   * as many junk ids as maxSources (the bot-login limiter counts per address and bot id). Only at capacity: O(n).
   */
  private evictee(newest: string): string {
    const now = this.now();
    let best: string | undefined;
    let bestRank = Number.POSITIVE_INFINITY;
    for (const [k, s] of this.sources) {
      if (k === newest) continue;
      const live = s.blockedUntil === 0 ? now - s.windowStart < this.limits.windowMs : s.blockedUntil > now;
      const rank = !live ? 0 : s.blockedUntil > now ? this.limits.maxFailures + 1 : s.failures;
      if (rank < bestRank) {
        best = k;
        bestRank = rank;
        if (rank === 0) break;
      }
    }
    return best ?? newest;
  }

  /** Sources tracked now (bounded by maxSources). */
  size(): number {
    return this.sources.size;
  }

  /** Sources in their cool-down now. */
  blockedCount(): number {
    const now = this.now();
    let n = 0;
    for (const s of this.sources.values()) if (s.blockedUntil > now) n++;
    return n;
  }
}
