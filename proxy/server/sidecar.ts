// Wires the parts into a running sidecar: state, vault, audit, policy, auth,
// the upstream client (or the built-in simulator), the stage pipeline, the
// bot listener and the admin listener. Every part gets its logger, metrics
// registry and store here; nothing is a module-level singleton.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Registry, collectDefaultMetrics, Counter, Gauge } from 'prom-client';
import type { Logger } from 'pino';
import { governorLimits, upstreamUrl, type Config } from '../common/config.js';
import { createLogger } from '../common/logger.js';
import { ensurePrivateDir } from '../common/fsutil.js';
import { GuardError } from '../common/errors.js';
import { BotRegistry, Sessions, loadSigningKey, OK_MESSAGE } from '../auth/index.js';
import { createKiwoomClient, type KiwoomClient } from '../kiwoom/client.js';
import { BrokerSessions } from '../kiwoom/broker-sessions.js';
import { openFileLedger, openStoreLedger } from '../kiwoom/session-ledger.js';
import { Governor } from '../kiwoom/governor.js';
import { Upstream } from '../kiwoom/upstream.js';
import { BrokerGateway } from '../kiwoom/gateway.js';
import { randomBytes } from 'node:crypto';
import { createVault, createKeyProvider, createReadProviders, parseVaultConfig, type ManagedVault } from '../vault/index.js';
import { createAuditor, parseAuditConfig, type ManagedAuditor } from '../audit/index.js';
import { createPolicyEngine, parsePolicyConfig } from '../policy/index.js';
import type { PolicyEngine } from '../policy/types.js';
import { createMemoryStore, createStore, parseStateConfig, stateRoutes, stateFlushReadiness, withReadOnlyFallback, type RedisStore } from '../state/index.js';
import { lookupApi } from '../kiwoom/catalogue.js';
import type { Store } from '../state/types.js';
import { startSimulator, type Simulator } from '../sim/index.js';
import { createAdminServer } from '../admin/server.js';
import { AdminTokens } from '../admin/tokens.js';
import type { ReadinessCheck } from '../admin/health.js';
import { buildPipelines } from './pipeline/index.js';
import { createBotControl, type BotControl } from './bot-control.js';
import { createBotListener } from './listener.js';
import { requestScope, createMarketData } from './market.js';
import type { RequestContext } from './context.js';
import { ensureDemo, type DemoInfo } from './demo.js';
import { coreAdminRoutes } from './admin-routes.js';
import { createRiskEngine, parseRiskConfig, type RiskEngine } from '../risk/index.js';
import { createApprovalService, createKeyProviderSealer, parseApprovalConfig, approvalRoutes, type ApprovalService } from '../approval/index.js';
import { createResponder, kiwoomBrokerGateway, parseResponseConfig, responseRoutes, type Responder } from '../response/index.js';

export interface SidecarOptions {
  logger?: Logger;
  /** Resolves relative paths (the policy file). Default process.cwd(). */
  cwd?: string;
  /** Clock for behaviour analysis (risk time-of-week, live counters); tests replay other hours. */
  clock?: () => number;
}

export interface SidecarParts {
  config: Config;
  logger: Logger;
  registry: Registry;
  store: Store;
  vault: ManagedVault;
  auditor: ManagedAuditor;
  policy: PolicyEngine;
  bots: BotRegistry;
  sessions: Sessions;
  kiwoom: KiwoomClient;
  brokerSessions: BrokerSessions;
  /** Disable a bot / end its sessions: one meaning for the admin API, the CLI and lockdown. */
  botControl: BotControl;
  governor: Governor;
  upstream: Upstream;
  gateway: BrokerGateway;
  risk: RiskEngine;
  approvals: ApprovalService;
  responder: Responder;
  sim?: Simulator;
}

export interface Sidecar {
  readonly url: string;
  readonly adminUrl?: string;
  readonly upstreamUrl: string;
  readonly parts: SidecarParts;
  readonly demo?: DemoInfo;
  close(): Promise<void>;
}

