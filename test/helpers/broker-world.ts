// Replicas' broker sessions in one process, on one real Redis (each replica
// its own Store connection), against the faithful simulator: for tests that
// need to interleave two replicas deterministically (held revokes, a replica
// killed, a Store operation observed).
import type { Test } from 'tap';
import path from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { BrokerSessions, type BrokerSessionOptions } from '../../proxy/kiwoom/broker-sessions.js';
import { Governor, KIWOOM_LIMITS, type GovernorLimits } from '../../proxy/kiwoom/governor.js';
import { Upstream } from '../../proxy/kiwoom/upstream.js';
import { openStoreLedger } from '../../proxy/kiwoom/session-ledger.js';
import { startSimulator, type SimOptions } from '../../proxy/sim/index.js';
import { createStore, parseStateConfig, type Store } from '../../proxy/state/index.js';
import { createLocalKeyProvider } from '../../proxy/vault/index.js';
import { simClient } from './leftover-world.js';
import { startRedis } from './redis.js';

export const WORLD_APP = { appKey: 'LEDGERidxAPPkey1a2b3c4d5e6f', secretKey: 'LEDGERidxSECRETkey6f5e4d3c2b1a0f' };
export const WORLD_KEY = 'ledgeridxkey';
const logger = pino({ level: 'silent' });

export const WORLD_OPTS: BrokerSessionOptions = {
  idleRevokeMs: 0,
  cadenceLingerMs: 0,
  renewBeforeMs: 60_000,
  leaseTtlMs: 2_000,
  issueLockTtlMs: 2_000,
  sessionWaitMs: 10_000,
  revokeAttempts: 3,
  revokeBaseDelayMs: 20,
  revokeMaxDelayMs: 200,
  sweepIntervalMs: 60_000,
};

/** A Redis, the simulator, and replicas' broker sessions on them (each its own Store connection). */
export async function brokerWorld(t: Test, simOptions: SimOptions = {}) {
  const redis = await startRedis();
  const sim = await startSimulator(simOptions);
  // Closed in order: the replicas still alive, then the client, the simulator and Redis.
  const alive = new Set<{ stop(): Promise<void> }>();
  t.teardown(async () => {
    for (const r of alive) await r.stop();
    await client.close();
    await sim.close();
    await redis.cleanup();
  });
  sim.registerApp({ ...WORLD_APP, accountNo: '7000111122', cash: 1_000_000, holdings: [] });
  const provider = await createLocalKeyProvider({ masterKeyFile: path.join(t.testdir({}), 'master.key') });
  const client = simClient(sim.url);
  const creds = () => ({ appKey: Buffer.from(WORLD_APP.appKey), secretKey: Buffer.from(WORLD_APP.secretKey) });

  /**
   * A replica. `gate` runs before each of its revokes (a slow Kiwoom, deterministically; a rejection is a
   * failed revoke); `spy` wraps the Store its broker sessions use (to observe an operation).
   */
  async function replica(
    name: string,
    gate?: () => Promise<void>,
    opts: BrokerSessionOptions = WORLD_OPTS,
    spy?: (store: Store) => Store,
    limits: GovernorLimits = { ...KIWOOM_LIMITS },
  ) {
    const registry = new Registry();
    const store = await createStore(parseStateConfig({ backend: 'redis', redis: { url: redis.url, commandTimeoutMs: 2_000 } }), { logger, registry });
    const ledger = await openStoreLedger(store, provider);
    const governor = new Governor(limits, { store, registry, logger });
    const sessions = new BrokerSessions(opts, {
      store: spy ? spy(store) : store,
      ledger,
      governor,
      replicaId: name,
      keyOf: async () => WORLD_KEY,
      issue: () => client.issueToken(creds()),
      revoke: async (_bot, token) => {
        await gate?.();
        return client.revokeToken(creds(), token);
      },
      fingerprintKey: Buffer.alloc(32, 7),
      registry,
      logger,
    });
    /** The whole upstream path of this replica (governor slot, broker session, the call). */
    const upstream = new Upstream(client, sessions, governor, async () => WORLD_KEY, { queryRetryBudgetMs: 3_000 }, registry, logger);
    const r = {
      store,
      ledger,
      sessions,
      registry,
      governor,
      upstream,
      /** Dies: its connection to shared state is gone, so its leases lapse. */
      async kill() {
        alive.delete(r);
        governor.close();
        await store.close();
      },
      async stop() {
        await sessions.drain(2_000);
        await r.kill();
      },
    };
    alive.add(r);
    return r;
  }
  return { sim, replica, redis };
}
