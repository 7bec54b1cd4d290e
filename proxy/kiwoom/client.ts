// The upstream Kiwoom client: token issue (au10001), revoke (au10002) and TR
// calls, over one undici Pool with keep-alive and bounded time-outs. Secrets
// go out as Buffers spliced into JSON bytes; the broker token is lifted out of
// the response bytes without ever becoming a JS string (except the
// Authorization header value undici requires: see SECURITY.md).
import { readFileSync, existsSync } from 'node:fs';
import { Pool, errors as undiciErrors } from 'undici';
import type { Dispatcher } from 'undici';
import { GuardError, rateDetail, type ErrorCode } from '../common/errors.js';
import { holdsSecret, jsonBodyWithSecrets, takeJsonStringField } from '../common/secret.js';
import type { KiwoomCredentials } from '../vault/types.js';
import type { UpstreamConfig } from '../common/config.js';
import { parseExpiresDt, returnCodeOf, returnedOk } from './protocol/index.js';

/** The upstream section of the config minus what decides the URL, plus the resolved base URL. */
export type KiwoomClientOptions = Omit<UpstreamConfig, 'target' | 'url' | 'allowInsecureHttp'> & { baseUrl: string };

export interface BrokerToken {
  readonly token: Buffer;
  /** From Kiwoom's expires_dt (Korea time). */
  readonly expiresAt: Date;
}

export interface TrRequest {
  readonly apiId: string;
  /** Always from the api-id catalogue, never from the bot's raw path. */
  readonly path: string;
  readonly body: Buffer;
  readonly token: Buffer;
  readonly contYn?: string;
  readonly nextKey?: string;
  readonly signal?: AbortSignal;
}

export interface TrResponse {
  readonly status: number;
  readonly apiId?: string;
  readonly contYn?: string;
  readonly nextKey?: string;
  readonly contentType?: string;
  readonly body: Buffer;
}

export interface KiwoomClient {
  issueToken(creds: KiwoomCredentials, signal?: AbortSignal): Promise<BrokerToken>;
  /**
   * 'not-registered': Kiwoom refused with [8015], it no longer knows the token; 'invalid': refused with [8005],
   * the token is no longer valid (expired or ended on Kiwoom's side). Either way what a revoke is for is done.
   */
  revokeToken(creds: KiwoomCredentials, token: Buffer, signal?: AbortSignal): Promise<RevokeOutcome>;
  call(req: TrRequest): Promise<TrResponse>;
  /** Since when no request reached Kiwoom (refused, unreachable, timed out), undefined once one is answered: /readyz. */
  unreachable?(): { since: number; failures: number; code: ErrorCode; detail?: string } | undefined;
  close(): Promise<void>;
}

const JSON_CT = 'application/json;charset=UTF-8';
const NOT_REGISTERED = /\[8015[:\]]/;
const INVALID_TOKEN = /\[8005[:\]]/;
const RATE_REFUSAL = /\[(170[012])[:\]]/;

/** How Kiwoom ended a token it was asked to revoke. */
export type RevokeOutcome = 'revoked' | 'not-registered' | 'invalid';
const SYSTEM_CA_FILES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem'];

/** The system CA store (Node ships its own bundle; operators expect the OS store they manage). */
function caBundle(extraFile?: string): string[] | undefined {
  const pems: string[] = [];
  const system = SYSTEM_CA_FILES.find((f) => existsSync(f));
  if (system) pems.push(readFileSync(system, 'utf8'));
  if (extraFile) pems.push(readFileSync(extraFile, 'utf8'));
  return pems.length ? pems : undefined;
}

function headerValue(h: Dispatcher.ResponseData['headers'][string]): string | undefined {
  return Array.isArray(h) ? h[0] : h;
}

/** Maps undici failures to stable sidecar codes; never includes request bytes. */
export function mapUpstreamError(err: unknown): GuardError {
  if (err instanceof GuardError) return err;
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError || err instanceof undiciErrors.ConnectTimeoutError) {
    return new GuardError('KG5002', undefined, { cause: err });
  }
  if ((err as Error)?.name === 'AbortError' || err instanceof undiciErrors.RequestAbortedError) {
    return new GuardError('KG5002', 'aborted', { cause: err });
  }
  return new GuardError('KG5001', (err as NodeJS.ErrnoException)?.code, { cause: err });
}

