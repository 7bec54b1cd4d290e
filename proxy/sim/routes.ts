// The simulator's Kiwoom API surface, split from server.ts so the HTTP
// plumbing (body reading, faults, recording, lifecycle) and the protocol
// model live apart: one request (path, headers, raw body) in, one answer
// out, for au10001 token issue, au10002 revoke and the TR calls. Refusals
// are thrown as KiwoomReply; server.ts turns them into answers.

import type { IncomingMessage } from 'node:http';
import { isKnownGroupPath, lookupApi } from '../kiwoom/catalogue.js';
import { formatExpiresDt } from '../kiwoom/protocol/index.js';
import type { ApiEntry } from '../kiwoom/types.js';
import type { OrderBook } from './book.js';
import { handlerFor, type JsonObject } from './handlers.js';
import type { RateLimiter } from './limits.js';
import type { Market } from './market.js';
import {
  type KiwoomReply,
  OK_MSG,
  addressMismatch,
  authError,
  badField,
  inputError,
  invalidToken,
  missingField,
  rateLimited,
  tooManySymbols,
  type KiwoomBody,
  type RateLimitDetail,
} from './responses.js';
import type { Credentials } from './tokens.js';

const MAX_NEXT_KEY = 50;

export interface Answer {
  status: number;
  body: KiwoomBody | JsonObject;
  headers: Record<string, string>;
}

/** What the routes read and change; limiter.limits is read per call, so setLimits takes effect at once. */
export interface RouteDeps {
  readonly creds: Credentials;
  readonly book: OrderBook;
  readonly market: Market;
  readonly limiter: RateLimiter;
  readonly now: () => number;
  readonly ideal: boolean;
  readonly bindToAddress: boolean;
  readonly rateLimitStatus: 200 | 429;
  readonly tokenTtlMs: number;
  readonly pageSize: number;
  readonly chartDays: number;
  readonly onTokenIssued?: (token: Buffer) => void;
}

export type Route = (req: IncomingMessage, path: string, apiId: string | undefined, raw: Buffer, arrival: number) => Answer;

/** A peer address as Kiwoom would see it: IPv4-mapped IPv6 ('::ffff:127.0.0.2') becomes plain IPv4. */
export function normaliseAddress(addr: string | undefined): string {
  const a = addr ?? '';
  return a.toLowerCase().startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Stock and credit orders, modifies and cancels share Kiwoom's order group limit; gold orders do not. */
function inOrderGroup(entry: ApiEntry): boolean {
  return (entry.kind === 'order' || entry.kind === 'modify' || entry.kind === 'cancel') && (entry.market === 'stock' || entry.market === 'credit');
}

function parseJsonObject(raw: Buffer): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    throw badField('body', 'JSON 형식이 아닙니다');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badField('body', 'JSON 객체여야 합니다');
  return value as JsonObject;
}

