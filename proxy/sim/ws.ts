// The simulator's realtime WebSocket, Kiwoom's `/api/dostk/websocket`, on the
// simulator's own HTTP port (the 'upgrade' event; any other upgrade path gets
// 404 and the socket is destroyed). This file is the hub: who may log in, the
// one-session-per-app-key rule (R10001), PINGs and the missed-ping close
// (R10002), token revocation and expiry, and the pushes (0B/0D quotes, 00/04
// from the order book, 02 condition hits). The per-connection protocol is
// ws-session.ts; the payloads are realtime.ts and conditions.ts.
//
// Choices where Kiwoom's documents are silent:
//  - A session whose token is revoked (au10002, revokeAll, /_sim/revoke) or
//    expires gets SYSTEM {"code":"8005","message":"인증에 실패했습니다[8005:Token이
//    유효하지 않습니다]"} and is closed: REST's 8005 wording, so one detector
//    serves both. Revocations are noticed at once; expiry at the next PING tick.
//  - A refused LOGIN is answered as Kiwoom answers a bad token (measured, kept in
//    public clients' tests): return_code 805004, "토큰 인증에 실패했습니다. 접속을
//    종료합니다 [CODE=8005, MESSAGE=Token이 유효하지 않습니다]", then closed (no
//    SYSTEM frame, as on the mock host). Another address than the token's gets
//    the same shape with CODE=8010 [G].
//  - The R10002 and R10004 messages are this simulator's wording (the codes
//    and the R10001 message are as clients report them).
//  - Only logged-in sessions get PINGs; a connection that does not log in
//    within wsLoginTimeoutMs gets SYSTEM R10004 and is closed.
//  - A session whose send buffer holds over 1 MiB skips quote pushes (never
//    00/04/02 pushes) until it drains.

import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import { baseCode } from '../kiwoom/protocol/index.js';
import type { BookEvent, OrderBook } from './book.js';
import { ConditionBook, searchRow } from './conditions.js';
import type { Market } from './market.js';
import { type RealFrame, TradeTape, balance, conditionHit, orderBookLevels, orderFill, realFrame, stockTrade } from './realtime.js';
import { LOGIN_TOKEN_REFUSED, realtimeDetail } from '../kiwoom/realtime/protocol.js';
import { ADDRESS_MISMATCH_MESSAGE, INVALID_TOKEN_MESSAGE, invalidToken } from './responses.js';
import { normaliseAddress } from './routes.js';
import type { Credentials } from './tokens.js';
import type { SimConditionEvent, SimWsStats } from './types.js';
import { type SessionHost, WsSession } from './ws-session.js';

export const WS_PATH = '/api/dostk/websocket';

export const R10001_MESSAGE = '동일한 App key로 접속이 되었습니다. 기존 세션은 종료가 됩니다';
const R10002_MESSAGE = 'PING 응답이 없어 연결을 종료합니다';
/** Kiwoom's realtime LOGIN refusal, as measured: return_code 805004, this text, then [CODE=8005, MESSAGE=...]. */
const LOGIN_REFUSED_MESSAGE = '토큰 인증에 실패했습니다. 접속을 종료합니다';
const R10004_TIMEOUT_MESSAGE = '접속허용 요청(LOGIN)이 시간 안에 오지 않았습니다. 연결을 종료합니다';
const SLOW_CONSUMER_BYTES = 1024 * 1024;
const MAX_TOKEN_CHARS = 4096;

export interface RealtimeOptions {
  readonly pingIntervalMs: number;
  readonly maxMissedPings: number;
  readonly loginTimeoutMs: number;
  readonly maxRegistrations: number;
  readonly maxLiveConditions: number;
  /** 0 = no quote timer. */
  readonly quoteIntervalMs: number;
  /** 0 = no condition timer. */
  readonly conditionIntervalMs: number;
  readonly maxPayloadBytes: number;
}

