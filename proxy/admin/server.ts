// The admin listener, on its own port: /healthz, /readyz and /metrics for
// operators (no token), and a JSON admin API with roles for security staff,
// described by /admin/v1/openapi.json (viewer; generated from this route
// table). Routes are plain descriptors that parts contribute; the listener
// only authenticates, checks the role, parses JSON and maps errors. Failed
// logins and role refusals are logged, counted and limited per source address
// (auth-guard.ts); the public routes are never limited, so probes and scrapes
// keep working while an address is cooling down.
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type Server, type ServerOptions } from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import { GuardError, kiwoomErrorBody, toGuardError, type Language } from '../common/errors.js';
import { parseJsonObject } from '../common/json.js';
import { readBody } from '../common/body.js';
import { runReadiness, type ReadinessCheck } from './health.js';
import type { AdminTokens } from './tokens.js';
import type { AdminPrincipal, AdminRoute, Role } from '../common/admin-route.js';
import { DEFAULT_AUTH_FAILURE_LIMITS, type AdminAuthFailureLimits } from './auth-limiter.js';
import { createAuthGuard } from './auth-guard.js';
import { openApiDocument } from './openapi.js';
import { dashboardAssets } from './dashboard/static.js';

export type { AdminRequest, AdminRoute } from '../common/admin-route.js';

export interface AdminServerOptions {
  registry: Registry;
  logger: Logger;
  language: Language;
  readiness: readonly ReadinessCheck[];
  routes: readonly AdminRoute[];
  tokens: AdminTokens;
  maxBodyBytes: number;
  /** Failed logins per source before a cool-down; config admin.authFailures. */
  authFailures?: Partial<AdminAuthFailureLimits>;
  /** Keys the fingerprint of a refused credential in the log (the sidecar passes the audit fingerprint key); default a random per-process key. */
  fingerprintKey?: Buffer;
  /** For the failure window and cool-down (tests). */
  clock?: () => number;
  /** Refuses a request before any route (the dashboard's files too) when its Host is not served (host-check.ts). */
  checkHost?: (req: IncomingMessage) => void;
  /** Builds the server (TLS: proxy/common/tls-server.ts); default node:http. */
  createServer?: (options: ServerOptions, handler: RequestListener) => Server;
}

/** A route as the listener serves it: `public` needs no token, otherwise the least role. */
export interface ServedRoute {
  readonly method: AdminRoute['method'];
  readonly path: string;
  readonly access: Role | 'public';
}

/**
 * On every answer but the dashboard's own files (static.ts has the page's policy): the JSON, the errors, /metrics
 * and the Markdown report hold strings bots and Kiwoom chose, on the origin where the page keeps the admin token.
 * nosniff and a deny-all CSP keep any of them from running as HTML or script if opened; no framing, no referrer,
 * and CORP stops other sites from loading them as subresources.
 */
export const API_SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
  'cache-control': 'no-store',
} as const;

