// The broker sessions' metrics: issue and revoke counts, exposure (live
// seconds), waits, deferrals, re-issues and orphans. No label carries an app
// key: at thousands of keys that is thousands of series Prometheus keeps and
// this process never forgets. Per-key exposure stays in process (the posture
// report reads it) and the alert watches the oldest live token instead.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { KeyState } from './session-types.js';

/** Seconds broker tokens were live, counted when each ends: in total (the metric) and per app key (in process). */
export interface Exposure {
  add(key: string, seconds: number): void;
  /** Live seconds of this key's ended tokens on this replica since start; undefined while none has ended. */
  secondsFor(key: string): number | undefined;
}

const exposures = new WeakMap<Registry, Exposure>();

/** The exposure ledger of the broker sessions on this registry (the posture report's per-key figure). */
export function exposureOf(registry: Registry): Exposure | undefined {
  return exposures.get(registry);
}

/** Why an issue gave no token: Kiwoom refused it (KG5004), refused it for rate (KG5006), the credentials could not be used (KG4xxx), or no answer came. */
export const ISSUE_FAILURES = ['refused', 'rate', 'credentials', 'unanswered'] as const;

export interface SessionMetrics {
  readonly issued: Counter;
  readonly issueFailures: Counter<'reason'>;
  readonly revoked: Counter<'outcome'>;
  readonly revokeFailures: Counter<'final'>;
  readonly expired: Counter;
  readonly liveSeconds: Exposure;
  readonly leaseWait: Histogram;
  readonly deferred: Counter;
  readonly reissues: Counter<'reason'>;
  readonly orphans: Counter<'kind'>;
}

export function createSessionMetrics(registry: Registry, outstanding: () => number, keys: ReadonlyMap<string, KeyState> = new Map()): SessionMetrics {
  const registers = [registry];
  new Gauge({
    name: 'kguard_broker_tokens_outstanding',
    help: 'App keys whose broker token this replica holds or lingers on',
    registers,
    collect() {
      this.set(outstanding());
    },
  });
  new Gauge({
    name: 'kguard_broker_token_oldest_live_seconds',
    help: 'Age of the oldest broker token this replica holds or lingers on (0: none); GET /admin/v1/broker-sessions names its key',
    registers,
    collect() {
      const now = Date.now();
      let oldest = 0;
      for (const k of keys.values()) if (k.gen && !k.gen.dead) oldest = Math.max(oldest, (now - k.gen.record.issuedAt) / 1000);
      this.set(oldest);
    },
  });
  const liveTotal = new Counter({
    name: 'kguard_broker_token_live_seconds_total',
    help: 'Seconds broker tokens were live, counted when each ends (per key: the posture report)',
    registers,
  });
  // One number per app key this replica used: the same scale as its broker sessions' own key map.
  const perKey = new Map<string, number>();
  const liveSeconds: Exposure = {
    add(key, seconds) {
      liveTotal.inc(seconds);
      perKey.set(key, (perKey.get(key) ?? 0) + seconds);
    },
    secondsFor: (key) => perKey.get(key),
  };
  exposures.set(registry, liveSeconds);
  const revokeFailures = new Counter({
    name: 'kguard_broker_token_revoke_failures_total',
    help: 'Failed revoke attempts (final="true": gave up retrying fast, keeps retrying slowly until expiry)',
    labelNames: ['final'],
    registers,
  });
  const orphans = new Counter({
    name: 'kguard_broker_token_orphans_revoked_total',
    help: 'Tokens nobody held any more (dead replica, crashed process, unfinished issue) revoked by a sweep or at start',
    labelNames: ['kind'],
    registers,
  });
  const issueFailures = new Counter({
    name: 'kguard_broker_token_issue_failures_total',
    help: "Broker token issues (au10001) that gave no token, by reason: refused (Kiwoom said no: KG5004), rate (Kiwoom's issue limit: KG5006), credentials (KG4xxx), unanswered (Kiwoom unreachable or no answer)",
    labelNames: ['reason'],
    registers,
  });
  // Alerts watch these for their first event: a series born at 1 shows Prometheus no increase, so each starts at 0.
  for (const reason of ISSUE_FAILURES) issueFailures.inc({ reason }, 0);
  for (const final of ['true', 'false']) revokeFailures.inc({ final }, 0);
  for (const kind of ['restart', 'unheld', 'unfinished_issue']) orphans.inc({ kind }, 0);
  return {
    issued: new Counter({ name: 'kguard_broker_tokens_issued_total', help: 'Broker tokens issued upstream (au10001)', registers }),
    issueFailures,
    revoked: new Counter({
      name: 'kguard_broker_tokens_revoked_total',
      help: 'Broker tokens ended by a revoke (au10002): revoked; not_registered: Kiwoom no longer knew it [8015]; invalid: it was no longer valid [8005]',
      labelNames: ['outcome'],
      registers,
    }),
    revokeFailures,
    expired: new Counter({
      name: 'kguard_broker_tokens_expired_total',
      help: 'Broker tokens whose revoke failed and that expired, or would before the next attempt, or that no credentials can revoke (keys rotated): given up as expired, never revoked',
      registers,
    }),
    liveSeconds,
    leaseWait: new Histogram({
      name: 'kguard_broker_lease_wait_seconds',
      help: "Time a call waited for its key's broker token (issue, or another replica's issue or revoke)",
      registers,
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    }),
    deferred: new Counter({
      name: 'kguard_broker_token_revoke_deferred_total',
      help: "Revokes held back because a re-issue would exceed Kiwoom's token issue limit",
      registers,
    }),
    reissues: new Counter({
      name: 'kguard_broker_token_reissues_total',
      help: 'Tokens dropped before their time and issued again (8005: Kiwoom said invalid; renew: close to expiry)',
      labelNames: ['reason'],
      registers,
    }),
    orphans,
  };
}

/** A token given up for renewal, counted once per token on this replica (it may look at it many times while a peer holds it). */
export function countRenewal(m: Pick<SessionMetrics, 'reissues'>, k: KeyState, version: string): void {
  if (k.renewCounted === version) return;
  k.renewCounted = version;
  m.reissues.inc({ reason: 'renew' });
}