export function createRoute(deps: RouteDeps): Route {
  const { creds, book, market, limiter, now, ideal, bindToAddress, rateLimitStatus, tokenTtlMs, pageSize, chartDays, onTokenIssued } = deps;

  // --- au10001 / au10002 ---------------------------------------------------
  function overLimit(detail: RateLimitDetail, apiId: string, limit: number): KiwoomReply {
    return rateLimited(detail, apiId, limit, rateLimitStatus);
  }

  function issueToken(req: IncomingMessage, body: JsonObject, arrival: number): Answer {
    const grant = body.grant_type;
    if (grant === undefined || grant === '') throw authError(8011, 'Access Token을 발급하는데 실패했습니다. 입력값에 grant_type이 들어오지 않았습니다');
    if (grant !== 'client_credentials') throw authError(8012, 'Access Token을 발급하는데 실패했습니다. grant_type의 값이 맞지 않습니다');
    const { appkey, secretkey } = body;
    if (typeof appkey !== 'string' || typeof secretkey !== 'string' || !appkey || !secretkey)
      throw authError(8020, '입력파라미터로 appkey 또는 secretkey가 들어오지 않았습니다.');
    const app = creds.verify(appkey, secretkey);
    if (!app) throw authError(8001, 'App Key와 Secret Key 검증에 실패했습니다');
    if (!ideal && !limiter.tryIssue(app.id, arrival)) throw overLimit('1700', 'au10001', limiter.limits.tokenPerSecond);
    const issued = creds.issue(app, now(), tokenTtlMs, !ideal, normaliseAddress(req.socket.remoteAddress));
    if (issued.fresh) onTokenIssued?.(Buffer.from(issued.token));
    // The JSON body needs a string; the Buffer copy is wiped right away.
    const token = issued.token.toString('utf8');
    issued.token.fill(0);
    return {
      status: 200,
      headers: {},
      body: { expires_dt: formatExpiresDt(issued.expiresAt), token_type: 'bearer', token, return_code: 0, return_msg: OK_MSG },
    };
  }

  function revokeToken(body: JsonObject): Answer {
    const { appkey, secretkey, token } = body;
    if (typeof appkey !== 'string' || typeof secretkey !== 'string' || !appkey || !secretkey)
      throw authError(8020, '입력파라미터로 appkey 또는 secretkey가 들어오지 않았습니다.');
    if (typeof token !== 'string' || token === '') throw authError(8016, 'Access Token을 폐기하는데 실패했습니다. 입력값에 Token이 들어오지 않았습니다');
    const app = creds.verify(appkey, secretkey);
    if (!app) throw authError(8001, 'App Key와 Secret Key 검증에 실패했습니다');
    // A repeated revoke of this app's own token succeeds, so a retry after a lost answer is harmless.
    if (creds.revoke(app, token) === 'unknown') throw authError(8015, 'Access Token을 폐기하는데 실패했습니다. 실패사유=등록되지 않은 토큰입니다');
    return { status: 200, headers: {}, body: { return_code: 0, return_msg: OK_MSG } };
  }

  // --- TR calls ------------------------------------------------------------
  // Order of checks (Kiwoom's own order is only partly known): request shape
  // (15xx), the token (8005, then 8010), paging headers and JSON (1517), 1634,
  // the rate limits (group, per api-id, total; a slot is taken only when all
  // pass), then required fields and the handler.
  function trCall(req: IncomingMessage, path: string, apiId: string | undefined, raw: Buffer, arrival: number): Answer {
    if (apiId === undefined || apiId === '') throw inputError(1501, 'API ID가 Null이거나 값이 없습니다');
    const entry = lookupApi(apiId);
    if (!entry || entry.kind === 'auth') throw inputError(1505, `해당 API ID는 존재하지 않습니다. API ID=${apiId}`);
    if (entry.path !== path) throw inputError(1504, `해당 URI에서는 지원하는 API ID가 아닙니다. API ID=${apiId}, URI=${path}`);
    const authorization = header(req, 'authorization');
    if (!authorization) throw authError(1513, 'Http Header에 authorization 필드가 설정되어 있어야 합니다');
    const m = /^Bearer ([A-Za-z0-9._~+/=-]+)$/i.exec(authorization);
    if (!m) throw authError(1514, '입력으로 들어온 Http Header의 authorization 필드 형식이 맞지 않습니다');
    const rec = creds.lookup(m[1]!, now());
    const account = rec === undefined ? undefined : book.get(rec.accountNo);
    if (!rec || !account) throw invalidToken();
    if (bindToAddress && rec.issuedFrom !== normaliseAddress(req.socket.remoteAddress)) throw addressMismatch();
    const contYnRaw = header(req, 'cont-yn') ?? 'N';
    if (contYnRaw !== 'Y' && contYnRaw !== 'N' && contYnRaw !== '') throw badField('cont-yn', 'Y 또는 N이어야 합니다');
    const nextKey = header(req, 'next-key') ?? '';
    if (nextKey.length > MAX_NEXT_KEY) throw badField('next-key', `${MAX_NEXT_KEY}자 이하여야 합니다`);
    const body = parseJsonObject(raw);
    if (!ideal) {
      const stkCd = body.stk_cd;
      if (typeof stkCd === 'string' && stkCd.split('|').length > limiter.limits.maxSymbolsPerRequest) throw tooManySymbols();
      const refused = limiter.tryTr(rec.appId, apiId, inOrderGroup(entry), arrival);
      if (refused) throw overLimit(refused.detail, apiId, refused.limit);
    }
    for (const field of entry.requiredFields) {
      const v = body[field];
      if (v === undefined || v === null || v === '') throw missingField(field);
    }
    const result = handlerFor(entry)({ entry, body, account, book, market, now: now(), pageSize, chartDays, page: { contYn: contYnRaw === 'Y', nextKey } });
    return { status: 200, body: result.body, headers: { 'cont-yn': result.contYn, 'next-key': result.nextKey } };
  }

  function route(req: IncomingMessage, path: string, apiId: string | undefined, raw: Buffer, arrival: number): Answer {
    const known = path === '/oauth2/token' || path === '/oauth2/revoke' || isKnownGroupPath(path);
    if (!known)
      return { status: 404, headers: {}, body: { return_code: 1, return_msg: `잘못된 요청입니다[1999:존재하지 않는 URI입니다. URI=${path.slice(0, 100)}]` } };
    if (req.method !== 'POST')
      return { status: 405, headers: { allow: 'POST' }, body: { return_code: 1, return_msg: '잘못된 요청입니다[1512:POST 요청만 지원합니다]' } };
    if (path === '/oauth2/token') return issueToken(req, parseJsonObject(raw), arrival);
    if (path === '/oauth2/revoke') return revokeToken(parseJsonObject(raw));
    return trCall(req, path, apiId, raw, arrival);
  }

  return route;
}
