// The bot-facing listener: routes a request to its pipeline, runs the
// stages, answers in Kiwoom's shape, then runs the after-stages (outcome
// audit, policy counters, learning, holdings) off the bot's critical path.
import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import { flatLineLogger } from '../common/logger.js';
import { type ErrorCode, GuardError, kiwoomErrorBody, toGuardError, type Language } from '../common/errors.js';
import type { Config } from '../common/config.js';
import type { ServerFactory } from '../common/tls-server.js';
import { jsonReply, type NamedStage, type RequestContext, type Route } from './context.js';
import { rawErrorResponse, refusedTrHeaders, writeClientError } from './http.js';
import type { BotCalls } from './bot-calls.js';
import { createRefusalHold, type HeldConnection, type HoldResult } from './refusal-hold.js';
import { createAuthFailureHold } from './auth-failure-hold.js';
import { keepConnectionSlots } from './connection-slots.js';

export interface ListenerDeps {
  config: Config;
  logger: Logger;
  registry: Registry;
  pipelines: Record<Route, readonly NamedStage[]>;
  /** Run in order after the response is sent; a failing one is logged and the rest still run. */
  after: readonly NamedStage[];
  isShuttingDown: () => boolean;
  /** Builds the server (TLS: proxy/common/tls-server.ts); default node:http. */
  createServer?: ServerFactory;
  /** Where each call is tracked once its bot is known: a lockdown ends the locked bots' calls (bot-calls.ts). */
  calls?: BotCalls;
}

function routeOf(url: string | undefined): Route | undefined {
  if (url === '/oauth2/token') return 'token';
  if (url === '/oauth2/revoke') return 'revoke';
  if (url && /^\/api\/dostk\/[a-z]+$/.test(url)) return 'tr';
  return undefined;
}

/** How often Node checks headersTimeout and requestTimeout: a quarter of the shorter, at most 1 s. */
/**
 * The lockdown that ended an order already written to Kiwoom, whose answer was lost: the bot hears both, so it
 * neither sends it again nor takes it for never placed (the lockdown cancels the account's open orders).
 */
function mayBePlaced(lockdown: GuardError): GuardError {
  const detail = `${lockdown.detail ? `${lockdown.detail}; ` : ''}the order was written to Kiwoom before it and may be placed (KG5011)`;
  return new GuardError(lockdown.code, detail, { headers: lockdown.headers });
}

export function timeoutSweepMs(limits: { headersTimeoutMs: number; requestTimeoutMs: number }): number {
  return Math.max(25, Math.min(1_000, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4)));
}

/** The HTTP limits of every port bots reach (this listener, the realtime port): Node's defaults are far looser. */
export function botServerOptions(config: Config): ServerOptions {
  return {
    maxHeaderSize: config.limits.maxHeaderBytes,
    requestTimeout: config.limits.requestTimeoutMs,
    headersTimeout: config.limits.headersTimeoutMs,
    keepAliveTimeout: config.limits.keepAliveTimeoutMs,
    // Node enforces the two time-outs above only when it sweeps its connections (every 30 s by default):
    // sweep often enough that a slow or silent client is cut off near the configured limit.
    connectionsCheckingInterval: timeoutSweepMs(config.limits),
    insecureHTTPParser: false,
    joinDuplicateHeaders: false,
    // Checked by the framing stage instead (KG1003): Node's own refusal is an empty 400, not Kiwoom's shape.
    requireHostHeader: false,
  };
}

/**
 * The limits botServerOptions cannot set: the connection slots (connection-slots.ts: at the cap an idle connection
 * makes room, one serving a request never does), the header count, and Kiwoom-shaped framing errors.
 */
export function keepBotServerLimits(server: Server, config: Config, registry: Registry, name: 'bot' | 'realtime'): void {
  keepConnectionSlots(server, config.limits, registry, name, {
    capacity: rawErrorResponse(new GuardError('KG9005'), config.language),
    source: rawErrorResponse(new GuardError('KG9006'), config.language),
  });
  // One more than allowed is kept, so a request over the limit is seen and refused: Node drops the rest unread.
  server.maxHeadersCount = config.limits.maxHeaderCount + 1;
  server.on('clientError', (err, socket) => writeClientError(socket as import('node:net').Socket, err as NodeJS.ErrnoException, config.language));
}

