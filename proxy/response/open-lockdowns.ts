// The lockdowns in force now, as a gauge every replica reports the same: the
// counter of lockdowns issued shows an event, and an alert on its increase
// clears minutes later while the lockdown holds until an unlock. The open
// incidents' ids are kept in one small hash of the shared store (field: the id),
// added when a lockdown is recorded and removed at its unlock, so a scrape
// reads that hash and those few records, not every incident retained.
//
// A lockdown holds until an unlock, but its incident's records expire with
// response.incidentRetentionDays: a lockdown left in force that long would
// outlive them, its bots locked with no incident the admin API can show or
// unlock. So each replica renews the retention of every incident still locked
// (its record, its index entry and the records kept beside it) when it reads
// them, at most once an hour per incident, and reads them at least hourly.
import { Gauge } from 'prom-client';
import { MAX_KEYS_PER_READ } from '../state/index.js';
import type { ResponseContext } from './context.js';
import type { Incident, LockdownScope } from './incident.js';
import { K } from './keys.js';

export interface OpenLockdowns {
  /** The incident is recorded and locked: counted from now on, on every replica. */
  opened(inc: Incident): Promise<void>;
  /** The incident is unlocked (its record already says so). */
  closed(id: string): Promise<void>;
  /** Reads the open lockdowns now, renewing the retention of those still locked (what the hourly timer runs). */
  sweep(): Promise<Record<ScopeKind, number>>;
  close(): void;
}

/** How often a locked incident's retention is renewed (and the open lockdowns read without a scrape). */
export const RENEW_EVERY_MS = 3_600_000;
/** The records an incident keeps beside its own, each with the incident's retention. */
const KEPT_BESIDE = [K.checklist, K.approvals, K.compensation, K.notifications, K.brokerTokens, K.cancelRetries, K.lateOrders, K.stopped];

export type ScopeKind = 'bot' | 'account' | 'all';
const KINDS: readonly ScopeKind[] = ['bot', 'account', 'all'];
const METRIC = 'kguard_lockdowns_open';
const kindOf = (s: LockdownScope): ScopeKind => (s.all ? 'all' : s.account ? 'account' : 'bot');

export function createOpenLockdowns(ctx: ResponseContext): OpenLockdowns {
  const { opts, store, logger, cfg, now } = ctx;
  /** When this process last renewed each locked incident's retention. */
  const renewedAt = new Map<string, number>();

  async function keepRecords(inc: Incident): Promise<void> {
    const last = renewedAt.get(inc.id);
    if (last !== undefined && now() - last < RENEW_EVERY_MS) return;
    const ttl = cfg.incidentRetentionMs;
    await Promise.all([store.expire(K.incident(inc.id), ttl), ...KEPT_BESIDE.map((key) => store.expire(key(inc.id), ttl))]);
    await store.hset(K.index, inc.id, inc.createdAt, ttl);
    renewedAt.set(inc.id, now());
  }

  /**
   * Once per process, at its first scrape: the incidents the index says are locked are added, so one locked before
   * this hash was kept (an upgrade during a lockdown), or whose entry was not written (the Store failed then), counts.
   */
  let seeded = false;

  async function seed(): Promise<void> {
    if (seeded) return;
    const ids = Object.keys(await store.hgetall(K.index));
    for (let i = 0; i < ids.length; i += MAX_KEYS_PER_READ) {
      const page = ids.slice(i, i + MAX_KEYS_PER_READ);
      const records = await store.mget(page.map(K.incident));
      for (const json of records) {
        const inc = json ? (JSON.parse(json) as Incident) : undefined;
        if (inc?.status === 'locked') await store.hset(K.open, inc.id, inc.createdAt);
      }
    }
    seeded = true;
  }

  /**
   * The open incidents by scope kind, each still locked kept for its retention; an entry whose record is unlocked or
   * gone (expired with its retention) is dropped.
   */
  async function count(): Promise<Record<ScopeKind, number>> {
    await seed();
    const out: Record<ScopeKind, number> = { bot: 0, account: 0, all: 0 };
    const ids = Object.keys(await store.hgetall(K.open));
    for (let i = 0; i < ids.length; i += MAX_KEYS_PER_READ) {
      const page = ids.slice(i, i + MAX_KEYS_PER_READ);
      const records = await store.mget(page.map(K.incident));
      for (const [j, json] of records.entries()) {
        const inc = json ? (JSON.parse(json) as Incident) : undefined;
        if (inc?.status === 'locked') {
          out[kindOf(inc.scope)]++;
          await keepRecords(inc);
          continue;
        }
        // An unlock that stopped before removing its entry, or a record expired: no lockdown the admin API can show.
        renewedAt.delete(page[j]!);
        await store.hdel(K.open, page[j]!).catch(() => undefined);
      }
    }
    return out;
  }

  // Read from the shared store at scrape time, so every replica reports the same lockdowns. A second responder on one
  // registry (tests) leaves the first one's gauge: both read the same store.
  if (!opts.registry.getSingleMetric(METRIC)) {
    const g = new Gauge({
      name: METRIC,
      help: 'Lockdowns in force now (all replicas), by scope: bot, account or all; an unlock ends one',
      labelNames: ['scope'],
      registers: [opts.registry],
      async collect() {
        try {
          const n = await count();
          for (const scope of KINDS) this.set({ scope }, n[scope]);
        } catch (err) {
          // Store down: the last value stays (an open lockdown does not vanish); kguard_state_errors_total says why.
          logger.debug({ err: (err as Error).message }, 'open lockdowns not read');
        }
      },
    });
    for (const scope of KINDS) g.set({ scope }, 0);
  }

  // Not left to scrapes: without Prometheus the records must still outlive the lock.
  const timer = setInterval(() => {
    count().catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'locked incidents not renewed; next try in an hour'));
  }, RENEW_EVERY_MS);
  timer.unref();

  return {
    async opened(inc) {
      await store.hset(K.open, inc.id, inc.createdAt);
    },
    async closed(id) {
      renewedAt.delete(id);
      await store.hdel(K.open, id);
    },
    sweep: count,
    close: () => clearInterval(timer),
  };
}
