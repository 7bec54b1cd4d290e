// The bot-facing realtime WebSocket at /api/dostk/websocket, in Kiwoom's protocol: LOGIN with the sidecar token
// (never a broker token), PING, REG / REMOVE and condition search, each judged by the bot's allowlist and the policy,
// and audited before it goes upstream (refused, KG6001, when its record cannot be written); pushes fanned out from the
// key's one upstream session. A bot that stops reading is cut off alone (close 4008); one that sends frames faster
// than they are handled is closed (4002). The session ends when its sidecar token expires (KG2003, close 4003) unless
// the bot logged in again from its address or sent LOGIN with a fresh token: it carries on.
// It is re-checked every recheckMs: a revoked or killed token, a disabled bot, a lockdown or a HALTED trading state
// clears its registrations and searches and closes it with a clear message, as does a bot removed, re-created,
// disabled or moved to another account in its record (read again, as a REST call reads it, before each message: the
// allowlist in force judges it). A lockdown, a session kill or a disable published on any replica closes it at once
// (realtime-live.ts); the re-check stays the backstop.
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { GuardError, errorMessage, kiwoomErrorBody, toGuardError, type Language } from '../common/errors.js';
import type { RealtimeConfig } from '../common/config.js';
import type { Auditor } from '../audit/types.js';
import { botAllows, issuedTo, type BotRecord, type BotRegistry, type SessionClaims, type Sessions } from '../auth/index.js';
import { lookupApi } from '../kiwoom/catalogue.js';
import type { ApiEntry } from '../kiwoom/types.js';
import type { RealtimeHandle, RealtimeService } from '../kiwoom/realtime/service.js';
import { parseBotMessage, type RealtimeProtocolError, reply, systemFrame, type BotMessage } from '../kiwoom/realtime/protocol.js';
import { closeReason, loginRefusal, registrationSummary as summary } from '../kiwoom/realtime/protocol.js';
import type { PolicyEngineInternals } from '../policy/engine.js';
import type { Responder } from '../response/index.js';
import type { BotCalls } from './bot-calls.js';
import type { BotListener } from './listener.js';
import { realtimeAudit } from './realtime-audit.js';
import { carriedOn, liveSessions, reasonOf, type Tracked } from './realtime-live.js';
import { rawErrorResponse } from './http.js';
import type { ConditionJudgement, ConditionRisk } from './realtime-risk.js';

export const REALTIME_PATH = '/api/dostk/websocket';

export interface RealtimeEndpointDeps {
  config: RealtimeConfig;
  language: Language;
  sessions: Sessions;
  bots: BotRegistry;
  policy: Pick<PolicyEngineInternals, 'evaluate' | 'tradingState' | 'realtimeCaps'>;
  responder: Pick<Responder, 'checkLockdown'>;
  auditor: Auditor;
  service: RealtimeService;
  /** The bot's app key fingerprint (refuses a disabled credential record). */
  keyOf(botId: string): Promise<string>;
  /** Risk on condition searches (realtime-risk.ts). */
  conditionRisk: ConditionRisk;
  /** Where each session is tracked from its LOGIN: a lockdown heard on this replica ends it at once (bot-calls.ts). */
  calls?: Pick<BotCalls, 'track'>;
  /** Holds a LOGIN's authentication failure as the bot listener holds a REST one (counted together). */
  holdAuthFailure?: BotListener['holdAuthFailure'];
  logger: Logger;
  registry: Registry;
}

/** Close codes a bot sees (4000–4999 are the application's). */
export const CLOSE = { slow: 4008, ended: 4003, login: 4001, protocol: 4002 } as const;
const CLOSE_GRACE_MS = 2_000;

export interface RealtimeEndpoint {
  /** Handles an HTTP upgrade on a bot port; anything but the realtime path is refused. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  attach(server: Server): void;
  /** Closes every bot socket (shutdown). */
  close(): Promise<void>;
}

