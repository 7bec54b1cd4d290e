// One process on memory state (the embedded default) keeps its broker tokens
// in the file ledger; killed, the next process revokes every token it left
// before its listener opens. It did so one key after another, each revoke
// retried with back-off (8 attempts: 11-23 s per key while Kiwoom fails
// them), so a single machine serving hundreds of keys that restarted during a
// Kiwoom outage stayed closed for hours, and even with Kiwoom answering it
// paid one round trip per key in turn. Keys are independent: their leftovers
// are revoked brokerTokens.recoverConcurrency at a time (default 16).
import t from 'tap';
import path from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { BrokerSessions } from '../../proxy/kiwoom/broker-sessions.js';
import { createKiwoomClient } from '../../proxy/kiwoom/client.js';
import { Governor, KIWOOM_LIMITS } from '../../proxy/kiwoom/governor.js';
import { newVersion, openFileLedger } from '../../proxy/kiwoom/session-ledger.js';
import { startSimulator } from '../../proxy/sim/index.js';
import { createMemoryStore } from '../../proxy/state/index.js';
import { createLocalKeyProvider } from '../../proxy/vault/index.js';
import { waitFor } from '../helpers/harness.js';

const KEYS = 4;
const app = (i: number) => ({ appKey: `RECOVERmanyAPPkey${i}a2b3c4d5e`, secretKey: `RECOVERmanySECRETkey${i}f5e4d3c2b1a` });
const logger = pino({ level: 'silent' });

t.test('the leftovers of many keys are revoked concurrently at start', async (t) => {
  const sim = await startSimulator({});
  t.teardown(() => sim.close());
  for (let i = 0; i < KEYS; i++) sim.registerApp({ ...app(i), accountNo: `70004444${i}0`, cash: 1_000_000, holdings: [] });
  const dataDir = t.testdir({});
  const provider = await createLocalKeyProvider({ masterKeyFile: path.join(dataDir, 'master.key') });
  const client = createKiwoomClient({
    baseUrl: sim.url,
    connections: 8,
    connectTimeoutMs: 2_000,
    headersTimeoutMs: 5_000,
    bodyTimeoutMs: 5_000,
    answerTimeoutMs: 10_000,
    revokeTimeoutMs: 3_000,
    keepAliveTimeoutMs: 4_000,
    maxResponseBytes: 1 << 20,
    limits: {},
    sim: { ideal: false },
  });
  t.teardown(() => client.close());
  const creds = (botId: string) => {
    const a = app(Number(botId.slice('bot-left-'.length)));
    return { appKey: Buffer.from(a.appKey), secretKey: Buffer.from(a.secretKey) };
  };

  // What the killed process left: one live token per key, each recorded (sealed) in the ledger file.
  const before = await openFileLedger(dataDir, provider, logger);
  for (let i = 0; i < KEYS; i++) {
    const issued = await client.issueToken(creds(`bot-left-${i}`));
    const version = newVersion();
    const expiresAt = issued.expiresAt.getTime();
    const key = `recoverkey${i}`;
    await before.recorded(key, {
      v: 1,
      botId: `bot-left-${i}`,
      version,
      issuedAt: Date.now(),
      expiresAt,
      tokenFp: 'fp',
      sealed: before.seal(key, version, expiresAt, issued.token),
    });
    issued.token.fill(0);
  }
  before.close();
  t.equal(sim.liveTokens(), KEYS, 'a token is live at Kiwoom for each key');

  const ledger = await openFileLedger(dataDir, provider, logger);
  t.teardown(() => ledger.close());
  const store = createMemoryStore();
  t.teardown(() => store.close());
  const registry = new Registry();
  const governor = new Governor({ ...KIWOOM_LIMITS }, { store, registry, logger });
  t.teardown(() => governor.close());
  // Kiwoom slow to answer revokes: each waits until released, so the revokes asked at once can be counted.
  let inFlight = 0;
  let most = 0;
  let release!: () => void;
  const slow = new Promise<void>((r) => {
    release = r;
  });
  const sessions = new BrokerSessions(
    {
      idleRevokeMs: 0,
      renewBeforeMs: 60_000,
      leaseTtlMs: 2_000,
      issueLockTtlMs: 2_000,
      sessionWaitMs: 10_000,
      revokeAttempts: 2,
      revokeBaseDelayMs: 10,
      revokeMaxDelayMs: 20,
      sweepIntervalMs: 60_000,
    },
    {
      store,
      ledger,
      governor,
      replicaId: 'after-restart',
      keyOf: async () => 'unused',
      issue: () => Promise.reject(new Error('no issue expected')),
      revoke: async (botId, token) => {
        most = Math.max(most, ++inFlight);
        try {
          await slow;
          return await client.revokeToken(creds(botId), token);
        } finally {
          inFlight--;
        }
      },
      fingerprintKey: Buffer.alloc(32, 9),
      registry,
      logger,
    },
  );
  t.teardown(() => sessions.drain(1_000));

  const recovering = sessions.recover();
  const concurrent = await waitFor(() => inFlight >= 2, 10_000, 'a second revoke while the first waits').then(
    () => true,
    () => false,
  );
  release();
  t.equal(await recovering, KEYS, 'every leftover revoked');
  t.ok(concurrent, `the keys' revokes were asked at once (at most ${most} in flight)`);
  t.equal(sim.liveTokens(), 0, 'no token left live');
  t.equal((await ledger.entries()).length, 0, 'nor in the ledger');
});
