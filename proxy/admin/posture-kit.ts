// The shape of one posture check and the small helpers the checks share.
// A check is a pure function of the snapshot: no clock (the snapshot's `now`),
// no I/O, so each is unit-tested with a hand-made snapshot.
export { cidrMatcher } from '../common/cidr.js';
import type { Bilingual, CheckArea, PostureSnapshot } from './posture-types.js';

export interface Verdict extends Bilingual {
  readonly pass: boolean;
}

export interface PostureCheck {
  readonly id: string;
  readonly area: CheckArea;
  /** Points out of 100 this check is worth; the failed ones rank the recommendations. */
  readonly weight: number;
  readonly title: Bilingual;
  /** What to do when it fails, with the kiwoom-guard step; `anchor` is the section in both security guides. */
  readonly recommendation: Bilingual & { readonly anchor: string };
  readonly run: (s: PostureSnapshot) => Verdict;
}

/** Thresholds the checks judge by (documented in docs/security-guide.*.md). */
export const POSTURE_LIMITS = {
  botSecretMaxAgeDays: 90,
  credentialMaxAgeDays: 90,
  /** scrypt parameters below these make a stolen bot registry cheap to brute-force. */
  scrypt: { minN: 16384, minR: 8, minSaltBytes: 16, minHashBytes: 32 },
  /** Source addresses seen this recently count as current places the bot trades from. */
  recentSourceDays: 7,
  auditVerifyMaxAgeDays: 7,
  /** A broker token kept this long after its last call is exposure with no use. */
  maxIdleRevokeMs: 60_000,
  /** A live token with no lease this much past idleRevokeMs means revocation is not happening. */
  stuckSessionGraceMs: 120_000,
} as const;

export const DAY_MS = 86_400_000;

export function pass(ko: string, en: string): Verdict {
  return { pass: true, ko, en };
}

export function fail(ko: string, en: string): Verdict {
  return { pass: false, ko, en };
}

/** Whole days from an ISO time to the snapshot's now (NaN for an unparsable time). */
export function ageDays(iso: string, now: number): number {
  return Math.floor((now - Date.parse(iso)) / DAY_MS);
}

/** YYYY-MM-DD of an ISO time (as written, UTC). */
export function day(iso: string): string {
  return iso.slice(0, 10);
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || /^::ffff:127\./.test(h);
}

/** "a, b and 3 more" — keeps explanations short. */
export function listed(items: readonly string[], max = 4): string {
  if (items.length <= max) return items.join(', ');
  return `${items.slice(0, max).join(', ')} (+${items.length - max})`;
}
