// The broker sessions' metrics: issue and revoke counts, exposure (live
// seconds per key), waits, deferrals, re-issues and orphans.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface SessionMetrics {
  readonly issued: Counter;
  readonly revoked: Counter<'outcome'>;
  readonly revokeFailures: Counter<'final'>;
  readonly expired: Counter;
  readonly liveSeconds: Counter<'key'>;
  readonly leaseWait: Histogram;
  readonly deferred: Counter;
  readonly reissues: Counter<'reason'>;
  readonly orphans: Counter<'kind'>;
}

export function createSessionMetrics(registry: Registry, outstanding: () => number): SessionMetrics {
  const registers = [registry];
  new Gauge({
    name: 'kguard_broker_tokens_outstanding',
    help: 'App keys whose broker token this replica holds or lingers on',
    registers,
    collect() {
      this.set(outstanding());
    },
  });
  return {
    issued: new Counter({ name: 'kguard_broker_tokens_issued_total', help: 'Broker tokens issued upstream (au10001)', registers }),
    revoked: new Counter({
      name: 'kguard_broker_tokens_revoked_total',
      help: 'Broker tokens ended by a revoke (au10002): revoked; not_registered: Kiwoom no longer knew it [8015]; invalid: it was no longer valid [8005]',
      labelNames: ['outcome'],
      registers,
    }),
    revokeFailures: new Counter({
      name: 'kguard_broker_token_revoke_failures_total',
      help: 'Failed revoke attempts (final="true": gave up retrying fast, keeps retrying slowly until expiry)',
      labelNames: ['final'],
      registers,
    }),
    expired: new Counter({
      name: 'kguard_broker_tokens_expired_total',
      help: 'Broker tokens whose revoke failed and that expired, or would before the next attempt: given up as expired, never revoked',
      registers,
    }),
    liveSeconds: new Counter({
      name: 'kguard_broker_token_live_seconds_total',
      help: 'Seconds a broker token was live, per app key (keyed fingerprint), counted when it ends',
      labelNames: ['key'],
      registers,
    }),
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
    orphans: new Counter({
      name: 'kguard_broker_token_orphans_revoked_total',
      help: 'Tokens nobody held any more (dead replica, crashed process, unfinished issue) revoked by a sweep or at start',
      labelNames: ['kind'],
      registers,
    }),
  };
}
