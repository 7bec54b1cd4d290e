// A process on memory state (the embedded default) keeps its broker tokens in
// the file ledger; these build what a killed process left there and the next
// process that finds it: a new memory store, the same ledger file, broker
// sessions with the revoke (and issue) a test gives.
import type { Test } from 'tap';
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import { BrokerSessions, type BrokerSessionDeps, type BrokerSessionOptions } from '../../proxy/kiwoom/broker-sessions.js';
import { createKiwoomClient, type KiwoomClient } from '../../proxy/kiwoom/client.js';
import { Governor, KIWOOM_LIMITS } from '../../proxy/kiwoom/governor.js';
import { newVersion, openFileLedger, type SessionLedger } from '../../proxy/kiwoom/session-ledger.js';
import { createMemoryStore } from '../../proxy/state/index.js';
import type { KeyProvider } from '../../proxy/vault/index.js';

const silent = pino({ level: 'silent' });

/** A Kiwoom client for the simulator at `url`, with the time-outs the broker tests use. */
export function simClient(url: string, connections = 4): KiwoomClient {
  return createKiwoomClient({
    baseUrl: url,
    connections,
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
}

/** The broker-session options of a restarted process in these tests: quick retries, no periodic sweep in the way. */
export const RESTART_OPTS: BrokerSessionOptions = {
  idleRevokeMs: 0,
  renewBeforeMs: 60_000,
  leaseTtlMs: 2_000,
  issueLockTtlMs: 50,
  sessionWaitMs: 10_000,
  revokeAttempts: 2,
  revokeBaseDelayMs: 10,
  revokeMaxDelayMs: 20,
  sweepIntervalMs: 60_000,
};

/** What a killed process leaves for `key`: its token sealed in the ledger file at `dataDir`. */
export async function leaveToken(
  dataDir: string,
  provider: KeyProvider,
  left: { key: string; botId: string; token: Buffer; expiresAt: number },
): Promise<void> {
  const ledger = await openFileLedger(dataDir, provider, silent);
  const version = newVersion();
  await ledger.recorded(left.key, {
    v: 1,
    botId: left.botId,
    version,
    issuedAt: Date.now(),
    expiresAt: left.expiresAt,
    tokenFp: 'fp',
    sealed: ledger.seal(left.key, version, left.expiresAt, left.token),
  });
  ledger.close();
}

/** The next process: a new memory store, the same ledger file, broker sessions revoking (and issuing) as given. */
export async function restartedProcess(
  t: Test,
  dataDir: string,
  provider: KeyProvider,
  deps: Pick<BrokerSessionDeps, 'revoke'> & Partial<Pick<BrokerSessionDeps, 'issue' | 'keyOf'>> & { logger?: Logger; opts?: BrokerSessionOptions },
): Promise<{ sessions: BrokerSessions; ledger: SessionLedger }> {
  const logger = deps.logger ?? silent;
  const ledger = await openFileLedger(dataDir, provider, logger);
  t.teardown(() => ledger.close());
  const store = createMemoryStore();
  t.teardown(() => store.close());
  const registry = new Registry();
  const governor = new Governor({ ...KIWOOM_LIMITS }, { store, registry, logger });
  t.teardown(() => governor.close());
  const sessions = new BrokerSessions(deps.opts ?? RESTART_OPTS, {
    store,
    ledger,
    governor,
    replicaId: 'after-restart',
    keyOf: deps.keyOf ?? (async () => 'unused'),
    issue: deps.issue ?? (() => Promise.reject(new Error('no issue expected'))),
    revoke: deps.revoke,
    fingerprintKey: Buffer.alloc(32, 9),
    registry,
    logger,
  });
  t.teardown(() => sessions.drain(1_000));
  return { sessions, ledger };
}
