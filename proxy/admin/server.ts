// The admin listener, on its own port: /healthz, /readyz and /metrics for
// operators, and a JSON admin API with roles for security staff. Routes are
// plain descriptors that parts contribute; the listener only authenticates,
// checks the role, parses JSON and maps errors.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import { GuardError, kiwoomErrorBody, toGuardError, type Language } from '../common/errors.js';
import { parseJsonObject } from '../common/json.js';
import { readBody } from '../common/body.js';
import { runReadiness, type ReadinessCheck } from './health.js';
import type { AdminTokens } from './tokens.js';
import type { AdminRoute } from '../common/admin-route.js';

export type { AdminRequest, AdminRoute } from '../common/admin-route.js';

export interface AdminServerOptions {
  registry: Registry;
  logger: Logger;
  language: Language;
  readiness: readonly ReadinessCheck[];
  routes: readonly AdminRoute[];
  tokens: AdminTokens;
  maxBodyBytes: number;
}

interface CompiledRoute extends AdminRoute {
  readonly pattern: RegExp;
  readonly names: string[];
}

function compile(route: AdminRoute): CompiledRoute {
  const names: string[] = [];
  const pattern = new RegExp(
    `^${route.path.replace(/:([a-zA-Z]+)/g, (_, n: string) => {
      names.push(n);
      return '([A-Za-z0-9_.:-]{1,128})';
    })}$`,
  );
  return { ...route, pattern, names };
}

export function createAdminServer(opts: AdminServerOptions): Server {
  const routes = opts.routes.map(compile);

  async function handle(req: IncomingMessage): Promise<{ status: number; body: Buffer | string; contentType: string }> {
    const url = new URL(req.url ?? '/', 'http://admin');
    if (req.method === 'GET' && url.pathname === '/healthz') return { status: 200, body: '{"status":"ok"}', contentType: 'application/json' };
    if (req.method === 'GET' && url.pathname === '/readyz') {
      const report = await runReadiness(opts.readiness);
      return { status: report.ready ? 200 : 503, body: JSON.stringify(report), contentType: 'application/json' };
    }
    if (req.method === 'GET' && url.pathname === '/metrics') {
      return { status: 200, body: await opts.registry.metrics(), contentType: opts.registry.contentType };
    }
    const candidates = routes.filter((r) => r.pattern.test(url.pathname));
    if (candidates.length === 0) throw new GuardError('KG1009');
    const route = candidates.find((r) => r.method === req.method);
    if (!route) throw new GuardError('KG1008');
    const principal = opts.tokens.authenticate(req.headers.authorization);
    if (!opts.tokens.permits(principal, route.role)) throw new GuardError('KG2009', `role ${route.role} required`);
    const m = route.pattern.exec(url.pathname)!;
    const params = Object.fromEntries(route.names.map((n, i) => [n, m[i + 1]!]));
    const body = req.method === 'POST' ? parseJsonObject(await readBody(req, opts.maxBodyBytes, new AbortController().signal)) : {};
    const out = await route.handler({ params, query: url.searchParams, body, principal, sourceIp: req.socket.remoteAddress ?? 'unknown' });
    opts.logger.info({ admin: principal.name, role: principal.role, method: req.method, path: route.path }, 'admin call');
    const contentType = out.contentType ?? 'application/json';
    return { status: out.status ?? 200, body: contentType === 'application/json' ? JSON.stringify(out.body) : String(out.body), contentType };
  }

  return createServer({ insecureHTTPParser: false, maxHeaderSize: 16 * 1024, requestTimeout: 30_000 }, (req, res) => {
    handle(req)
      .then((r) => {
        res.writeHead(r.status, { 'content-type': r.contentType, 'cache-control': 'no-store' });
        res.end(r.body);
      })
      .catch((err) => {
        const ge = toGuardError(err);
        if (ge.code === 'KG9001') opts.logger.error({ err: ge.cause ?? err, path: req.url }, 'admin internal error');
        res.writeHead(ge.status === 202 ? 400 : ge.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ...kiwoomErrorBody(ge, opts.language), code: ge.code }));
      });
  });
}