/** The bot server, and when every call it took has been answered and has run its after-stages. */
export type BotListener = Server & {
  idle(): Promise<void>;
  releaseHeld(): void;
  /** A realtime LOGIN's authentication failure, counted with the REST ones and held as they are (auth-failure-hold.ts). */
  holdAuthFailure(code: ErrorCode, who: string, conn: HeldConnection): Promise<HoldResult>;
};

export function createBotListener(deps: ListenerDeps): BotListener {
  const { config, logger } = deps;
  const lang: Language = config.language;
  const requestLog = flatLineLogger(logger);
  const registers = [deps.registry];
  const requests = new Counter({ name: 'kguard_requests_total', help: 'Bot requests by route and result code', labelNames: ['route', 'code'], registers });
  // An order whose fate is unknown alerts on its first occurrence (KiwoomGuardOrderFateUnknown): its series starts at 0.
  requests.inc({ route: 'tr', code: 'KG5011' }, 0);
  const duration = new Histogram({
    name: 'kguard_request_duration_seconds',
    help: 'Bot request time, end to end',
    labelNames: ['route'],
    registers,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });
  const overhead = new Histogram({
    name: 'kguard_overhead_seconds',
    help: 'Time the sidecar adds beyond upstream round trips (forwarded calls)',
    registers,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05],
  });
  // Where a call's time goes, stage by stage (Envoy's per-filter stats). Children are bound
  // once here, so the hot path observes without hashing labels.
  const stageSeconds = new Histogram({
    name: 'kguard_stage_seconds',
    help: 'Time spent in each pipeline stage (forward includes the upstream round trip)',
    labelNames: ['route', 'stage'],
    registers,
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
  });
  const stageTimers = new Map<NamedStage, ReturnType<typeof stageSeconds.labels>>();
  for (const [route, stages] of Object.entries(deps.pipelines)) for (const stage of stages) stageTimers.set(stage, stageSeconds.labels(route, stage.name));

  // Calls taken and not yet done (after-stages included). The server's 'close' waits only for its own sockets:
  // connections handed over by transparent mode (name-override, proxyListen) are not counted there, and after-stages
  // run once the bot is answered. Shutdown waits for idle() before the parts a call uses close.
  let active = 0;
  let idleWaiters: (() => void)[] = [];
  const server = (deps.createServer ?? createServer)(botServerOptions(config), (req, res) => {
    active++;
    handle(req, res)
      .catch((err) => {
        // Last resort (e.g. a header Node refuses): never an unhandled rejection, never a hung socket.
        logger.error({ err: { message: (err as Error).message } }, 'response failed');
        res.destroy();
      })
      .finally(() => {
        if (--active > 0) return;
        const waiters = idleWaiters;
        idleWaiters = [];
        for (const w of waiters) w();
      });
  });
  keepBotServerLimits(server, config, deps.registry, 'bot');
  // An Expect other than 100-continue: Node would answer an empty 417; the framing stage refuses it in Kiwoom's shape.
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => server.emit('request', req, res));

  const refusals = createRefusalHold(
    { maxMs: config.limits.refusalHoldMs, perBot: config.limits.refusalHoldPerBot, total: config.limits.maxConnections },
    deps.registry,
  );
  const authFailures = createAuthFailureHold(config.limits.authFailureHold, deps.registry);

  function send(ctx: RequestContext, close = false): void {
    const { res } = ctx;
    if (res.headersSent || res.destroyed) return;
    const reply = ctx.reply!;
    const headers: Record<string, string | number> = { ...reply.headers, 'content-length': reply.body.length, 'x-kguard-request-id': ctx.id };
    // An unread request body would desync a kept-alive connection.
    if (close || !ctx.req.complete || ctx.error?.code === 'KG1003' || deps.isShuttingDown()) headers.connection = 'close';
    res.writeHead(reply.status, headers);
    res.end(reply.body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const route = routeOf(req.url);
    const controller = new AbortController();
    const deadline = setTimeout(() => controller.abort(), config.limits.requestTimeoutMs);
    res.on('close', () => {
      clearTimeout(deadline);
      if (!res.writableFinished) controller.abort();
    });
    const ctx: RequestContext = {
      id: randomUUID(),
      startedAt: performance.now(),
      req,
      res,
      signal: controller.signal,
      route: route ?? 'tr',
      sourceIp: req.socket.remoteAddress ?? 'unknown',
      body: Buffer.alloc(0),
      intentional: false,
      upstreamMs: 0,
      trail: [],
    };
    let untrack: (() => void) | undefined;
    try {
      if (deps.isShuttingDown()) throw new GuardError('KG9002');
      // Past the count, the duplicate and framing checks would not see every header.
      if (req.rawHeaders.length > 2 * config.limits.maxHeaderCount) throw new GuardError('KG1012', `more than ${config.limits.maxHeaderCount} header fields`);
      if (!route) throw new GuardError('KG1009');
      for (const stage of deps.pipelines[route]) {
        ctx.trail.push(stage.name);
        const stageStart = performance.now();
        try {
          await stage.run(ctx);
        } finally {
          stageTimers.get(stage)?.observe((performance.now() - stageStart) / 1000);
        }
        if (ctx.reply) break;
        // From here on a lockdown of this bot, pressed on any replica, ends the call wherever it waits.
        if (!untrack && ctx.bot && deps.calls) untrack = deps.calls.track(ctx.bot, (reason) => controller.abort(reason));
      }
      if (!ctx.reply) throw new GuardError('KG9001', 'pipeline produced no reply');
    } catch (err) {
      // Ended by a lockdown: whatever the stage saw (a closed hold, a dropped wait), the bot is told why; the call
      // that set the lockdown off keeps its own KG3008, which names the detectors that fired.
      const reason: unknown = controller.signal.reason;
      const own = toGuardError(err);
      const ended = controller.signal.aborted && reason instanceof GuardError && own.code !== 'KG3008';
      ctx.error = !ended ? own : own.code === 'KG5011' ? mayBePlaced(reason) : reason;
      if (ctx.error.code === 'KG9001') logger.error({ err: ctx.error.cause ?? err, requestId: ctx.id, stage: ctx.trail.at(-1) }, 'internal error');
      const trHeaders = route === 'tr' ? refusedTrHeaders(req) : {};
      ctx.reply = jsonReply(ctx.error.status, kiwoomErrorBody(ctx.error, lang), { ...trHeaders, ...ctx.error.headers });
    }
    untrack?.();
    // A refusal with a retry-after is answered when the bot could succeed (capped): a flood waits, not the loop.
    // So is a repeated authentication failure (forged tokens, brute force), counted per bot id or source.
    // Only a refusal pays for it: an answered call allocates nothing here.
    let held: 'answered' | 'capped' = 'answered';
    if (ctx.error) {
      const who = ctx.claims ? `bot:${ctx.claims.botId}` : `source:${ctx.sourceIp}`;
      const holdMs = Math.max(refusals.delayFor(ctx.error), route === 'tr' ? authFailures.delayFor(ctx.error.code, who) : 0);
      if (holdMs > 0) held = await refusals.hold(who, holdMs, res);
    }
    send(ctx, held === 'capped');
    clearTimeout(deadline);
    const seconds = (performance.now() - ctx.startedAt) / 1000;
    requests.inc({ route: ctx.route, code: ctx.error?.code ?? 'OK' });
    duration.observe({ route: ctx.route }, seconds);
    if (ctx.upstream) overhead.observe(Math.max(0, seconds - ctx.upstreamMs / 1000));
    requestLog.info(
      {
        requestId: ctx.id,
        route: ctx.route,
        botId: ctx.bot?.id,
        apiId: ctx.apiId,
        status: ctx.reply.status,
        code: ctx.error?.code,
        detail: ctx.error?.detail,
        ms: Math.round(seconds * 1000 * 100) / 100,
      },
      'request',
    );
    for (const stage of deps.after) {
      await Promise.resolve()
        .then(() => stage.run(ctx))
        .catch((err) => logger.error({ err: String(err), requestId: ctx.id, stage: stage.name }, 'after-stage failed'));
    }
  }

  return Object.assign(server, {
    releaseHeld: (): void => refusals.releaseAll(),
    holdAuthFailure: (code: ErrorCode, who: string, conn: HeldConnection): Promise<HoldResult> => refusals.hold(who, authFailures.delayFor(code, who), conn),
    idle: (): Promise<void> => (active === 0 ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve))),
  });
}
