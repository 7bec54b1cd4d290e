// Wires the parts into a running sidecar: state, vault, audit, policy, auth,
// the upstream client (or the built-in simulator), the stage pipeline, the
// bot listener and the admin listener. Every part gets its logger, metrics
// registry and store here; nothing is a module-level singleton. The upstream
// wiring is in upstream-setup.ts, readiness and the admin server in
// admin-setup.ts; the order of the steps and of the closers is read here.
import { once } from 'node:events';
import { Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { Config } from '../common/config.js';
import { createLogger } from '../common/logger.js';
import { registerProcessMetrics } from '../common/metrics.js';
import { createListenerServerFactory } from '../common/tls-server.js';
import { ensurePrivateDir } from '../common/fsutil.js';
import { BotRegistry, Sessions, loadSigningKey, OK_MESSAGE } from '../auth/index.js';
import type { KiwoomClient } from '../kiwoom/client.js';
import type { BrokerSessions } from '../kiwoom/broker-sessions.js';
import type { Governor } from '../kiwoom/governor.js';
import type { Upstream } from '../kiwoom/upstream.js';
import type { BrokerGateway } from '../kiwoom/gateway.js';
import { createVault, createKeyProvider, createReadProviders, isProviderUnreachable, parseVaultConfig, type ManagedVault } from '../vault/index.js';
import type { GuardError } from '../common/errors.js';
import { createAuditor, parseAuditConfig, type ManagedAuditor } from '../audit/index.js';
import { createPolicyEngine, parsePolicyConfig } from '../policy/index.js';
import type { PolicyEngine } from '../policy/types.js';
import type { RedisStore } from '../state/index.js';
import type { Store } from '../state/types.js';
import type { Simulator } from '../sim/index.js';
import { buildPipelines } from './pipeline/index.js';
import { DEFAULT_AUTH_FAILURE_LIMITS } from '../admin/auth-limiter.js';
import { createLoginLimiter } from './pipeline/login-limit.js';
import { createRealKeyReporter } from './pipeline/real-key.js';
import { refusedOrderOf } from './pipeline/risk.js';
import { brokerTokenControl, createBotControl, type BotControl } from './bot-control.js';
import { createBotCalls, lockdownHere } from './bot-calls.js';
import { createBotListener } from './listener.js';
import { listen } from './listen.js';
import { setupRealtime, type RealtimeParts } from './realtime-setup.js';
import { requestScope, createMarketData } from './market.js';
import { isReadOnlyCall, setupState } from './state-setup.js';
import type { RequestContext } from './context.js';
import { ensureDemo, type DemoInfo } from './demo.js';
import { setupUpstream } from './upstream-setup.js';
import { calendarsOf, createSidecarAdmin, logStarted, readinessChecks, registerStatusGauges } from './admin-setup.js';
import { AdminTokens } from '../admin/tokens.js';
import { setupTransparent, type TransparentParts } from './transparent/index.js';
import { createRiskEngine, parseRiskConfig, type RiskEngine } from '../risk/index.js';
import { createApprovalService, createKeyProviderSealer, parseApprovalConfig, type ApprovalService } from '../approval/index.js';
import { createResponder, kiwoomBrokerGateway, parseResponseConfig, type Responder } from '../response/index.js';

export interface SidecarOptions {
  logger?: Logger;
  /** Resolves relative paths (the policy file). Default process.cwd(). */
  cwd?: string;
  /** Clock for behaviour analysis (risk time-of-week, live counters); tests replay other hours. */
  clock?: () => number;
  /** Called once a bot call's after-stages have run (replays through the sidecar wait on it). */
  onSettled?: (ctx: RequestContext) => void;
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
  /** Where bots open the realtime WebSocket (ws:// or wss:// …/api/dostk/websocket). */
  readonly realtimeUrl: string;
  readonly realtime: RealtimeParts;
  /** Transparent mode (CONNECT, name override): the leaf and the name-override URLs. */
  readonly transparent: TransparentParts;
  readonly parts: SidecarParts;
  readonly demo?: DemoInfo;
  close(): Promise<void>;
}

export async function startSidecar(config: Config, opts: SidecarOptions = {}): Promise<Sidecar> {
  const logger = opts.logger ?? createLogger({ level: config.log.level, bufferBytes: config.log.bufferBytes, flushMs: config.log.flushMs });
  const cwd = opts.cwd ?? process.cwd();
  await ensurePrivateDir(config.dataDir);
  const registry = new Registry();
  registerProcessMetrics(registry);
  const closers: (() => Promise<unknown>)[] = [];
  const closeAll = async () => {
    for (const c of closers.reverse()) await c().catch((err) => logger.warn({ err }, 'close failed'));
  };

  try {
    const { sharedStore, store, readOnlyFallback, degradedWhenDown } = await setupState(config, { logger, registry });
    closers.push(() => store.close());

    // The audit stream sink and the Redis checkpoint copy share the state connection; outages are logged once each.
    const redis = sharedStore.kind === 'redis' ? (sharedStore as RedisStore).client : undefined;
    const { outageReminderMs } = config.log;
    const auditConfig = parseAuditConfig(config.audit, config.dataDir);
    const auditor = await createAuditor({ config: auditConfig, logger, registry, redis, outageReminderMs });
    closers.push(() => auditor.close());
    const fingerprintKey = auditor.fingerprintKey;

    const vaultConfig = parseVaultConfig(config.vault, config.dataDir);
    const provider = await createKeyProvider(vaultConfig, { logger, registry, outageReminderMs });
    // A provider that answers no (access denied, no such key, a disabled key) stops the start with its reason; one
    // that does not answer (an outage during a rollout) lets the sidecar start unready (/readyz: vault) and serve
    // once it answers, instead of a crash loop whose back-off outlasts the outage. Nothing is decrypted meanwhile.
    await provider.health().catch((err: unknown) => {
      if (!isProviderUnreachable(err)) return provider.close().finally(() => Promise.reject(err));
      logger.error({ provider: provider.id, code: (err as GuardError).code }, 'key provider not answering: starting unready, retrying in the background');
    });
    const readProviders = await createReadProviders(vaultConfig, { logger, registry, outageReminderMs }); // records not yet moved stay readable
    const vault = await createVault({
      dataDir: config.dataDir,
      provider,
      readProviders,
      registry,
      logger,
      outageReminderMs,
      hmacKey: fingerprintKey,
      cache: vaultConfig.cache,
      records: vaultConfig.records,
      limits: vaultConfig.limits,
      lock: vaultConfig.lock,
      // A decrypt for a call or a rewrap waits for its audit record and is refused without one (fail closed);
      // revoking a broker token or locking down is never held up by the audit sink.
      onDecrypt: (e) => {
        const written = auditor.append(
          {
            type: 'decrypt',
            requestId: e.requestId,
            botId: e.botId,
            purpose: e.purpose,
            outcome: e.outcome,
            code: e.code,
            provider: e.provider,
            ms: e.ms,
          },
          { durability: 'write' },
        );
        if (e.purpose === 'call' || e.purpose === 'rewrap') return written.then(() => undefined);
        written.catch((err) => logger.error({ err: String(err) }, 'decrypt audit record failed'));
      },
    });
    closers.push(() => vault.close());
    // Offboarding's app-key index, checked against every record off the start's path (holdersOf retries it and says so).
    vault.verifyKeyIndex().catch(() => undefined);

    // Closes, in reverse: broker sessions drain, ledger, governor, Kiwoom client, simulator.
    const { sim, baseUrl, kiwoom, governor, brokerSessions, upstream, gateway, replicaId, keyOf } = await setupUpstream(
      { config, store, vault, provider, auditor, fingerprintKey, registry, logger },
      closers,
    );

    const policy = await createPolicyEngine({
      config: parsePolicyConfig(config.policy, cwd),
      store,
      market: createMarketData(gateway),
      registry,
      // The engine names itself (part: policy), as the auditor does.
      logger,
      language: config.language,
    });
    closers.push(() => policy.close());

    const bots = await BotRegistry.open(config.dataDir, { watch: true });
    closers.push(async () => bots.close());
    const sessions = new Sessions(await loadSigningKey(config.dataDir, config.tokens.keyFile), store, config.tokens);

    const clock = opts.clock ?? Date.now;
    const risk = createRiskEngine({
      config: parseRiskConfig(config.risk),
      store,
      registry,
      logger: logger.child({ part: 'risk' }),
      now: clock,
      language: config.language,
    });
    const approvalConfig = parseApprovalConfig(config.approval);
    const approvals = createApprovalService({
      config: approvalConfig,
      store,
      sealer: createKeyProviderSealer(provider),
      auditor,
      registry,
      logger: logger.child({ part: 'approval' }),
      onRefused: (rec, refusal) => {
        // The owner says the bot's identity made a call they did not: alerted at once, and counted toward lockdown.
        responder.onApprovalRefused({ id: rec.id, botId: rec.botId, apiId: rec.apiId, summary: rec.summary, ...refusal });
        return risk.noteRefused(rec.botId, undefined, refusedOrderOf(rec));
      },
      // The approvers hear of a held call at once (a webhook), not only when they look at the dashboard.
      onRequested: (rec) => responder.onApprovalRequested(rec),
      sessionEpochOf: (botId) => sessions.currentEpoch(botId),
      admins: AdminTokens.forDataDir(config.dataDir), // an admin removed: their votes on held calls are void
    });
    closers.push(() => approvals.close());
    const botControl = createBotControl({ bots, sessions, brokerSessions, governor });
    const calls = createBotCalls();
    const responder = createResponder({
      config: parseResponseConfig(config.response, 'response', config.language),
      gateway: kiwoomBrokerGateway(gateway.forPurpose('lockdown')),
      store,
      vault: { setEnabled: (botId, enabled) => vault.setEnabled(botId, enabled, 'lockdown'), list: () => vault.list() },
      sessions,
      policy,
      // New orders stop at once: the locked bot's queued calls are refused (lockdown's own calls go first).
      tokens: brokerTokenControl(botControl, store, keyOf),
      onLockdown: lockdownHere({ calls, governor, brokerSessions, bots, logger: logger.child({ part: 'response' }) }),
      // Named in the incident as the audit names it (audit.replicaId).
      replicaId: auditConfig.replicaId,
      onUnlocked: (botId) => risk.clearEscalation(botId),
      auditor,
      // Removing an admin voids the unlock approvals they gave (four eyes stay two admins still trusted).
      admins: AdminTokens.forDataDir(config.dataDir),
      registry,
      logger: logger.child({ part: 'response' }),
      language: config.language,
    });
    closers.push(() => responder.close());

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
      maxBodyDepth: config.limits.maxBodyDepth,
      okMessage: OK_MESSAGE[config.language],
      bots,
      sessions,
      policy,
      auditor,
      upstream,
      risk,
      approvals,
      approvalConfig,
      requestTimeoutMs: config.limits.requestTimeoutMs,
      responder,
      logger,
      clock,
      realKey: createRealKeyReporter({ auditor, fingerprintKey, responder, registry, logger }),
      loginLimiter: createLoginLimiter({ ...DEFAULT_AUTH_FAILURE_LIMITS, ...config.tokens.authFailures }, registry, logger, { store }),
    });
    // The read-only state fallback (opt-in) must know, deep inside the Store, what kind of call is
    // running: only then is the call scoped with AsyncLocalStorage, whose promise hooks cost every
    // call about a tenth of the sidecar's CPU. Everything else is given the request explicitly.
    const tr = !readOnlyFallback
      ? pipelines.tr
      : pipelines.tr.map((s) => ({
          name: s.name,
          run: (ctx: RequestContext) => requestScope.run({ requestId: ctx.id, readOnly: isReadOnlyCall(ctx) }, () => s.run(ctx)),
        }));

    const botTls = await createListenerServerFactory('bot', config.listen.tls, { logger, registry });
    closers.push(async () => botTls.close());
    const botServer = createBotListener({
      config,
      logger,
      registry,
      pipelines: { token: pipelines.token, revoke: pipelines.revoke, tr },
      after: opts.onSettled ? [...pipelines.after, { name: 'settled', run: async (ctx: RequestContext) => opts.onSettled?.(ctx) }] : pipelines.after,
      isShuttingDown: () => shuttingDown,
      createServer: botTls.createServer,
      calls,
    });
    const url = await listen(botServer, config.listen.host, config.listen.port, botTls.scheme);
    // The admin listener's closers go in here, to close right after the calls drained (see below).
    const afterBotDrain = closers.length;
    closers.push(async () => {
      shuttingDown = true;
      botServer.close();
      botServer.releaseHeld();
      botServer.closeIdleConnections();
      // 'close' does not wait for calls on connections transparent mode handed over, nor for after-stages: idle() does.
      await Promise.all([once(botServer, 'close').catch(() => undefined), botServer.idle()]);
    });
    // CONNECT to Kiwoom's names (HTTPS_PROXY) and the name-override addresses: the same server, the same pipeline.
    const transparent = await setupTransparent({ config, botServer, auditor, logger, registry, keyProvider: provider, upstreamUrl: baseUrl }, closers);

    // Realtime: one upstream WebSocket per app key, fanned out to the bots on the bot port (and the :10000 mirror,
    // which speaks TLS when the bot port does: its own factory, one server each, the same files rotated alike).
    const rtTls =
      config.realtime.enabled && config.realtime.port !== undefined
        ? await createListenerServerFactory('realtime', config.listen.tls, { logger, registry })
        : undefined;
    if (rtTls) closers.push(async () => rtTls.close());
    const realtime = setupRealtime({
      config,
      restBase: baseUrl,
      store,
      replicaId,
      brokerSessions,
      keyOf,
      sessions,
      bots,
      policy,
      responder,
      risk,
      calls,
      holdAuthFailure: botServer.holdAuthFailure,
      clock,
      auditor,
      logger,
      registry,
      createServer: rtTls?.createServer,
    });
    closers.push(() => realtime.service.close());
    closers.push(() => realtime.endpoint.close());
    realtime.endpoint.attach(botServer);
    let realtimeUrl = `${url.replace(/^http/, 'ws')}/api/dostk/websocket`;
    if (realtime.server) {
      const rt = realtime.server;
      realtimeUrl = `${(await listen(rt, config.listen.host, config.realtime.port!, rtTls?.scheme)).replace(/^http/, 'ws')}/api/dostk/websocket`;
      closers.push(async () => {
        rt.close();
        rt.closeAllConnections();
      });
    }

    const calendars = calendarsOf(parts, clock);
    const readiness = readinessChecks(parts, () => shuttingDown, degradedWhenDown, calendars);
    let adminUrl: string | undefined;
    if (config.admin.enabled) {
      const adminTls = await createListenerServerFactory('admin', config.admin.tls, { logger, registry });
      const adminServer = createSidecarAdmin(parts, readiness, adminTls.createServer, calendars);
      adminUrl = await listen(adminServer, config.admin.host, config.admin.port, adminTls.scheme);
      // Up while calls drain (up to requestTimeoutMs + answerTimeoutMs): /readyz names the shutdown (KG9002),
      // /metrics shows the drain, and an operator can still press a lockdown here.
      closers.splice(
        afterBotDrain,
        0,
        async () => adminTls.close(),
        async () => {
          adminServer.close();
          adminServer.closeAllConnections();
        },
      );
    }
    registerStatusGauges(registry, readiness, config, calendars);

    const demo = sim && config.demo.enabled ? await ensureDemo(parts, sim) : undefined;
    const upstreamName = config.upstream.target === 'sim' ? `simulator ${baseUrl}` : baseUrl;
    await logStarted(logger, readiness, { listen: url, admin: adminUrl, upstream: upstreamName, policy: policy.current()?.version });

    return {
      url,
      adminUrl,
      upstreamUrl: baseUrl!,
      realtimeUrl,
      realtime,
      transparent,
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