/** Failures that end a call before a byte of it left: no connection (refused, no route, no name, connect timeout), or TLS refused. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT']);
const TLS_REFUSED = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_)/;

/** True when a call that failed with this error certainly never reached the broker (mapUpstreamError keeps the cause). */
export function neverWritten(err: unknown): boolean {
  const code = err instanceof GuardError ? (err.cause as NodeJS.ErrnoException | undefined)?.code : undefined;
  return typeof code === 'string' && (NOT_CONNECTED.has(code) || TLS_REFUSED.test(code));
}

async function readCapped(body: Dispatcher.ResponseData['body'], max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > max) {
      body.destroy();
      for (const c of chunks) c.fill(0);
      throw new GuardError('KG5003', `>${max} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  const out = Buffer.concat(chunks, size);
  for (const c of chunks) c.fill(0);
  return out;
}

interface KiwoomStatus {
  return_code?: unknown;
  return_msg?: unknown;
  expires_dt?: unknown;
}

function parseStatus(body: Buffer): KiwoomStatus {
  try {
    const v: unknown = JSON.parse(body.toString('utf8'));
    return typeof v === 'object' && v !== null ? (v as KiwoomStatus) : {};
  } catch {
    throw new GuardError('KG5005', 'not JSON');
  }
}

/**
 * Kiwoom's message is not secret (e.g. "[8001:App Key와 Secret Key 검증에 실패했습니다]"); bound its length. An
 * answer that quotes what it was sent (the app key, the secret key, the token being revoked) is named by its
 * detail code only: the message reaches the bot and the logs.
 */
function upstreamMessage(s: KiwoomStatus, status: number, body: Buffer, sent: readonly Buffer[]): string {
  const rc = returnCodeOf(s.return_code)?.toString() ?? '?';
  const raw = typeof s.return_msg === 'string' ? s.return_msg : '';
  if (!sent.some((b) => holdsSecret(body, b))) return `upstream HTTP ${status} return_code=${rc} ${raw.slice(0, 200)}`.trim();
  const code = /\[(\d{4})[:\]]/.exec(raw)?.[1];
  return `upstream HTTP ${status} return_code=${rc}${code ? ` [${code}]` : ''} (message withheld: it quoted the keys sent)`;
}

/** A connection pool and the longest its answers may take. */
interface Route {
  readonly pool: Pool;
  readonly answerMs: number;
}

export function createKiwoomClient(opts: KiwoomClientOptions): KiwoomClient {
  const url = new URL(opts.baseUrl);
  const ca = url.protocol === 'https:' ? caBundle(opts.caFile) : undefined;
  const newPool = () =>
    new Pool(url.origin, {
      connections: opts.connections,
      pipelining: 1,
      keepAliveTimeout: opts.keepAliveTimeoutMs,
      keepAliveMaxTimeout: opts.keepAliveTimeoutMs,
      headersTimeout: opts.headersTimeoutMs,
      bodyTimeout: opts.bodyTimeoutMs,
      connect: { timeout: opts.connectTimeoutMs, rejectUnauthorized: true, ...(ca ? { ca } : {}) },
    });
  const calls: Route = { pool: newPool(), answerMs: opts.answerTimeoutMs };
  // Revocations get their own connections: a slow revoke endpoint must never
  // make a bot's token or TR call wait for a socket. And their own deadline:
  // the key's calls wait while its token is being revoked.
  const revokes: Route = { pool: newPool(), answerMs: opts.revokeTimeoutMs };
  // Kiwoom down: every call is refused KG5001/KG5002 in Kiwoom's shape, so /readyz can say since when.
  let down: { since: number; failures: number; code: ErrorCode; detail?: string } | undefined;

  async function post(path: string, headers: Record<string, string>, body: Buffer, signal?: AbortSignal, via: Route = calls): Promise<TrResponse> {
    // One controller for the caller's signal and the whole answer's deadline: a call without its caller's signal (an
    // order once written) is still ended when its answer never completes (each pause within bodyTimeoutMs).
    const stop = new AbortController();
    const onCallerAbort = () => stop.abort(signal?.reason);
    if (signal?.aborted) onCallerAbort();
    else signal?.addEventListener('abort', onCallerAbort, { once: true });
    let overdue = false;
    const timer = setTimeout(() => {
      overdue = true;
      stop.abort();
    }, via.answerMs);
    const fail = (err: unknown): GuardError =>
      overdue ? new GuardError('KG5002', `no complete answer within ${via.answerMs} ms`, { cause: err }) : mapUpstreamError(err);
    let res: Dispatcher.ResponseData;
    let data: Buffer;
    try {
      try {
        res = await via.pool.request({
          method: 'POST',
          path,
          headers: { 'content-type': JSON_CT, 'content-length': String(body.length), ...headers },
          body,
          signal: stop.signal,
          // Never retried here: an order must not be sent twice.
        });
      } catch (err) {
        const g = fail(err);
        // A bot that hung up is not Kiwoom failing.
        if (!signal?.aborted) down = { since: down?.since ?? Date.now(), failures: (down?.failures ?? 0) + 1, code: g.code, detail: g.detail };
        throw g;
      }
      down = undefined;
      try {
        data = await readCapped(res.body, opts.maxResponseBytes);
      } catch (err) {
        res.body.destroy();
        throw fail(err);
      }
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onCallerAbort);
    }
    return {
      status: res.statusCode,
      apiId: headerValue(res.headers['api-id']),
      contYn: headerValue(res.headers['cont-yn']),
      nextKey: headerValue(res.headers['next-key']),
      contentType: headerValue(res.headers['content-type']),
      body: data,
    };
  }

  return {
    unreachable: () => down,
    async issueToken(creds, signal) {
      const body = jsonBodyWithSecrets([
        ['grant_type', 'client_credentials'],
        ['appkey', creds.appKey],
        ['secretkey', creds.secretKey],
      ]);
      let res: TrResponse;
      try {
        res = await post('/oauth2/token', { 'api-id': 'au10001' }, body, signal);
      } finally {
        body.fill(0);
      }
      const token = takeJsonStringField(res.body, 'token');
      try {
        const status = parseStatus(res.body);
        // [1700/1701/1702]: au10001's own limit (about 2/s per key). No token was issued: a rate refusal, not a failure.
        const rate = (returnCodeOf(status.return_code) === 5 || res.status === 429) && RATE_REFUSAL.exec(String(status.return_msg ?? ''))?.[1];
        if (rate)
          throw new GuardError('KG5006', `Kiwoom refused the token issue for rate [${rate}]`, { headers: { 'retry-after': '1' }, kiwoom: rateDetail(rate) });
        if (res.status !== 200 || !returnedOk(status.return_code) || !token || token.length === 0) {
          throw new GuardError('KG5004', upstreamMessage(status, res.status, res.body, [creds.appKey, creds.secretKey]));
        }
        const expiresAt = parseExpiresDt(status.expires_dt) ?? new Date(Date.now() + 3600_000);
        return { token, expiresAt };
      } catch (err) {
        token?.fill(0);
        throw err;
      } finally {
        res.body.fill(0);
      }
    },

    async revokeToken(creds, token, signal) {
      const body = jsonBodyWithSecrets([
        ['appkey', creds.appKey],
        ['secretkey', creds.secretKey],
        ['token', token],
      ]);
      let res: TrResponse;
      try {
        res = await post('/oauth2/revoke', { 'api-id': 'au10002' }, body, signal, revokes);
      } finally {
        body.fill(0);
      }
      const status = parseStatus(res.body);
      // [8015] "not a registered token": Kiwoom no longer knows it (expired and purged, or forgotten).
      // What a revoke is for is done; retrying would hold the key's next issue back for the whole budget.
      const code = returnCodeOf(status.return_code);
      if (res.status === 200 && code !== 0 && (code === 8015 || NOT_REGISTERED.test(String(status.return_msg ?? '')))) return 'not-registered';
      // [8005] "token not valid": nobody can use it any more, as on a TR call (often, not always, HTTP 200).
      if (code !== 0 && (code === 8005 || INVALID_TOKEN.test(String(status.return_msg ?? '')))) return 'invalid';
      if (res.status !== 200 || !returnedOk(status.return_code)) {
        throw new GuardError('KG5001', `revoke refused: ${upstreamMessage(status, res.status, res.body, [creds.appKey, creds.secretKey, token])}`);
      }
      return 'revoked';
    },

    async call(req) {
      const headers: Record<string, string> = {
        'api-id': req.apiId,
        // undici only takes string header values: this string is the one
        // place the broker token exists as a JS string, for one request.
        authorization: `Bearer ${req.token.toString('latin1')}`,
      };
      if (req.contYn) headers['cont-yn'] = req.contYn;
      if (req.nextKey) headers['next-key'] = req.nextKey;
      return post(req.path, headers, req.body, req.signal);
    },

    async close() {
      await Promise.all([calls.pool.close(), revokes.pool.close()]);
    },
  };
}
