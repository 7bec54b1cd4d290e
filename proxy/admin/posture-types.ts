// The posture check's data: the snapshot one gatherer reads from the running
// sidecar (posture-gather.ts), and the report the pure checks make of it
// (posture-checks.ts). The snapshot is plain JSON so tests write it by hand.
import type { CalendarName } from '../common/market-calendar.js';

/** A policy rule as far as posture needs it (from the validated policy document in force). */
export interface PostureRule {
  readonly id: string;
  readonly type: string;
  readonly mode: 'enforce' | 'shadow';
  /** `when:` selector; absent = every bot / account / kind / api-id / side. */
  readonly kinds?: readonly string[];
  readonly bots?: readonly string[];
  readonly accounts?: readonly string[];
  readonly apiIds?: readonly string[];
  readonly sides?: readonly string[];
  /** trade-types rules: names (market) or codes (3) as written. */
  readonly allow?: readonly string[];
  readonly deny?: readonly string[];
}

export type PosturePolicy =
  | { readonly state: 'loaded'; readonly version: string; readonly name?: string; readonly rules: readonly PostureRule[] }
  /** missing: no valid policy in force; changed: the file on disk is not the policy in force; unreadable: it could not be read again. */
  | { readonly state: 'missing' | 'changed' | 'unreadable'; readonly detail: string };

export interface PostureSnapshot {
  /** Epoch ms the snapshot was taken at; every age is measured from it. */
  readonly now: number;
  readonly bot: {
    readonly id: string;
    readonly owner: string;
    readonly account: string;
    readonly enabled: boolean;
    readonly createdAt: string;
    /** The bot's allowlist admits at least one order api-id (kind:order, *, kt10000, ...). */
    readonly canOrder: boolean;
    /** How the bot secret is stored (never the secret or its hash). */
    readonly secret: {
      readonly alg: string;
      readonly N: number;
      readonly r: number;
      readonly p: number;
      readonly saltBytes: number;
      readonly hashBytes: number;
    };
  };
  /** The bot's Kiwoom credential record (metadata only); absent: none imported. */
  readonly credential?: {
    readonly keyVersion: number;
    /** When the current key version was stored (import, or the last `keys rotate`). */
    readonly createdAt: string;
    readonly updatedAt?: string;
    /** Key provider that wraps this record's data key. */
    readonly provider: string;
    readonly enabled: boolean;
    /** Keyed fingerprint of the app key: the broker session key. */
    readonly keyFingerprint: string;
  };
  /** The primary key provider (local | aws-kms | pkcs11). */
  readonly keyProvider: string;
  readonly upstream: { readonly target: string; readonly url?: string; readonly allowInsecureHttp: boolean };
  /** Admin API principals; `totp`: an approver enrolment (TOTP secret) exists under the same name. */
  readonly admins: readonly { readonly name: string; readonly role: string; readonly totp: boolean }[];
  readonly policy: PosturePolicy;
  /**
   * How far each holiday list reaches (policy: calendar.holidays in force, risk: risk.holidays, compensation:
   * response.compensation.holidays; an empty list is absent), judged against policy.calendarWarnDays
   * (proxy/common/market-calendar.ts). Absent: not gathered.
   */
  readonly calendars?: readonly { readonly calendar: CalendarName; readonly coveredThrough: string; readonly daysLeft: number; readonly short: boolean }[];
  readonly sources: {
    /** risk.location.botCidrs[bot] and risk.location.allowedCidrs, as configured. */
    readonly trustedCidrs: readonly string[];
    /** Source addresses in the bot's behaviour baseline, with when each was last seen. */
    readonly seen: readonly { readonly address: string; readonly lastSeenAt: string }[];
    /** When the baseline started learning; absent: no baseline yet. */
    readonly since?: string;
  };
  readonly audit: {
    readonly sinks: readonly { readonly type: string; readonly id: string; readonly fsync?: string; readonly dir?: string }[];
    /** Signed checkpoints are copied elsewhere (checkpoint.mirrorDir or mirrorRedisKey). */
    readonly checkpointMirror: boolean;
    /** The last `kguard audit verify` of one of these file sinks' directories, if recorded. */
    readonly lastVerify?: { readonly at: string; readonly ok: boolean; readonly target: string; readonly records?: number };
  };
  readonly listen: {
    readonly bot: { readonly host: string; readonly port: number; readonly tls: boolean };
    readonly admin: { readonly host: string; readonly port: number; readonly enabled: boolean; readonly tls: boolean };
  };
  readonly brokerTokens: {
    readonly idleRevokeMs: number;
    /** Live broker sessions of this bot's app key (several bots may share one key). */
    readonly sessions: readonly { readonly state: string; readonly leases: number; readonly ageMs?: number }[];
    /** Seconds this key's ended broker tokens were live on this replica (kguard_broker_token_live_seconds_total sums all keys). */
    readonly liveSecondsTotal: number;
  };
}

export type Bilingual = { readonly ko: string; readonly en: string };

export type CheckArea = 'identity' | 'keys' | 'admins' | 'policy' | 'sources' | 'audit' | 'network';

export interface PostureRecommendation extends Bilingual {
  /** Anchor in docs/security-guide.ko.md and docs/security-guide.en.md (the same id in both). */
  readonly anchor: string;
  readonly link: Bilingual;
}

export interface CheckResult {
  readonly id: string;
  readonly area: CheckArea;
  readonly weight: number;
  readonly status: 'pass' | 'fail';
  readonly title: Bilingual;
  /** What was found, with the numbers. */
  readonly explanation: Bilingual;
  readonly recommendation: PostureRecommendation;
}

export interface BotPosture {
  readonly bot: string;
  readonly owner: string;
  /** 0-100: the weight of the passing checks over the weight of all checks. */
  readonly score: number;
  readonly checks: readonly CheckResult[];
  /** The failed checks' recommendations, most impact (weight) first. */
  readonly recommendations: readonly (PostureRecommendation & { readonly check: string; readonly weight: number })[];
}

export interface PostureReport {
  readonly generatedAt: string;
  readonly bots: readonly BotPosture[];
}