export function createRealtimeEndpoint(deps: RealtimeEndpointDeps): RealtimeEndpoint {
  const { config, language: lang, logger } = deps;
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.maxFrameBytes });
  const registers = [deps.registry];
  const bots = new Gauge({ name: 'kguard_realtime_bots', help: 'Bot realtime sessions logged in on this replica', registers });
  const denials = new Counter({ name: 'kguard_realtime_denials_total', help: 'Realtime requests refused, by reason', labelNames: ['reason'], registers });
  const closes = new Counter({
    name: 'kguard_realtime_closes_total',
    help: 'Bot realtime sessions closed by the sidecar, by reason',
    labelNames: ['reason'],
    registers,
  });
  const logins = new Counter({ name: 'kguard_realtime_logins_total', help: 'Bot realtime logins, by outcome', labelNames: ['outcome'], registers });

  const sessionsLive = liveSessions({ enabled: config.enabled, sessions: deps.sessions, calls: deps.calls, logger });

  const { audit, auditFirst } = realtimeAudit(deps.auditor, logger);

  function errorText(err: GuardError): string {
    return kiwoomErrorBody(err, lang).return_msg;
  }

  function onConnection(ws: WebSocket, req: IncomingMessage): void {
    const sourceIp = req.socket.remoteAddress ?? '';
    let bot: BotRecord | undefined;
    let claims: SessionClaims | undefined;
    let handle: RealtimeHandle | undefined;
    /** Kiwoom's clients read the LOGIN answer first (kiwoom-go: anything before it is a protocol error): no PING until it is sent. */
    let loginAnswered = false;
    let ending = false;
    let tracked: { entry: Tracked; untrack: () => void } | undefined;
    /** Ends the session when its token stops being accepted. */
    let expiry: NodeJS.Timeout | undefined;
    let missed = 0;
    let busy: Promise<void> = Promise.resolve();
    let waiting = 0;
    // The risk judgement of the message being handled (one at a time per bot), for its audit record.
    let judged: ConditionJudgement | Record<string, never> = {};
    /** Learns again, at the first re-check of each Seoul day, the names the session still has registered. */
    let relearn: (() => Promise<void>) | undefined;

    const send = (frame: string): void => {
      if (ws.readyState !== ws.OPEN) return;
      if (ws.bufferedAmount > config.maxBufferedBytes) {
        void end('slow', CLOSE.slow, errorMessage('KG5010', lang));
        return;
      }
      ws.send(frame);
    };

    async function end(reason: string, code: number, message: string): Promise<void> {
      if (ending) return;
      ending = true;
      tracked?.untrack();
      clearTimeout(loginTimer);
      clearTimeout(expiry);
      clearInterval(pinger);
      clearInterval(recheck);
      closes.inc({ reason });
      if (ws.readyState === ws.OPEN && reason !== 'slow') ws.send(systemFrame(`KG-${reason.toUpperCase()}`, message));
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) {
        ws.close(code, closeReason(message));
        // A bot that reads nothing never reads the close frame either: the socket goes after a grace.
        setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
      }
      if (handle) {
        bots.dec();
        const h = handle;
        handle = undefined;
        await h.close().catch(() => undefined);
        await audit({ type: 'realtime.closed', botId: bot?.id, reason, sourceIp });
      }
    }

    const loginTimer = setTimeout(() => void end('login', CLOSE.login, errorMessage('KG2001', lang)), config.loginTimeoutMs);
    const pinger = setInterval(() => {
      if (!handle || !loginAnswered) return;
      if (++missed > config.maxMissedPings) void end('ping', CLOSE.protocol, 'PING not answered');
      else send('{"trnm":"PING"}');
    }, config.pingIntervalMs).unref();
    const recheck = setInterval(() => void recheckNow(), config.recheckMs).unref();

    /** The session runs under `c` from now: it ends when that token stops being accepted (the timer; live() is the backstop). */
    function runUnder(c: SessionClaims): void {
      claims = c;
      if (tracked) tracked.entry.claims = c;
      clearTimeout(expiry);
      const ms = Math.min(2 ** 31 - 1, Math.max(0, deps.sessions.acceptedUntilMs(c) - Date.now()));
      expiry = setTimeout(() => void recheckNow(), ms); // live() carries the session on, or it ends KG2003
      expiry.unref();
    }

    // The periodic re-check; a store that did not answer in time is asked once more before the session ends (after
    // a pause, a stalled VM or a long GC, its time-out fires before the answer that came meanwhile is read).
    async function recheckNow(): Promise<void> {
      const failed = await live().then(
        () => undefined,
        (err: unknown) => (toGuardError(err).code === 'KG7001' ? live().then(() => undefined, toGuardError) : toGuardError(err)),
      );
      if (failed) await end(reasonOf(failed), CLOSE.ended, errorText(failed));
      else await relearn?.();
    }

    async function live(): Promise<void> {
      if (!handle || !bot || !claims) return;
      if (Date.now() > deps.sessions.acceptedUntilMs(claims)) runUnder(await carriedOn(deps.sessions, claims, sourceIp));
      await deps.sessions.checkLive(claims);
      // The bot's record as a REST call reads it, each time: the allowlist in force judges the message.
      const b = deps.bots.get(bot.id);
      if (!b || !issuedTo(claims, b)) throw new GuardError('KG2007', b ? 'issued to an earlier bot of this id' : 'the bot was removed');
      if (!b.enabled) throw new GuardError('KG2006');
      // Account pushes are routed by the account the session opened with.
      if (b.account !== bot.account) throw new GuardError('KG2007', "the bot's account changed");
      bot = b;
      await deps.responder.checkLockdown({ botId: bot.id, account: bot.account, kind: 'realtime', body: {} });
      const state = await deps.policy.tradingState(bot.id, bot.account);
      if (state.state === 'HALTED') throw new GuardError('KG3008', `trading HALTED${state.reason ? `: ${state.reason}` : ''}`);
    }

    async function login(m: Extract<BotMessage, { trnm: 'LOGIN' }>): Promise<void> {
      let signedBy: string | undefined;
      try {
        const c = await deps.sessions.verifySignature(m.token);
        signedBy = c.botId;
        const b = deps.bots.get(c.botId);
        // Tracked before the session and lock checks, so a kill, disable or lockdown heard while this login
        // goes on ends it too (not once the socket has ended: nothing would untrack it).
        const ended = (reason: GuardError) => void end(reasonOf(reason), CLOSE.ended, errorText(reason));
        if (!ending && b) tracked = sessionsLive.track(c, b, ended, config.maxSessionsPerBot);
        await deps.sessions.checkLive(c);
        if (!b) throw new GuardError('KG2002', 'unknown bot');
        if (!issuedTo(c, b)) throw new GuardError('KG2007', 'issued to an earlier bot of this id');
        if (!b.enabled) throw new GuardError('KG2006');
        await deps.responder.checkLockdown({ botId: b.id, account: b.account, kind: 'realtime', body: {} });
        await deps.conditionRisk.login(b, sourceIp); // judged as a REST call from this address is (a pinned bot's cidr)
        const key = await deps.keyOf(b.id);
        const opened = await deps.service.open({ id: b.id, account: b.account }, key, send);
        if (ending) {
          // The bot left while it logged in: end() found no session to close, so this one is closed here
          // (else it would hold the key's upstream session and broker token for good).
          await opened.close().catch(() => undefined);
          return;
        }
        bot = b;
        handle = opened;
        runUnder(c);
        relearn = deps.conditionRisk.daily(() => ({ bot: bot!, registered: handle?.registered() ?? [] }), sourceIp);
      } catch (err) {
        // Decided: a hold longer than the login time-out must still end in this refusal, not in KG2001.
        clearTimeout(loginTimer);
        const g = toGuardError(err);
        logins.inc({ outcome: 'refused' });
        await audit({ type: 'realtime.login_refused', code: g.code, detail: g.detail, sourceIp });
        await deps.holdAuthFailure?.(g.code, signedBy ? `bot:${signedBy}` : `source:${sourceIp}`, req.socket);
        if (ws.readyState === ws.OPEN) ws.send(loginRefusal(g, lang));
        await end('login', CLOSE.login, errorText(g));
        return;
      }
      clearTimeout(loginTimer);
      bots.inc();
      logins.inc({ outcome: 'ok' });
      await audit({ type: 'realtime.login', botId: bot.id, sourceIp });
      send(reply('LOGIN', 0, '', { sor_yn: 'Y' }));
      loginAnswered = true;
    }

    /**
     * A LOGIN on a logged-in socket: the same bot's valid token is acknowledged and the session runs under it from
     * now (to its expiry), any other refused with nothing changed.
     */
    async function relogin(token: string): Promise<void> {
      const verdict = await deps.sessions.verify(token).then(
        (c) => (c.botId === bot!.id && issuedTo(c, bot!) ? c : new GuardError('KG2002', 'this socket is logged in as another bot')),
        (err: unknown) => toGuardError(err),
      );
      if (verdict instanceof GuardError) {
        denials.inc({ reason: verdict.code });
        await deps.holdAuthFailure?.(verdict.code, `source:${sourceIp}`, req.socket);
        send(loginRefusal(verdict, lang));
        return;
      }
      if (ending) return;
      runUnder(verdict);
      send(reply('LOGIN', 0, '', { sor_yn: 'Y' }));
    }

    /** The bot's allowlist and the policy, for one realtime api-id (type or condition search TR). */
    function allowed(apiId: string): ApiEntry {
      const entry = lookupApi(apiId);
      if (!entry || !botAllows(bot!, apiId, entry.kind)) throw new GuardError('KG3002', `api-id ${apiId} is not allowed for this bot`);
      return entry;
    }

    async function judge(apiId: string, item = '', riskScore?: number, entry = allowed(apiId)): Promise<void> {
      const call = { botId: bot!.id, account: bot!.account, apiId, entry, body: item ? { stk_cd: item } : {}, intentional: false };
      const d = await deps.policy.evaluate(riskScore === undefined ? call : { ...call, riskScore });
      if (d.outcome !== 'allow') throw new GuardError('KG3001', `rule=${d.ruleId ?? '?'} ${d.reason ?? ''}`.trim());
    }

    async function registration(m: Extract<BotMessage, { trnm: 'REG' | 'REMOVE' }>): Promise<void> {
      const h = handle!;
      if (m.trnm === 'REG') for (const r of m.items) await judge(r.type, r.item);
      await auditFirst({ type: m.trnm === 'REG' ? 'realtime.registered' : 'realtime.removed', botId: bot!.id, group: m.group, items: summary(m.items) });
      // The cap is counted by the key's hub: what the bot would hold after this, all groups, all its sockets (KG3018).
      const cap = Math.min(config.maxRegistrationsPerBot, deps.policy.realtimeCaps(bot!.id, bot!.account).maxRegistrations ?? Infinity);
      if (m.trnm === 'REG') await h.register(m.group, m.items, m.refresh, cap);
      else await h.remove(m.group, m.items);
      if (m.trnm === 'REG') await deps.conditionRisk.registered(bot!, m.items, sourceIp);
      send(reply(m.trnm, 0, ''));
    }

    async function condition(m: Extract<BotMessage, { trnm: 'CNSRLST' | 'CNSRREQ' | 'CNSRCLR' }>): Promise<void> {
      const h = handle!;
      if (m.trnm === 'CNSRLST') {
        await judge('ka10171');
        await auditFirst({ type: 'realtime.search_list', botId: bot!.id });
        send(JSON.stringify(await h.conditionList()));
        return;
      }
      if (m.trnm === 'CNSRCLR') {
        // Clearing only narrows what the bot receives: risk may lock the bot down, the policy is not asked.
        const { input, judgement } = await deps.conditionRisk.assess(bot!, 'ka10174', m.seq, sourceIp);
        judged = judgement;
        await auditFirst({ type: 'realtime.search_cleared', botId: bot!.id, seq: m.seq, ...judged });
        const cleared = await h.conditionClear(m.seq);
        send(JSON.stringify(cleared));
        await deps.conditionRisk.learn(input, cleared);
        return;
      }
      const apiId = m.live ? 'ka10173' : 'ka10172';
      // The bot's allowlist first, as the REST pipeline's plan: a call it may never make is not scored or counted.
      const entry = allowed(apiId);
      const { input, score, judgement } = await deps.conditionRisk.assess(bot!, apiId, m.seq, sourceIp);
      judged = judgement;
      await judge(apiId, '', score, entry);
      const cap = Math.min(config.maxLiveSearchesPerBot, deps.policy.realtimeCaps(bot!.id, bot!.account).maxLiveSearches ?? Infinity);
      await auditFirst({ type: 'realtime.search', botId: bot!.id, seq: m.seq, live: m.live, ...judged });
      // Counted by the key's hub over all the bot's sockets (KG3018).
      const answer = await h.conditionRequest(m.seq, m.live, m.frame, cap);
      send(JSON.stringify(answer));
      await deps.conditionRisk.learn(input, answer);
    }

    async function onMessage(text: string): Promise<void> {
      let m: BotMessage;
      try {
        m = parseBotMessage(text, config.maxItemsPerMessage);
      } catch (err) {
        const e = err as RealtimeProtocolError;
        denials.inc({ reason: 'malformed' });
        send(reply(e.trnm || 'ERROR', 1, errorText(new GuardError('KG1019', e.message))));
        if (!handle) await end('login', CLOSE.login, e.message);
        return;
      }
      if (m.trnm === 'PING') return; // counted as an answer when it arrived
      if (!handle) {
        if (m.trnm !== 'LOGIN') {
          send(reply(m.trnm, 3, errorText(new GuardError('KG2001', 'LOGIN first'))));
          await end('login', CLOSE.login, 'LOGIN first');
          return;
        }
        await login(m);
        return;
      }
      if (m.trnm === 'LOGIN') return relogin(m.token);
      judged = {};
      try {
        await live();
        if (m.trnm === 'REG' || m.trnm === 'REMOVE') await registration(m);
        else await condition(m);
      } catch (err) {
        const g = toGuardError(err);
        if (['KG2003', 'KG2004', 'KG2006', 'KG2007', 'KG3008', 'KG7003'].includes(g.code)) {
          await end(reasonOf(g), CLOSE.ended, errorText(g));
          return;
        }
        denials.inc({ reason: g.code });
        // A condition search's answer names its seq, as Kiwoom's does: clients wait for the answer to theirs by it.
        send(reply(m.trnm, g.returnCode || 1, errorText(g), 'seq' in m ? { seq: m.seq } : {}));
        await audit({ type: 'realtime.denied', botId: bot?.id, trnm: m.trnm, code: g.code, detail: g.detail, ...judged });
      }
    }

    ws.on('message', (data, isBinary) => {
      // A socket that is ending handles nothing more (a refused LOGIN's pipelined followers included).
      if (ending) return;
      if (isBinary) {
        void end('protocol', CLOSE.protocol, 'text frames only');
        return;
      }
      // The bot answers: any frame, a PING echo above all, proves it alive when it arrives, not once the frames
      // queued before it are handled (a condition search waiting on Kiwoom would otherwise close a live bot).
      missed = 0;
      // Frames come faster than they are judged (store, policy, audit): the queue is bounded, not the heap.
      if (++waiting > config.maxWaitingFrames) {
        void end('flood', CLOSE.protocol, errorText(new GuardError('KG3005', `more than ${config.maxWaitingFrames} realtime frames waiting`)));
        return;
      }
      // One message at a time per bot: its registrations change in the order it sent them.
      busy = busy
        .then(() => (ending ? undefined : onMessage(data.toString())))
        .catch((err) => logger.warn({ code: toGuardError(err).code }, 'realtime message failed'))
        .finally(() => waiting--);
    });
    ws.on('close', () => void end('closed', 1000, ''));
    ws.on('error', () => void end('closed', 1000, ''));
  }

  wss.on('connection', onConnection);

  return {
    upgrade(req, socket, head) {
      const path = (req.url ?? '').split('?')[0];
      if (!config.enabled || path !== REALTIME_PATH || req.method !== 'GET') {
        const refusal = !config.enabled || path !== REALTIME_PATH ? new GuardError('KG1009') : new GuardError('KG1008');
        socket.end(rawErrorResponse(refusal, lang));
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    },
    attach(server) {
      server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    },
    async close() {
      for (const ws of wss.clients) ws.close(1001, 'sidecar shutting down');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await sessionsLive.close();
    },
  };
}
