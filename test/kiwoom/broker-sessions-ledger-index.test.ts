// Two replicas' broker sessions on one Redis, in one process, against the
// simulator: the shared ledger index must keep naming a key while a token of
// it is live, or a peer's sweep cannot revoke that token once its holder dies.
// A replica that learns late that the key's previous token died ([8005] on a
// call that was in flight) must not drop the index entry of the token a peer
// issued since.
import t from 'tap';
import path from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { BrokerSessions, type BrokerSessionOptions } from '../../proxy/kiwoom/broker-sessions.js';
import { createKiwoomClient } from '../../proxy/kiwoom/client.js';
import { Governor, KIWOOM_LIMITS } from '../../proxy/kiwoom/governor.js';
import { openStoreLedger } from '../../proxy/kiwoom/session-ledger.js';
import { startSimulator } from '../../proxy/sim/index.js';
import { createStore, parseStateConfig } from '../../proxy/state/index.js';
import { createLocalKeyProvider } from '../../proxy/vault/index.js';
import { waitFor } from '../helpers/harness.js';
import { startRedis } from '../helpers/redis.js';

const APP = { appKey: 'LEDGERidxAPPkey1a2b3c4d5e6f', secretKey: 'LEDGERidxSECRETkey6f5e4d3c2b1a0f' };
const KEY = 'ledgeridxkey';
const logger = pino({ level: 'silent' });

const OPTS: BrokerSessionOptions = {
  idleRevokeMs: 0,
  cadenceLingerMs: 0,
  renewBeforeMs: 60_000,
  leaseTtlMs: 600,
  issueLockTtlMs: 2_000,
  sessionWaitMs: 10_000,
  revokeAttempts: 3,
  revokeBaseDelayMs: 20,
  revokeMaxDelayMs: 200,
  sweepIntervalMs: 60_000,
};

t.test("a replica's late [8005] on the previous token keeps the index entry of the token a peer issued since", async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.cleanup());
  const sim = await startSimulator({});
  t.teardown(() => sim.close());
  sim.registerApp({ ...APP, accountNo: '7000111122', cash: 1_000_000, holdings: [] });
  const provider = await createLocalKeyProvider({ masterKeyFile: path.join(t.testdir({}), 'master.key') });
  const client = createKiwoomClient({
    baseUrl: sim.url,
    connections: 4,
    connectTimeoutMs: 2_000,
    headersTimeoutMs: 5_000,
    bodyTimeoutMs: 5_000,
    keepAliveTimeoutMs: 4_000,
    maxResponseBytes: 1 << 20,
    limits: {},
    sim: { ideal: false },
  });
  t.teardown(() => client.close());
  const creds = () => ({ appKey: Buffer.from(APP.appKey), secretKey: Buffer.from(APP.secretKey) });

  async function replica(name: string) {
    const registry = new Registry();
    const store = await createStore(parseStateConfig({ backend: 'redis', redis: { url: redis.url, commandTimeoutMs: 2_000 } }), { logger, registry });
    const ledger = await openStoreLedger(store, provider);
    const governor = new Governor({ ...KIWOOM_LIMITS }, { store, registry, logger });
    const sessions = new BrokerSessions(OPTS, {
      store,
      ledger,
      governor,
      replicaId: name,
      keyOf: async () => KEY,
      issue: () => client.issueToken(creds()),
      revoke: (_bot, token) => client.revokeToken(creds(), token),
      fingerprintKey: Buffer.alloc(32, 7),
      registry,
      logger,
    });
    return { store, ledger, governor, sessions, registry };
  }
  const A = await replica('replica-a');
  const B = await replica('replica-b');
  t.teardown(async () => {
    await B.sessions.drain(2_000);
    B.governor.close();
    await B.store.close();
  });

  // Both replicas have a call out on the key's token.
  const a1 = await A.sessions.acquire('bot-a');
  const b1 = await B.sessions.acquire('bot-b');
  t.equal(sim.stats().tokensIssued, 1, 'one token for the key');
  // Kiwoom ends it behind our back; A's call hears [8005] first and A issues afresh at once.
  t.equal(sim.revokeAll(), 1);
  a1.invalidate();
  a1.release();
  const a2 = await A.sessions.acquire('bot-a');
  t.equal(sim.stats().tokensIssued, 2, 'A issued the next token');
  t.not(a2.fingerprint, b1.fingerprint);
  // B's call, sent with the old token, hears [8005] only now.
  b1.invalidate();
  b1.release();
  // B has dropped the dead token once it has counted its exposure.
  const exposure = B.registry.getSingleMetric('kguard_broker_token_live_seconds_total')!;
  await waitFor(async () => (await exposure.get()).values.length > 0, 5_000, 'B dropped the dead token');
  t.same(
    (await B.ledger.entries()).map((e) => e.key),
    [KEY],
    'the index still names the key: a token of it is live',
  );

  // A dies holding the new token (its connection to shared state is gone; its lease lapses).
  await A.store.close();
  A.governor.close();
  await waitFor(
    async () => {
      await B.sessions.sweep();
      return sim.liveTokens() === 0;
    },
    10_000,
    "B's sweep revokes the token its dead peer held",
  );
  t.equal(sim.liveTokens(), 0);
  a2.release();
});
