// The Kiwoom REST simulator: an HTTP server on loopback speaking Kiwoom's
// protocol (token issue/revoke, TR calls with api-id and Bearer headers,
// cont-yn/next-key paging) over an in-memory order book. By default it is
// faithful: one shared token per app key while valid, Kiwoom's per-app-key
// limits, optional address binding. `ideal: true` drops all of that.
// This file is the HTTP side (body reading, injected faults, the request log,
// the Simulator handle and its lifecycle); the protocol model is routes.ts,
// the realtime WebSocket (same port, /api/dostk/websocket) is ws.ts.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_CASH, OrderBook } from './book.js';
import { handleControl } from './control.js';
import { FaultState } from './faults.js';
import { DEFAULT_LIMITS, PeakRate, RateLimiter, mergeLimits } from './limits.js';
import { Market } from './market.js';
import { KiwoomReply, SimError, badField, detailOf, invalidToken, rateLimited, serverFault } from './responses.js';
import { type Answer, createRoute, header } from './routes.js';
import { Credentials, checkKey } from './tokens.js';
import type { SimAppRegistration, SimLimits, SimOptions, SimOrder, SimRefusalCode, SimRequestRecord, SimStats, Simulator } from './types.js';
import { DEFAULT_REALTIME, Realtime, WS_PATH } from './ws.js';
import { isStockCode } from '../kiwoom/protocol/index.js';

export { normaliseAddress } from './routes.js';

const DEFAULTS = {
  host: '127.0.0.1',
  port: 0,
  pageSize: 20,
  chartDays: 600,
  tokenTtlMs: 24 * 60 * 60 * 1000,
  maxBodyBytes: 64 * 1024,
  maxRequestLog: 10_000,
};
const TR_PREFIX = '/api/dostk/';
const JSON_TYPE = 'application/json;charset=UTF-8';
const REFUSAL_CODES: readonly SimRefusalCode[] = ['1700', '1701', '1702', '1634', '8005', '8010'];

function checkInt(name: string, v: number, min: number, max: number): number {
  if (!Number.isSafeInteger(v) || v < min || v > max) throw new SimError(`${name} must be an integer in ${min}..${max}`);
  return v;
}

export function isLoopbackAddress(addr: string | undefined): boolean {
  return addr === '127.0.0.1' || addr === '::1' || addr === '::ffff:127.0.0.1' || (addr?.startsWith('127.') ?? false);
}