async function listen(server: Server, host: string, port: number): Promise<string> {
  server.listen(port, host);
  await once(server, 'listening');
  const addr = server.address() as AddressInfo;
  const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return `http://${h}:${addr.port}`;
}

/** Quotes and account inquiries; before classification the api-id header tells (nothing is trusted from it but the kind). */
function isReadOnlyCall(ctx: RequestContext): boolean {
  const apiId = ctx.req.headers['api-id'];
  const kind = ctx.entry?.kind ?? (typeof apiId === 'string' ? lookupApi(apiId)?.kind : undefined);
  return kind === 'query' || kind === 'account';
}

/** Memoises a health probe's outcome for ttlMs so frequent /readyz polls do not hammer a remote service. */
function cachedCheck(probe: () => Promise<void>, ttlMs: number): () => Promise<void> {
  let last: { at: number; result: Promise<void> } | undefined;
  return () => {
    if (!last || Date.now() - last.at > ttlMs) last = { at: Date.now(), result: probe() };
    return last.result;
  };
}

export async function startSidecar(config: Config, opts: SidecarOptions = {}): Promise<Sidecar> {
  const logger = opts.logger ?? createLogger({ level: config.log.level });
  const cwd = opts.cwd ?? process.cwd();
  await ensurePrivateDir(config.dataDir);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'kguard_process_' });
  const closers: (() => Promise<unknown>)[] = [];
  const closeAll = async () => {
    for (const c of closers.reverse()) await c().catch((err) => logger.warn({ err }, 'close failed'));
  };

  try {
    const readOnlyFallbacks = new Counter({
      name: 'kguard_state_read_only_fallbacks_total',
      labelNames: ['op'],
      registers: [registry],
      help: 'Store operations of read-only calls served from local state while Redis was down (readOnlyQueriesWhenDown: allow)',
    });
    const stateConfig = parseStateConfig(config.state);
    const sharedStore = await createStore(stateConfig, { logger, registry });
    const store =
      stateConfig.backend === 'redis' && stateConfig.redis.readOnlyQueriesWhenDown === 'allow'
        ? withReadOnlyFallback(sharedStore, createMemoryStore(), {
            isReadOnlyCall: () => requestScope.getStore()?.readOnly === true,
            onFallback: (op) => {
              readOnlyFallbacks.inc({ op });
              logger.warn(
                { op, requestId: requestScope.getStore()?.requestId },
                "shared state unavailable: read-only call judged on this replica's local state",
              );
            },
          })
        : sharedStore;
    closers.push(() => store.close());

    // The audit stream sink and the Redis checkpoint copy share the state connection.
    const redis = sharedStore.kind === 'redis' ? (sharedStore as RedisStore).client : undefined;
    const auditor = await createAuditor({ config: parseAuditConfig(config.audit, config.dataDir), logger, registry, redis });
    closers.push(() => auditor.close());
    const fingerprintKey = auditor.fingerprintKey;

    const vaultConfig = parseVaultConfig(config.vault, config.dataDir);
    const provider = await createKeyProvider(vaultConfig, { logger, registry });
    // Records still wrapped under a provider being migrated away from stay readable.
    const readProviders = await createReadProviders(vaultConfig, { logger, registry });
    const vault = await createVault({
      dataDir: config.dataDir,
      provider,
      readProviders,
      registry,
      logger,
      hmacKey: fingerprintKey,
      cache: vaultConfig.cache,
      records: vaultConfig.records,
      onDecrypt: (e) => {
        auditor
          .append(
            {
              type: 'decrypt',
              requestId: requestScope.getStore()?.requestId,
              botId: e.botId,
              purpose: e.purpose,
              outcome: e.outcome,
              code: e.code,
              provider: e.provider,
              ms: e.ms,
            },
            { durability: 'write' },
          )
          .catch((err) => logger.error({ err: String(err) }, 'decrypt audit record failed'));
      },
    });
    closers.push(() => vault.close());

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
    const limits = governorLimits(config.upstream);
    if (limits === 'off')
      logger.warn("upstream.limits is off: nothing keeps calls inside Kiwoom's per-key limits (benchmarks against an ideal simulator only)");
    const governor = new Governor(limits, { store, registry, logger: logger.child({ part: 'governor' }) });
    closers.push(async () => governor.close());
    const keyOf = async (botId: string, purpose: 'call' | 'lockdown' | 'revoke') => (await vault.appKeyOf(botId, purpose)).replace(/^hmac-sha256:/, '');
    const ledger = store.kind === 'redis' ? await openStoreLedger(store, provider) : await openFileLedger(config.dataDir, provider, logger);
    closers.push(async () => ledger.close());
    const brokerSessions = new BrokerSessions(config.brokerTokens, {
      store,
      ledger,
      governor,
      replicaId: randomBytes(8).toString('hex'),
      keyOf,
      issue: (botId, purpose) => vault.withCredentials(botId, purpose, (creds) => kiwoom.issueToken(creds)),
      revoke: (botId, token) => vault.withCredentials(botId, 'revoke', (creds) => kiwoom.revokeToken(creds, token)),
      fingerprintKey,
      registry,
      logger: logger.child({ part: 'broker-sessions' }),
      onEvent: (type, fields) => {
        auditor
          .append({ type, requestId: requestScope.getStore()?.requestId, ...fields }, { durability: 'write' })
          .catch((err) => logger.error({ err: String(err), type }, 'broker token audit record failed'));
      },
    });
    // Whatever a previous process left live (kill -9, power loss) is revoked before we serve.
    if (ledger.kind === 'file') await brokerSessions.recover();
    brokerSessions.startSweeper();
    closers.push(() => brokerSessions.drain(5_000));
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

    const policy = await createPolicyEngine({
      config: parsePolicyConfig(config.policy, cwd),
      store,
      market: createMarketData(gateway),
      registry,
      logger: logger.child({ part: 'policy' }),
      language: config.language,
    });
    closers.push(() => policy.close());

    const bots = await BotRegistry.open(config.dataDir, { watch: true });
    closers.push(async () => bots.close());
    const sessions = new Sessions(await loadSigningKey(config.dataDir, config.tokens.keyFile), store, config.tokens);

    const clock = opts.clock ?? Date.now;
    const risk = createRiskEngine({ config: parseRiskConfig(config.risk), store, registry, logger: logger.child({ part: 'risk' }), now: clock });
    const approvalConfig = parseApprovalConfig(config.approval);
    const approvals = createApprovalService({
      config: approvalConfig,
      store,
      sealer: createKeyProviderSealer(provider),
      auditor,
      registry,
      logger: logger.child({ part: 'approval' }),
    });
    closers.push(() => approvals.close());
    const botControl = createBotControl({ bots, sessions, brokerSessions, governor });
    const responder = createResponder({
      config: parseResponseConfig(config.response),
      gateway: kiwoomBrokerGateway(gateway.forPurpose('lockdown')),
      store,
      vault: { setEnabled: (botId, enabled) => vault.setEnabled(botId, enabled), list: () => vault.list() },
      sessions,
      policy,
      // New orders stop at once: the locked bot's queued calls are refused (lockdown's own calls go first).
      tokens: { revokeOutstanding: (botId) => botControl.revokeBrokerAccess(botId, 'KG3008') },
      auditor,
      registry,
      logger: logger.child({ part: 'response' }),
    });
    closers.push(() => responder.flush());

    const parts: SidecarParts = {
      config,
      logger,
      registry,
      store,
      vault,
      auditor,
      policy,
      bots,
      botControl,
      sessions,
      kiwoom,
      brokerSessions,
      governor,
      upstream,
      gateway,
      risk,
      approvals,
      responder,
      sim,
    };
    let shuttingDown = false;
    const pipelines = buildPipelines({
      maxBodyBytes: config.limits.maxBodyBytes,
      okMessage: OK_MESSAGE[config.language],
      bots,
      sessions,
      policy,
      auditor,
      upstream,
      risk,
      approvals,
      approvalConfig,
      responder,
      logger,
      clock,
    });
    // Records deeper down (decrypt and broker-token audit records) name the
    // request they serve, and the read-only state fallback knows the kind of call.
    const tr = pipelines.tr.map((s) => ({
      name: s.name,
      run: (ctx: RequestContext) => requestScope.run({ requestId: ctx.id, readOnly: isReadOnlyCall(ctx) }, () => s.run(ctx)),
    }));

    const botServer = createBotListener({
      config,
      logger,
      registry,
      pipelines: { token: pipelines.token, revoke: pipelines.revoke, tr },
      after: pipelines.after,
      isShuttingDown: () => shuttingDown,
    });
    const url = await listen(botServer, config.listen.host, config.listen.port);
    closers.push(async () => {
      shuttingDown = true;
      botServer.close();
      botServer.closeIdleConnections();
      await once(botServer, 'close').catch(() => undefined);
    });

    const readiness: ReadinessCheck[] = [
      { name: 'policy', check: () => policy.health() },
      {
        name: 'policy-reload',
        severity: 'warn',
        check: () => {
          const e = policy.lastError();
          if (e) throw new Error(`last edit rejected, previous policy in force: ${e.message}`);
        },
      },
      { name: 'audit', check: () => auditor.health() },
      // A KMS health probe costs quota: probe at most every 10 s.
      { name: 'vault', check: cachedCheck(() => vault.health(), 10_000) },
      { name: 'state', check: () => store.health() },
      {
        // Kiwoom binds a token to the address that issued it: replicas sharing a key must leave through one egress address.
        name: 'egress',
        severity: 'warn',
        check: () => {
          const at = upstream.boundRefusalAt();
          if (at && Date.now() - at < 600_000) throw new GuardError('KG5007', `last seen ${new Date(at).toISOString()}`);
        },
      },
      stateFlushReadiness(store),
      {
        name: 'shutdown',
        check: () => {
          if (shuttingDown) throw new GuardError('KG9002');
        },
      },
    ];
    let adminUrl: string | undefined;
    if (config.admin.enabled) {
      const adminServer = createAdminServer({
        registry,
        logger,
        language: config.language,
        readiness,
        tokens: AdminTokens.forDataDir(config.dataDir),
        routes: [
          ...coreAdminRoutes(parts),
          ...approvalRoutes(approvals),
          ...responseRoutes(responder),
          ...stateRoutes(store, (f) => auditor.append({ type: 'admin', ...f })),
        ],
        maxBodyBytes: config.limits.maxBodyBytes,
      });
      adminUrl = await listen(adminServer, config.admin.host, config.admin.port);
      closers.push(async () => {
        adminServer.close();
        adminServer.closeAllConnections();
      });
    }
    new Gauge({
      name: 'kguard_ready',
      help: '1 when every readiness check passes',
      registers: [registry],
      async collect() {
        const { runReadiness } = await import('../admin/health.js');
        this.set((await runReadiness(readiness)).ready ? 1 : 0);
      },
    });

    const demo = sim && config.demo.enabled ? await ensureDemo(parts, sim) : undefined;
    logger.info(
      { listen: url, admin: adminUrl, upstream: config.upstream.target === 'sim' ? `simulator ${baseUrl}` : baseUrl, policy: policy.current()?.version },
      'kiwoom-guard ready',
    );

    return {
      url,
      adminUrl,
      upstreamUrl: baseUrl!,
      parts,
      demo,
      close: async () => {
        shuttingDown = true;
        await closeAll();
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