export const DEFAULT_REALTIME: Omit<RealtimeOptions, 'maxPayloadBytes'> = {
  pingIntervalMs: 10_000,
  maxMissedPings: 3,
  loginTimeoutMs: 10_000,
  maxRegistrations: 100,
  maxLiveConditions: 10,
  quoteIntervalMs: 1000,
  conditionIntervalMs: 5000,
};

export interface RealtimeDeps {
  readonly creds: Credentials;
  readonly book: OrderBook;
  readonly market: Market;
  readonly now: () => number;
  readonly bindToAddress: boolean;
  readonly log?: Logger;
  /** Moves a quote as setQuote does (resting orders fill) and pushes the trade; returns the REAL frames sent. */
  readonly moveQuote: (stkCd: string, price: number) => number;
}

/** The fingerprint wsSessions() reports for an app key: the first 16 hex digits of its SHA-256. */
export function wsFingerprint(appKey: Buffer | string): string {
  return createHash('sha256')
    .update(Buffer.isBuffer(appKey) ? appKey : Buffer.from(String(appKey), 'utf8'))
    .digest('hex')
    .slice(0, 16);
}

export class Realtime {
  private readonly wss: WebSocketServer;
  private readonly sockets = new Set<WsSession>();
  /** appId -> its one logged-in session. */
  private readonly live = new Map<string, WsSession>();
  private readonly tape = new TradeTape();
  private readonly conditions = new ConditionBook();
  private readonly unlisten: () => void;
  private pingTimer: NodeJS.Timeout | undefined;
  private quoteTimer: NodeJS.Timeout | undefined;
  private conditionTimer: NodeJS.Timeout | undefined;
  private counters = { logins: 0, loginFailures: 0, replaced: 0, pushes: 0 };
  private fills = 0;
  private closed = false;
  private readonly host: SessionHost;