function zeroRefusals(): Record<SimRefusalCode, number> {
  return { 1700: 0, 1701: 0, 1702: 0, 1634: 0, 8005: 0, 8010: 0 };
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function startSimulator(opts: SimOptions = {}): Promise<Simulator> {
  const host = opts.host ?? DEFAULTS.host;
  const port = checkInt('port', opts.port ?? DEFAULTS.port, 0, 65535);
  const pageSize = checkInt('pageSize', opts.pageSize ?? DEFAULTS.pageSize, 1, 1000);
  const chartDays = checkInt('chartDays', opts.chartDays ?? DEFAULTS.chartDays, 1, 600);
  const tokenTtlMs = checkInt('tokenTtlMs', opts.tokenTtlMs ?? DEFAULTS.tokenTtlMs, 1, 7 * 24 * 3600 * 1000);
  const maxBodyBytes = checkInt('maxBodyBytes', opts.maxBodyBytes ?? DEFAULTS.maxBodyBytes, 2, 16 * 1024 * 1024);
  const maxRequestLog = checkInt('maxRequestLog', opts.maxRequestLog ?? DEFAULTS.maxRequestLog, 0, 1_000_000);
  const now = opts.now ?? Date.now;
  const log = opts.logger;
  const ideal = opts.ideal ?? false;
  if (ideal && (opts.limits !== undefined || opts.bindTokenToAddress)) throw new SimError('ideal mode has no limits and no address binding');
  const bindToAddress = opts.bindTokenToAddress ?? false;
  const rateLimitStatus = opts.rateLimitStatus ?? 200;
  if (rateLimitStatus !== 200 && rateLimitStatus !== 429) throw new SimError('rateLimitStatus must be 200 or 429');
  const startLimits = mergeLimits(DEFAULT_LIMITS, opts.limits ?? {});
  const hour = 3600 * 1000;
  const realtimeOptions = {
    pingIntervalMs: checkInt('wsPingIntervalMs', opts.wsPingIntervalMs ?? DEFAULT_REALTIME.pingIntervalMs, 1, hour),
    maxMissedPings: checkInt('wsMaxMissedPings', opts.wsMaxMissedPings ?? DEFAULT_REALTIME.maxMissedPings, 1, 1000),
    loginTimeoutMs: checkInt('wsLoginTimeoutMs', opts.wsLoginTimeoutMs ?? DEFAULT_REALTIME.loginTimeoutMs, 1, hour),
    maxRegistrations: checkInt('wsMaxRegistrations', opts.wsMaxRegistrations ?? DEFAULT_REALTIME.maxRegistrations, 1, 100_000),
    maxLiveConditions: checkInt('wsMaxLiveConditions', opts.wsMaxLiveConditions ?? DEFAULT_REALTIME.maxLiveConditions, 1, 1000),
    quoteIntervalMs: checkInt('wsQuoteIntervalMs', opts.wsQuoteIntervalMs ?? DEFAULT_REALTIME.quoteIntervalMs, 0, hour),
    conditionIntervalMs: checkInt('wsConditionIntervalMs', opts.wsConditionIntervalMs ?? DEFAULT_REALTIME.conditionIntervalMs, 0, hour),
    maxPayloadBytes: maxBodyBytes,
  };

  const market = new Market();
  const book = new OrderBook(market);
  const creds = new Credentials();
  const faults = new FaultState();
  const limiter = new RateLimiter(startLimits);
  const issueRate = new PeakRate();
  let refusals = zeroRefusals();
  let refusedIssues = 0;
  let requestLog: SimRequestRecord[] = [];
  let requests = 0;
  const timers = new Set<NodeJS.Timeout>();
  const hung = new Set<ServerResponse>();
  // A quote move: the market, resting orders (00/04 pushes through the book), then the trade's 0B/0D.
  const moveQuote = (stkCd: string, price: number): number => {
    market.setQuote(stkCd, price);
    book.matchResting(price, stkCd);
    return realtime.trade(stkCd);
  };
  const realtime = new Realtime({ creds, book, market, now, bindToAddress, moveQuote, ...(log ? { log } : {}) }, realtimeOptions);

  function record(rec: SimRequestRecord): void {
    if (maxRequestLog === 0) return;
    requestLog.push(rec);
    if (requestLog.length > maxRequestLog) requestLog.splice(0, requestLog.length - maxRequestLog);
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });
  }

  const route = createRoute({
    creds,
    book,
    market,
    limiter,
    now,
    ideal,
    bindToAddress,
    rateLimitStatus,
    tokenTtlMs,
    pageSize,
    chartDays,
    onTokenIssued: opts.onTokenIssued,
  });

  function send(res: ServerResponse, answer: Answer, apiId: string | undefined, isTr: boolean): void {
    if (res.destroyed) return;
    const code = answer.body.return_code;
    const body = opts.textReturnCodes && typeof code === 'number' ? { ...answer.body, return_code: code === 0 ? '0000' : String(code) } : answer.body;
    const payload = JSON.stringify(body);
    const headers: Record<string, string | number> = { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(payload), ...answer.headers };
    if (isTr) {
      headers['api-id'] = apiId && /^[A-Za-z0-9]{1,20}$/.test(apiId) ? apiId : '';
      headers['cont-yn'] ??= 'N';
      headers['next-key'] ??= '';
    }
    res.writeHead(answer.status, headers);
    res.end(payload);
  }

  async function handleKiwoom(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const started = now();
    requests++;
    const apiId = header(req, 'api-id');
    const isTr = path.startsWith(TR_PREFIX);
    const base = { method: req.method ?? '', path, apiId, time: started };
    if (path === '/oauth2/token') issueRate.note(started);
    let raw: Buffer;
    try {
      raw = await readBody(req, maxBodyBytes);
    } catch (err) {
      const status = err instanceof BodyTooLarge ? 413 : 400;
      send(res, { status, headers: { connection: 'close' }, body: badField('body', '요청 본문이 너무 큽니다').body }, apiId, isTr);
      record({ ...base, status, returnCode: 1, outcome: 'answered' });
      return;
    }
    // Faults are decided on arrival so a counter is consumed by the request it was meant for.
    const hang = isTr && faults.take('hangNext');
    const drop = !hang && isTr && faults.take('dropNext');
    const gateway429 = !hang && !drop && isTr && faults.take('gatewayRateLimitNext');
    let fault: KiwoomReply | undefined;
    let revokeInvalid = false;
    if (!hang && !drop) {
      if (path === '/oauth2/token' && faults.take('tokenFailNext')) fault = serverFault();
      else if (path === '/oauth2/token' && faults.take('issueRateLimitNext')) fault = rateLimited('1700', 'au10001');
      else if (path === '/oauth2/revoke' && faults.take('revokeFailNext')) fault = serverFault();
      else if (path === '/oauth2/revoke' && faults.take('revokeInvalidNext')) revokeInvalid = true;
      else if (isTr && faults.take('rateLimitNext')) fault = rateLimited('1700', apiId ?? '');
      else if (isTr && (faults.failsApiId(apiId) || faults.take('fail5xxNext'))) fault = serverFault();
    }
    const latency = faults.latencyMs(path);
    if (latency > 0) await sleep(latency);
    if (hang) {
      hung.add(res);
      res.on('close', () => hung.delete(res));
      record({ ...base, status: 0, returnCode: undefined, outcome: 'hung' });
      return;
    }
    if (drop) {
      req.socket.destroy();
      record({ ...base, status: 0, returnCode: undefined, outcome: 'dropped' });
      return;
    }
    if (gateway429) {
      const page = '<html><head><title>429 Too Many Requests</title></head><body>Too Many Requests</body></html>';
      res.writeHead(429, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(page) });
      res.end(page);
      record({ ...base, status: 429, returnCode: undefined, outcome: 'answered' });
      return;
    }
    let answer: Answer;
    if (fault) answer = { status: fault.status, body: fault.body, headers: fault.headers };
    else {
      try {
        answer = route(req, path, apiId, raw, started);
      } catch (err) {
        if (!(err instanceof KiwoomReply)) {
          log?.error({ err: err instanceof Error ? err.message : 'unknown' }, 'sim handler failed');
          answer = { status: 500, headers: {}, body: serverFault().body };
        } else answer = { status: err.status, body: err.body, headers: err.headers };
      }
      // The token has ended (the route revoked it), but Kiwoom answers as for a token already invalid.
      if (revokeInvalid && answer.body.return_code === 0) {
        fault = invalidToken();
        answer = { status: fault.status, body: fault.body, headers: fault.headers };
      }
    }
    if (isTr && answer.headers['cont-yn'] === 'Y' && faults.take('nextKeyLostNext')) answer = { ...answer, headers: { ...answer.headers, 'next-key': '' } };
    // Carried out (an order placed), then the answer lost on the way back.
    if (isTr && !fault && faults.take('dropAnswerNext')) {
      req.socket.destroy();
      record({ ...base, status: 0, returnCode: undefined, outcome: 'dropped' });
      return;
    }
    send(res, answer, apiId, isTr);
    if (path === '/oauth2/revoke' && (answer.body.return_code === 0 || revokeInvalid)) realtime.sweepTokens();
    const returnCode = typeof answer.body.return_code === 'number' ? answer.body.return_code : undefined;
    const detail = detailOf(answer.body);
    // Injected faults are not the model refusing, so they are not counted.
    if (!fault && detail !== undefined && (REFUSAL_CODES as readonly string[]).includes(detail)) {
      refusals[detail as SimRefusalCode]++;
      if (path === '/oauth2/token') refusedIssues++;
    }
    record({ ...base, status: answer.status, returnCode, outcome: 'answered', ...(detail === undefined ? {} : { detail }) });
    log?.debug({ method: base.method, path, apiId, status: answer.status, returnCode, detail }, 'sim request');
  }

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const work =
      opts.control && path.startsWith('/_sim/')
        ? handleControl(req, res, path, sim, isLoopbackAddress(req.socket.remoteAddress))
        : handleKiwoom(req, res, path);
    work.catch((err: unknown) => {
      log?.error({ err: err instanceof Error ? err.message : 'unknown' }, 'sim request failed');
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500);
        res.end();
      }
    });
  });
  server.on('upgrade', (req, socket, head) => realtime.upgrade(req, socket, head));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const urlHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;

  const sim: Simulator = {
    url: `http://${urlHost}:${addr.port}`,
    wsUrl: `ws://${urlHost}:${addr.port}${WS_PATH}`,
    host: addr.address,
    port: addr.port,
    faults,
    registerApp(r: SimAppRegistration): void {
      if (typeof r !== 'object' || r === null) throw new SimError('registration must be an object');
      const holdings = r.holdings ?? [];
      if (!Array.isArray(holdings)) throw new SimError('holdings must be a list');
      // Validate everything before changing anything, so a bad call changes nothing.
      checkKey(r.appKey, 'appKey');
      checkKey(r.secretKey, 'secretKey');
      if (!book.get(r.accountNo)) book.open(r.accountNo, r.cash ?? DEFAULT_CASH, holdings);
      creds.register(r.appKey, r.secretKey, r.accountNo);
    },
    setQuote(stkCd: string, price: number): void {
      moveQuote(stkCd, price);
    },
    setVenueQuote: (stkCd, price) => market.setVenueQuote(stkCd, price),
    setVolume: (stkCd, adv) => market.setVolume(stkCd, adv),
    quote: (stkCd) => market.price(stkCd),
    stats: (): SimStats => ({
      tokensIssued: creds.issued,
      tokensReused: creds.reused,
      tokensRevoked: creds.revoked,
      liveTokens: creds.live(now()),
      requests,
      refusals: { ...refusals },
      refusedIssues,
      peakIssuesPerSecond: issueRate.peak,
      ws: realtime.stats(),
    }),
    liveTokens: () => creds.live(now()),
    requestLog: () => [...requestLog],
    orders: (accountNo): readonly SimOrder[] => (book.get(accountNo)?.orders ?? []).map((o) => ({ ...o })),
    setHoldings: (accountNo, holdings) => book.setHoldings(accountNo, holdings),
    account(accountNo) {
      const a = book.get(accountNo);
      return a ? { cash: a.cash, holdings: a.holdingList() } : undefined;
    },
    ideal,
    revokeAll(accountNo?: string): number {
      if (accountNo !== undefined && typeof accountNo !== 'string') throw new SimError('accountNo must be a string');
      const n = creds.revokeAll(now(), accountNo);
      realtime.sweepTokens();
      return n;
    },
    limits: (): SimLimits => limiter.limits,
    setLimits(next: Partial<SimLimits>): SimLimits {
      if (ideal) throw new SimError('the ideal simulator has no limits');
      limiter.limits = mergeLimits(limiter.limits, next);
      return limiter.limits;
    },
    peakIssuesPerSecond: () => issueRate.peak,
    wsSessions: () => realtime.sessions(),
    dropWebSockets: () => realtime.drop(),
    pushQuote(stkCd: string, price?: number): number {
      if (price !== undefined) return moveQuote(stkCd, price);
      if (typeof stkCd !== 'string' || !isStockCode(stkCd) || market.price(stkCd) === undefined)
        throw new SimError(`unknown stock code: ${JSON.stringify(stkCd)}`);
      return realtime.trade(stkCd);
    },
    triggerCondition: (seq, change) => realtime.triggerCondition(seq, change),
    reset(): void {
      realtime.reset();
      creds.clear();
      limiter.clear();
      limiter.limits = startLimits;
      issueRate.clear();
      refusals = zeroRefusals();
      refusedIssues = 0;
      book.clear();
      market.reset();
      faults.clear();
      requestLog = [];
      requests = 0;
    },
    async close(): Promise<void> {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const res of hung) res.destroy();
      hung.clear();
      await realtime.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      creds.clear();
    },
  };
  log?.info({ url: sim.url, control: opts.control ?? false, ideal, bindToAddress }, 'kiwoom simulator listening');
  return sim;
}
