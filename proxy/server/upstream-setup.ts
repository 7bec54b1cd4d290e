// The upstream side of the sidecar, split from sidecar.ts so startSidecar
// stays a readable list of wiring steps: the Kiwoom client (or the built-in
// simulator on loopback), the per-key governor, the broker-session ledger,
// the shared broker sessions, and the Upstream and gateway the pipeline and
// policy call through. Closers are pushed onto the sidecar's list in wiring
// order, so a failure part-way closes what was opened.
import { randomBytes } from 'node:crypto';
import { toGuardError } from '../common/errors.js';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import { governorLimits, upstreamUrl, type Config } from '../common/config.js';
import { createKiwoomClient, type KiwoomClient } from '../kiwoom/client.js';
import { BrokerSessions } from '../kiwoom/broker-sessions.js';
import { openFileLedger, openStoreLedger } from '../kiwoom/session-ledger.js';
import { Governor } from '../kiwoom/governor.js';
import { Upstream } from '../kiwoom/upstream.js';
import { BrokerGateway } from '../kiwoom/gateway.js';
import type { KeyProvider, ManagedVault } from '../vault/index.js';
import type { ManagedAuditor } from '../audit/index.js';
import type { Store } from '../state/types.js';
import { startSimulator, type Simulator } from '../sim/index.js';

export interface UpstreamDeps {
  config: Config;
  store: Store;
  vault: ManagedVault;
  provider: KeyProvider;
  auditor: ManagedAuditor;
  fingerprintKey: Buffer;
  registry: Registry;
  logger: Logger;
}

export interface UpstreamParts {
  sim?: Simulator;
  /** Where calls go: the simulator's loopback URL, or the configured upstream (undefined if none is configured). */
  baseUrl: string | undefined;
  kiwoom: KiwoomClient;
  governor: Governor;
  brokerSessions: BrokerSessions;
  upstream: Upstream;
  gateway: BrokerGateway;
  /** This process among the replicas (broker leases, realtime ownership). */
  replicaId: string;
  /** The bot's app key fingerprint, refusing a disabled record for 'call'. */
  keyOf(botId: string, purpose: 'call' | 'lockdown' | 'revoke'): Promise<string>;
}

/**
 * The bot whose credentials end (or re-issue) a token of the app key `key`. Sidecars of one account, each in its
 * own pod with its own credential records, share the key's token in Redis: the token a peer's bot issued is
 * revoked here, when this process lets go of it last, with the record of a local bot that holds the same app key.
 * The issuing bot itself when its record here holds that key (always within one data directory: the pool).
 */
export async function credentialsFor(vault: Pick<ManagedVault, 'appKeyOf' | 'list'>, botId: string, key: string | undefined): Promise<string> {
  if (key === undefined) return botId;
  const fingerprint = (f: string) => f.replace(/^hmac-sha256:/, '');
  const own = await vault.appKeyOf(botId, 'revoke').catch((err: unknown) => {
    if (toGuardError(err).code === 'KG4003') return undefined; // no record of that bot here
    throw err;
  });
  if (own !== undefined && fingerprint(own) === key) return botId;
  return (await vault.list()).find((m) => fingerprint(m.appKeyFingerprint) === key)?.botId ?? botId;
}

export async function setupUpstream(deps: UpstreamDeps, closers: (() => Promise<unknown>)[]): Promise<UpstreamParts> {
  const { config, store, vault, provider, auditor, fingerprintKey, registry, logger } = deps;
  let sim: Simulator | undefined;
  let baseUrl = upstreamUrl(config.upstream);
  if (config.upstream.target === 'sim') {
    sim = await startSimulator({ host: '127.0.0.1', port: 0, logger: logger.child({ part: 'sim' }), ideal: config.upstream.sim.ideal });
    closers.push(() => sim!.close());
    baseUrl = sim.url;
    logger.warn(
      { upstream: baseUrl, ideal: config.upstream.sim.ideal },
      '*** NO UPSTREAM CONFIGURED: forwarding to the BUILT-IN KIWOOM SIMULATOR on loopback. No real orders reach Kiwoom. ***',
    );
  }
  const kiwoom = createKiwoomClient({ baseUrl: baseUrl!, ...config.upstream });
  closers.push(() => kiwoom.close());

  // One broker session per app key, shared by every bot and replica of that key.
  const limits = governorLimits(config.upstream, config.brokerTokens.sessionWaitMs);
  if (limits === 'off') logger.warn("upstream.limits is off: nothing keeps calls inside Kiwoom's per-key limits (benchmarks against an ideal simulator only)");
  const governor = new Governor(limits, { store, registry, logger: logger.child({ part: 'governor' }) });
  closers.push(async () => governor.close());
  const keyOf = async (botId: string, purpose: 'call' | 'lockdown' | 'revoke') => (await vault.appKeyOf(botId, purpose)).replace(/^hmac-sha256:/, '');
  const ledger = store.kind === 'redis' ? await openStoreLedger(store, provider, { logger }) : await openFileLedger(config.dataDir, provider, logger);
  closers.push(async () => ledger.close());
  const replicaId = randomBytes(8).toString('hex');
  const brokerSessions = new BrokerSessions(config.brokerTokens, {
    store,
    ledger,
    governor,
    replicaId,
    keyOf,
    issue: async (botId, purpose, requestId, key) =>
      vault.withCredentials(await credentialsFor(vault, botId, key), purpose, (creds) => kiwoom.issueToken(creds), requestId),
    revoke: async (botId, token, key) => vault.withCredentials(await credentialsFor(vault, botId, key), 'revoke', (creds) => kiwoom.revokeToken(creds, token)),
    fingerprintKey,
    registry,
    logger: logger.child({ part: 'broker-sessions' }),
    outageReminderMs: config.log.outageReminderMs,
    onEvent: (type, fields) => {
      auditor.append({ type, ...fields }, { durability: 'write' }).catch((err) => logger.error({ err: String(err), type }, 'broker token audit record failed'));
    },
  });
  // Whatever a previous process left live (kill -9, power loss) is revoked before we serve.
  // With the key provider down at start, once the ledger's data key is loaded (its entries cannot be opened before).
  if (ledger.kind === 'file' && ledger.isLoaded()) await brokerSessions.recover();
  else if (ledger.kind === 'file')
    void ledger.loaded.then(() => brokerSessions.recover()).catch((err) => logger.error({ err: String(err) }, 'broker session recovery failed'));
  brokerSessions.startSweeper();
  closers.push(async () => {
    const { released, live } = await brokerSessions.drain(config.brokerTokens.shutdownRevokeMs ?? 5_000);
    // The drain's end is logged either way: "stopped" alone would read as every token ended when some are still live at Kiwoom.
    if (live.length === 0)
      logger.info({ released }, 'shutdown: every broker token this replica held was let go (revoked, or left to a replica still using it)');
    else
      logger.warn(
        { released, live: live.length, keys: live.slice(0, 20), shutdownRevokeMs: config.brokerTokens.shutdownRevokeMs },
        "shutdown: broker tokens still live at Kiwoom when the wait ended (brokerTokens.shutdownRevokeMs); a peer's sweep revokes them, else they expire",
      );
  });
  const upstream = new Upstream(
    kiwoom,
    brokerSessions,
    governor,
    keyOf,
    { queryRetryBudgetMs: config.brokerTokens.queryRetryBudgetMs },
    registry,
    logger.child({ part: 'upstream' }),
  );
  const gateway = new BrokerGateway(upstream);
  return { sim, baseUrl, kiwoom, governor, brokerSessions, upstream, gateway, replicaId, keyOf };
}