  constructor(
    private readonly deps: RealtimeDeps,
    private readonly opts: RealtimeOptions,
  ) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxPayloadBytes, clientTracking: false, perMessageDeflate: false });
    this.unlisten = deps.book.listen((e) => this.onBookEvent(e));
    this.host = {
      maxRegistrations: opts.maxRegistrations,
      maxLiveConditions: opts.maxLiveConditions,
      conditions: this.conditions,
      login: (session, token) => this.login(session, token),
      searchRow: (code) => searchRow(code, deps.market.instrument(code), this.tape.volume(code)),
      changed: () => this.refreshTimers(),
    };
  }

  /** The HTTP server's 'upgrade' handler. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const path = (req.url ?? '/').split('?')[0];
    if (this.closed || path !== WS_PATH) {
      socket.write('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', () => socket.destroy());
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const session = new WsSession(ws, normaliseAddress(req.socket.remoteAddress), this.host, (s) => this.forget(s));
      this.sockets.add(session);
      ws.on('message', (data) => session.handle(data));
      ws.on('close', () => {
        if (session.state === 'closed') return;
        session.state = 'closed';
        this.forget(session);
      });
      ws.on('error', () => ws.terminate());
      session.loginTimer = setTimeout(() => {
        if (session.state === 'new') session.end('R10004', R10004_TIMEOUT_MESSAGE);
      }, this.opts.loginTimeoutMs);
      session.loginTimer.unref();
    });
  }

  private login(session: WsSession, token: unknown): void {
    const rec = typeof token === 'string' && token !== '' && token.length <= MAX_TOKEN_CHARS ? this.deps.creds.lookup(token, this.deps.now()) : undefined;
    let refusal: string | undefined;
    if (!rec || !this.deps.book.get(rec.accountNo)) refusal = realtimeDetail('8005', INVALID_TOKEN_MESSAGE);
    else if (this.deps.bindToAddress && rec.issuedFrom !== session.remoteAddress) refusal = realtimeDetail('8010', ADDRESS_MISMATCH_MESSAGE);
    if (refusal !== undefined || !rec) {
      this.counters.loginFailures++;
      session.send({ trnm: 'LOGIN', return_code: LOGIN_TOKEN_REFUSED, return_msg: `${LOGIN_REFUSED_MESSAGE} ${refusal}` });
      session.close();
      return;
    }
    const previous = this.live.get(rec.appId);
    if (previous && previous !== session) {
      this.counters.replaced++;
      previous.end('R10001', R10001_MESSAGE);
    }
    session.becomeLive(rec);
    this.live.set(rec.appId, session);
    this.counters.logins++;
    session.send({ trnm: 'LOGIN', return_code: 0, return_msg: '', sor_yn: 'Y' });
    this.deps.log?.debug({ app: rec.appId.slice(0, 16) }, 'sim websocket login');
    this.refreshTimers();
  }

  private forget(session: WsSession): void {
    clearTimeout(session.loginTimer);
    this.sockets.delete(session);
    if (this.live.get(session.appId) === session) this.live.delete(session.appId);
    this.refreshTimers();
  }

  private tokenDead(session: WsSession, now: number): boolean {
    const rec = session.record;
    return !rec || rec.revoked || rec.expiresAt <= now;
  }

  /** Closes the sessions whose token is revoked or expired; returns how many. */
  sweepTokens(): number {
    const now = this.deps.now();
    let n = 0;
    for (const s of [...this.live.values()]) {
      if (!this.tokenDead(s, now)) continue;
      s.end('8005', invalidToken().body.return_msg);
      n++;
    }
    return n;
  }

  private pingTick(): void {
    this.sweepTokens();
    for (const s of [...this.live.values()]) {
      if (s.awaitingPong) s.missedPings++;
      if (s.missedPings >= this.opts.maxMissedPings) {
        s.end('R10002', R10002_MESSAGE);
        continue;
      }
      s.awaitingPong = true;
      s.send({ trnm: 'PING' });
    }
  }

  private push(session: WsSession, frame: RealFrame, quote = false): number {
    if (quote && session.socket.bufferedAmount > SLOW_CONSUMER_BYTES) return 0;
    if (!session.send(frame)) return 0;
    this.counters.pushes++;
    return 1;
  }

  /** A trade in `stkCd` at its current price: REAL 0B and 0D to the sessions that registered it. */
  trade(stkCd: string): number {
    const code = baseCode(stkCd);
    const quote = this.deps.market.instrument(code);
    if (!quote || this.live.size === 0) return 0;
    const { qty, buy } = this.tape.nextTrade();
    const tape = this.tape.trade(code, quote.price, qty);
    const now = this.deps.now();
    let n = 0;
    for (const s of this.live.values()) {
      for (const item of s.itemsFor('0B', code)) n += this.push(s, realFrame('0B', item, stockTrade(quote, tape, qty, buy, now)), true);
      for (const item of s.itemsFor('0D', code)) n += this.push(s, realFrame('0D', item, orderBookLevels(quote, now)), true);
    }
    return n;
  }

  private quoteTick(): void {
    const codes = new Set<string>();
    for (const s of this.live.values()) for (const c of s.quoteCodes()) codes.add(c);
    for (const code of codes) {
      const quote = this.deps.market.instrument(code);
      if (quote) this.deps.moveQuote(code, this.tape.walk(quote));
    }
  }

  private onBookEvent(e: BookEvent): void {
    const sessions = [...this.live.values()].filter((s) => s.accountNo === e.accountNo);
    if (sessions.length === 0) return;
    const code = baseCode(e.order.stkCd);
    const quote = this.deps.market.instrument(code);
    const now = this.deps.now();
    const fillNo = e.kind === 'filled' ? String(++this.fills) : '';
    const fill = realFrame('00', code, orderFill(e, quote, fillNo, now));
    for (const s of sessions) if (s.hasType('00')) this.push(s, fill);
    if (e.kind !== 'filled') return;
    const account = this.deps.book.get(e.accountNo);
    if (!account) return;
    const held = account.holdings.get(code);
    let net = 0;
    for (const o of account.orders) if (baseCode(o.stkCd) === code) net += (o.side === 'buy' ? 1 : -1) * o.filledQty;
    const values = balance(
      {
        accountNo: e.accountNo,
        stkCd: code,
        qty: held?.qty ?? 0,
        avgPrice: held?.avgPrice ?? e.fill?.price ?? 0,
        orderable: account.sellableQty(code),
        netBoughtToday: net,
        side: e.order.side,
      },
      quote,
    );
    const frame = realFrame('04', code, values);
    for (const s of sessions) if (s.hasType('04')) this.push(s, frame);
  }

  /** One stock enters or leaves condition `seq`: REAL 02 to the sessions with a live search on it. */
  triggerCondition(seq: string, change?: { readonly stkCd?: string; readonly kind?: 'I' | 'D' }): SimConditionEvent {
    const { stkCd, kind } = this.conditions.change(seq, change?.stkCd, change?.kind);
    const frame = realFrame('02', stkCd, conditionHit(seq, stkCd, kind, this.deps.now()));
    let pushes = 0;
    for (const s of this.live.values()) if (s.liveConditions.has(seq)) pushes += this.push(s, frame);
    return { seq, stkCd, kind, pushes };
  }

  private conditionTick(): void {
    const seqs = new Set<string>();
    for (const s of this.live.values()) for (const seq of s.liveConditions) seqs.add(seq);
    for (const seq of seqs) this.triggerCondition(seq);
  }

  /** Starts the timers there is work for and stops the others. */
  private refreshTimers(): void {
    const sessions = [...this.live.values()];
    const wantPing = !this.closed && sessions.length > 0;
    const wantQuotes = wantPing && this.opts.quoteIntervalMs > 0 && sessions.some((s) => s.quoteCodes().size > 0);
    const wantConditions = wantPing && this.opts.conditionIntervalMs > 0 && sessions.some((s) => s.liveConditions.size > 0);
    this.pingTimer = this.timer(this.pingTimer, wantPing, this.opts.pingIntervalMs, () => this.pingTick());
    this.quoteTimer = this.timer(this.quoteTimer, wantQuotes, this.opts.quoteIntervalMs, () => this.quoteTick());
    this.conditionTimer = this.timer(this.conditionTimer, wantConditions, this.opts.conditionIntervalMs, () => this.conditionTick());
  }

  private timer(current: NodeJS.Timeout | undefined, wanted: boolean, ms: number, fn: () => void): NodeJS.Timeout | undefined {
    if (!wanted) {
      clearInterval(current);
      return undefined;
    }
    if (current) return current;
    const t = setInterval(() => {
      try {
        fn();
      } catch (err) {
        this.deps.log?.error({ err: err instanceof Error ? err.message : 'unknown' }, 'sim websocket timer failed');
      }
    }, ms);
    t.unref();
    return t;
  }

  /** Logged-in sessions per app key fingerprint. */
  sessions(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const appId of this.live.keys()) {
      const fp = appId.slice(0, 16);
      out[fp] = (out[fp] ?? 0) + 1;
    }
    return out;
  }

  stats(): SimWsStats {
    let registrations = 0;
    for (const s of this.live.values()) registrations += s.registrationCount();
    return { sessions: this.live.size, ...this.counters, registrations };
  }

  /** Destroys every socket without a close frame; returns how many. */
  drop(): number {
    const all = [...this.sockets];
    for (const s of all) s.terminate();
    return all.length;
  }

  /** Drops every socket and forgets counters, conditions and the tape. */
  reset(): void {
    this.drop();
    this.counters = { logins: 0, loginFailures: 0, replaced: 0, pushes: 0 };
    this.fills = 0;
    this.tape.clear();
    this.conditions.reset();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unlisten();
    this.drop();
    this.refreshTimers();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