/** A text type without a charset gets utf-8 (Korean text in a Markdown report, say). */
const withCharset = (type: string): string => (/^text\//i.test(type) && !/;\s*charset=/i.test(type) ? `${type}; charset=utf-8` : type);

type Reply = { status: number; body: Buffer | string; contentType: string; headers?: Record<string, string> };

interface CompiledRoute extends ServedRoute {
  readonly pattern: RegExp;
  readonly names: string[];
  readonly handler: AdminRoute['handler'];
  readonly rawBody?: AdminRoute['rawBody'];
}

/** A path parameter: what the listener's patterns accept. */
export const PATH_PARAM_PATTERN = '^[A-Za-z0-9_.:-]{1,128}$';

function compile(route: ServedRoute & { handler: AdminRoute['handler']; rawBody?: AdminRoute['rawBody'] }): CompiledRoute {
  const names: string[] = [];
  const pattern = new RegExp(
    `^${route.path.replace(/:([a-zA-Z]+)/g, (_, n: string) => {
      names.push(n);
      return '([A-Za-z0-9_.:-]{1,128})';
    })}$`,
  );
  return { method: route.method, path: route.path, access: route.access, handler: route.handler, rawBody: route.rawBody, pattern, names };
}

const served = new WeakMap<Server, readonly ServedRoute[]>();

/** The routes an admin server dispatches on (method, path, access), in its matching order. */
export function registeredRoutes(server: Server): readonly ServedRoute[] {
  const r = served.get(server);
  if (!r) throw new Error('not an admin server');
  return r;
}

export const OPENAPI_PATH = '/admin/v1/openapi.json';

/** Body types an HTML form or a no-cors fetch sends from any site without a CORS preflight. */
const SIMPLE_BODY_TYPE = /^\s*(text\/plain|application\/x-www-form-urlencoded|multipart\/form-data)\s*(;|$)/i;

/**
 * The admin API authenticates by the Authorization header, which another site cannot set without a preflight (never
 * granted). Should a proxy in front ever turn a cookie into it, a call that changes something must still not be
 * drivable cross-site: a browser's Sec-Fetch-Site other than same-origin (the dashboard) or none (typed, bookmarked),
 * or a body type a form sends, is refused. The CLI sends neither.
 */
function refuseCrossSite(req: IncomingMessage): void {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') throw new GuardError('KG1017', `Sec-Fetch-Site: ${String(site).slice(0, 20)}`);
  const type = req.headers['content-type'];
  if (type !== undefined && SIMPLE_BODY_TYPE.test(type)) throw new GuardError('KG1011', 'a form or text body');
}

export function createAdminServer(opts: AdminServerOptions): Server {
  const json = (body: unknown) => ({ body });
  const own: (ServedRoute & { handler: AdminRoute['handler'] })[] = [
    { method: 'GET', path: '/healthz', access: 'public', handler: async () => json({ status: 'ok' }) },
    {
      method: 'GET',
      path: '/readyz',
      access: 'public',
      handler: async () => {
        const report = await runReadiness(opts.readiness);
        return { status: report.ready ? 200 : 503, body: report };
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      access: 'public',
      handler: async () => ({ body: await opts.registry.metrics(), contentType: opts.registry.contentType }),
    },
    // The document is built once, on first request, from the table below (which includes this route).
    { method: 'GET', path: OPENAPI_PATH, access: 'viewer', handler: async () => ({ body: document() }) },
  ];
  const routes = [...own, ...opts.routes.map((r) => ({ method: r.method, path: r.path, access: r.role, handler: r.handler, rawBody: r.rawBody }))].map(compile);
  const table: readonly ServedRoute[] = routes.map(({ method, path, access }) => ({ method, path, access }));
  let doc: unknown;
  const document = () => {
    doc ??= openApiDocument(table);
    return doc;
  };
  const guard = createAuthGuard({
    limits: { ...DEFAULT_AUTH_FAILURE_LIMITS, ...opts.authFailures },
    registry: opts.registry,
    logger: opts.logger,
    fingerprintKey: opts.fingerprintKey ?? randomBytes(32),
    clock: opts.clock,
  });

  /** Who made the request once their token was accepted, and the route it matched: for the refusal log line. */
  interface Caller {
    principal?: AdminPrincipal;
    route?: string;
  }

  async function handle(req: IncomingMessage, caller: Caller): Promise<Reply> {
    if (req.method !== 'GET' && req.method !== 'HEAD') refuseCrossSite(req);
    const url = new URL(req.url ?? '/', 'http://admin');
    const candidates = routes.filter((r) => r.pattern.test(url.pathname));
    const route = candidates.find((r) => r.method === req.method);
    let principal: AdminPrincipal | undefined;
    if (route?.access !== 'public') {
      // Everything but the public routes: a source cooling down is refused first, whatever it asks, unless it
      // presents a valid token for an existing route.
      principal = await guard.checkSource(req, async () => (route ? guard.admitted(req, route, opts.tokens) : undefined));
      if (candidates.length === 0) throw new GuardError('KG1009');
      if (!route) throw new GuardError('KG1008');
      principal ??= await guard.authenticate(req, route, opts.tokens);
      caller.principal = principal;
      caller.route = route.path;
    }
    const m = route.pattern.exec(url.pathname)!;
    const params = Object.fromEntries(route.names.map((n, i) => [n, m[i + 1]!]));
    const raw = route.rawBody && principal ? await readBody(req, route.rawBody.maxBytes, new AbortController().signal) : undefined;
    const body = req.method === 'POST' && principal && !raw ? parseJsonObject(await readBody(req, opts.maxBodyBytes, new AbortController().signal)) : {};
    let out: Awaited<ReturnType<AdminRoute['handler']>>;
    try {
      out = await route.handler({
        params,
        query: url.searchParams,
        body,
        principal: principal ?? { name: 'public', role: 'viewer' },
        sourceIp: req.socket.remoteAddress ?? 'unknown',
        ...(raw ? { raw } : {}),
      });
    } finally {
      raw?.fill(0);
    }
    if (principal) opts.logger.info({ admin: principal.name, role: principal.role, method: req.method, path: route.path }, 'admin call');
    const contentType = out.contentType ?? 'application/json';
    return { status: out.status ?? 200, body: contentType === 'application/json' ? JSON.stringify(out.body) : String(out.body), contentType };
  }

  // The dashboard's static files (GET /, /dashboard.js, /dashboard.css): public, no data; the rest is routed below.
  const dashboard = dashboardAssets(opts.language);
  const server = (opts.createServer ?? createHttpServer)({ insecureHTTPParser: false, maxHeaderSize: 16 * 1024, requestTimeout: 30_000 }, (req, res) => {
    const caller: Caller = {};
    try {
      opts.checkHost?.(req);
    } catch (err) {
      return refuse(err);
    }
    if (dashboard(req, res)) return;
    handle(req, caller)
      .then((r) => {
        res.writeHead(r.status, { ...API_SECURITY_HEADERS, 'content-type': withCharset(r.contentType) });
        res.end(r.body);
      })
      .catch(refuse);
    function refuse(err: unknown): void {
      const ge = toGuardError(err);
      if (ge.code === 'KG9001') opts.logger.error({ err: ge.cause ?? err, path: caller.route ?? req.url }, 'admin internal error');
      else if (ge.code === 'KG1018')
        opts.logger.warn({ source: req.socket.remoteAddress, detail: ge.detail }, 'admin request for a host name not served (DNS rebinding?)');
      // Refused after the token was accepted (a bad body, a route's own refusal): who tried, as a role refusal
      // is logged by the guard. The detail is what the caller's answer carries, bounded.
      else if (caller.principal)
        opts.logger.warn(
          {
            admin: caller.principal.name,
            role: caller.principal.role,
            method: req.method,
            route: caller.route,
            code: ge.code,
            status: ge.status === 202 ? 400 : ge.status,
            ...(ge.detail ? { detail: ge.detail.slice(0, 200) } : {}),
          },
          'admin call refused',
        );
      res.writeHead(ge.status === 202 ? 400 : ge.status, { ...ge.headers, ...API_SECURITY_HEADERS, 'content-type': 'application/json' });
      res.end(JSON.stringify({ ...kiwoomErrorBody(ge, opts.language), code: ge.code, ...(ge.reason ? { reason: ge.reason.key } : {}) }));
    }
  });
  served.set(server, table);
  return server;
}
