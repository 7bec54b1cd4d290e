// The upstream side of the sidecar, split from sidecar.ts so startSidecar
// stays a readable list of wiring steps: the Kiwoom client (or the built-in
// simulator on loopback), the per-key governor, the broker-session ledger,
// the shared broker sessions, and the Upstream and gateway the pipeline and
// policy call through. Closers are pushed onto the sidecar's list in wiring
// order, so a failure part-way closes what was opened.
import { randomBytes } from 'node:crypto';
import { GuardError, toGuardError } from '../common/errors.js';
import { Gauge, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import { governorLimits, upstreamUrl, type Config } from '../common/config.js';
import { createKiwoomClient, type BrokerToken, type KiwoomClient, type RevokeOutcome } from '../kiwoom/client.js';
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
 * The record whose credentials act for the app key `key` (keyed fingerprint): the bot's own when it still holds that
 * key, else another local record holding it (a bot sharing the key; in the sidecar shape, where each pod has its
 * own records, the local bot of the key whose token a peer's bot issued). KG4003 when none holds it any more
 * (rotated or removed). Only "no record" lets another record stand in: any other failure (a file's mode, a
 * damaged record) is the caller's to retry.
 */
export async function holderOf(vault: Pick<ManagedVault, 'appKeyOf' | 'holdersOf'>, botId: string, key: string): Promise<string> {
  const schemeless = (fingerprint: string) => fingerprint.replace(/^hmac-sha256:/, '');
  const own = await vault.appKeyOf(botId, 'revoke').catch((err: unknown) => {
    if (toGuardError(err).code === 'KG4003') return undefined;
    throw err;
  });
  if (own !== undefined && schemeless(own) === key) return botId;
  const [other] = await vault.holdersOf(key);
  if (other === undefined) throw new GuardError('KG4003', 'no credential record holds the app key that issued this broker token (rotated or removed)');
  return other;
}

/**
 * Issues for the session of `key`. A call's issue uses the bot's own credentials, and is refused KG4003 when the
 * bot's record holds another app key by then (`keys rotate` between admission and issue): the new key's token would
 * otherwise be filed under the old key's session, where no record holding that key could revoke it; nothing is asked
 * of Kiwoom and the next call uses the new key. A sweep's re-issue of an orphan (purpose 'lockdown', to revoke it)
 * may use any record holding the key.
 */
export function issueUnderKey(
  vault: Pick<ManagedVault, 'appKeyOf' | 'holdersOf' | 'withCredentials'>,
  kiwoom: Pick<KiwoomClient, 'issueToken'>,
): (botId: string, purpose: 'call' | 'lockdown', requestId: string | undefined, key: string) => Promise<BrokerToken> {
  return async (botId, purpose, requestId, key) => {
    const who = purpose === 'lockdown' ? await holderOf(vault, botId, key) : botId;
    return vault.withCredentials(who, purpose, (creds) => kiwoom.issueToken(creds), requestId, key);
  };
}

/**
 * Revokes a broker token with the credentials of the app key that issued it (`key`), held by whichever record
 * holds it (holderOf). After `keys rotate` the bot's record holds another app key, whose credentials Kiwoom refuses
 * for this token ([8015], read as "already gone") while the token stays live; with no record left the failure is
 * KG4003, never a revoke.
 */
export function revokeWithIssuingKey(
  vault: Pick<ManagedVault, 'appKeyOf' | 'holdersOf' | 'withCredentials'>,
  kiwoom: Pick<KiwoomClient, 'revokeToken'>,
): (botId: string, token: Buffer, key: string) => Promise<RevokeOutcome> {
  // The key is checked again on the record decrypted: it may be rotated between the look-up and the decrypt.
  return async (botId, token, key) =>
    vault.withCredentials(await holderOf(vault, botId, key), 'revoke', (creds) => kiwoom.revokeToken(creds, token), undefined, key);
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
  // What /readyz says as its `upstream` warning, for Prometheus: every call is refused KG5001/KG5002 while it is 0.
  new Gauge({
    name: 'kguard_upstream_up',
    help: 'Kiwoom answers: 0 from a request that got no answer (refused, unreachable, timed out) until the next answered one',
    registers: [registry],
    collect() {
      this.set(kiwoom.unreachable?.() ? 0 : 1);
    },
  });

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
    issue: issueUnderKey(vault, kiwoom),
    revoke: revokeWithIssuingKey(vault, kiwoom),
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
