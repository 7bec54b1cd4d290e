// Wires the realtime relay: the per-key upstream sessions (owned by one
// replica each) and the bot-facing WebSocket endpoint on the bot port, plus
// an optional second port that mirrors Kiwoom's :10000, built as the bot
// listener is (its TLS, its connection cap, header limits and time-outs).
import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { realtimeUrl, type Config } from '../common/config.js';
import type { Auditor } from '../audit/types.js';
import type { BotRegistry, Sessions } from '../auth/index.js';
import type { BrokerSessions } from '../kiwoom/broker-sessions.js';
import { RealtimeService } from '../kiwoom/realtime/service.js';
import type { PolicyEngineInternals } from '../policy/engine.js';
import type { Responder } from '../response/index.js';
import type { RiskEngine } from '../risk/index.js';
import type { Store } from '../state/types.js';
import type { ServerFactory } from '../common/tls-server.js';
import type { BotCalls } from './bot-calls.js';
import { type BotListener, botServerOptions, keepBotServerLimits } from './listener.js';
import { createConditionRisk } from './realtime-risk.js';
import { createRealtimeEndpoint, type RealtimeEndpoint } from './realtime.js';

export interface RealtimeParts {
  endpoint: RealtimeEndpoint;
  service: RealtimeService;
  /** The mirror of Kiwoom's :10000 when realtime.port is set. */
  server?: Server;
}

export function setupRealtime(d: {
  config: Config;
  restBase: string | undefined;
  store: Store;
  replicaId: string;
  brokerSessions: BrokerSessions;
  keyOf(botId: string, purpose: 'call'): Promise<string>;
  sessions: Sessions;
  bots: BotRegistry;
  policy: PolicyEngineInternals;
  responder: Responder;
  risk: RiskEngine;
  /** The bots' calls on this replica: each realtime session is tracked there, so a lockdown ends it at once. */
  calls: BotCalls;
  /** The bot listener's hold of repeated authentication failures: a LOGIN's count with the REST calls'. */
  holdAuthFailure?: BotListener['holdAuthFailure'];
  clock: () => number;
  auditor: Auditor;
  logger: Logger;
  registry: Registry;
  /** The bot listener's server factory (TLS when listen.tls is set): the realtime port is built with it. */
  createServer?: ServerFactory;
}): RealtimeParts {
  const cfg = d.config.realtime;
  const log = d.logger.child({ part: 'realtime' });
  const url = realtimeUrl(d.config, d.restBase) ?? 'ws://127.0.0.1:1/api/dostk/websocket';
  const registers = [d.registry];
  const pushes = new Counter({ name: 'kguard_realtime_pushes_total', help: 'Upstream REAL frames delivered to bots (one per bot per frame)', registers });
  const upstreamEvents = new Counter({
    name: 'kguard_realtime_upstream_events_total',
    help: 'Upstream realtime sessions opened, dropped, closed, and replaced by another LOGIN with the app key (R10001)',
    labelNames: ['event'],
    registers,
  });
  // At 0 from start: a series born at 1 shows Prometheus no increase (KiwoomGuardRealtimeUpstreamDown counts drops).
  upstreamEvents.inc({ event: 'down' }, 0);
  const service = new RealtimeService(
    { url, ...cfg, maxFrameBytes: Math.max(cfg.maxFrameBytes, 1024 * 1024) },
    {
      store: d.store,
      replicaId: d.replicaId,
      acquire: (botId, key) => d.brokerSessions.acquire(botId, { key }),
      logger: log,
      onPush: (routed) => pushes.inc(routed),
      onUpstream: (event) => upstreamEvents.inc({ event }),
    },
  );
  new Gauge({
    name: 'kguard_realtime_upstream_sessions',
    help: 'Upstream realtime sessions this replica owns (logged in or reconnecting)',
    registers,
    collect() {
      this.set(service.stats().owned);
    },
  });
  const endpoint = createRealtimeEndpoint({
    config: cfg,
    language: d.config.language,
    sessions: d.sessions,
    bots: d.bots,
    policy: d.policy,
    responder: d.responder,
    auditor: d.auditor,
    service,
    keyOf: (botId) => d.keyOf(botId, 'call'),
    conditionRisk: createConditionRisk({ risk: d.risk, responder: d.responder, policy: d.policy, clock: d.clock, logger: log }),
    calls: d.calls,
    holdAuthFailure: d.holdAuthFailure,
    logger: log,
    registry: d.registry,
  });
  let server: Server | undefined;
  if (cfg.enabled && cfg.port !== undefined) {
    server = (d.createServer ?? createServer)(botServerOptions(d.config), (_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain', connection: 'close' });
      res.end('WebSocket only');
    });
    keepBotServerLimits(server, d.config, d.registry, 'realtime');
    endpoint.attach(server);
  }
  return { endpoint, service, server };
}
