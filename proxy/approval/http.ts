// Framework-free admin routes: plain descriptors the admin server mounts.
// A route names the roles that may call it; handlers get the authenticated
// principal and the parsed JSON body and return a status and a JSON body.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GuardError, kiwoomErrorBody, toGuardError } from '../common/errors.js';

export interface AdminPrincipal {
  readonly id: string;
  readonly roles: readonly string[];
}

export interface AdminRequest {
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly body: unknown;
  readonly principal: AdminPrincipal;
}

export interface AdminResponse {
  readonly status: number;
  readonly body: unknown;
  /** Default application/json; text bodies (Markdown reports) set their own. */
  readonly contentType?: string;
}

export interface AdminRoute {
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** Relative to the admin API prefix; `:name` segments become params. */
  readonly path: string;
  /** Any one of these roles may call the route. */
  readonly roles: readonly string[];
  handler(req: AdminRequest): Promise<AdminResponse>;
}

export function matchRoute(routes: readonly AdminRoute[], method: string, pathname: string): { route: AdminRoute; params: Record<string, string> } | undefined {
  const parts = pathname.split('/').filter(Boolean);
  for (const route of routes) {
    if (route.method !== method) continue;
    const pattern = route.path.split('/').filter(Boolean);
    if (pattern.length !== parts.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < pattern.length; i++) {
      const p = pattern[i]!, v = parts[i]!;
      if (p.startsWith(':')) {
        try {
          params[p.slice(1)] = decodeURIComponent(v);
        } catch {
          ok = false;
        }
      } else if (p !== v) ok = false;
      if (!ok) break;
    }
    if (ok) return { route, params };
  }
  return undefined;
}

export function bodyObject(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new GuardError('KG3016', 'body must be a JSON object');
  return body as Record<string, unknown>;
}

export function bodyString(body: Record<string, unknown>, key: string, max = 500, required = true): string | undefined {
  const v = body[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw new GuardError('KG3016', `${key} must be a non-empty string of at most ${max} characters`);
  return v;
}

/**
 * A node:http handler over routes, for tests and small deployments. The lead's
 * admin server may use it or mount the descriptors in its own router.
 */
export function createAdminHandler(
  routes: readonly AdminRoute[],
  authenticate: (req: IncomingMessage) => Promise<AdminPrincipal | undefined>,
  opts: { maxBodyBytes?: number; prefix?: string } = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const maxBody = opts.maxBodyBytes ?? 64 * 1024;
  const prefix = opts.prefix ?? '';
  const send = (res: ServerResponse, status: number, body: unknown, type = 'application/json'): void => {
    const payload = type === 'application/json' ? JSON.stringify(body) : String(body);
    res.writeHead(status, { 'content-type': `${type};charset=UTF-8`, 'content-length': Buffer.byteLength(payload), 'cache-control': 'no-store' });
    res.end(payload);
  };
  return (req, res) => {
    void (async () => {
      try {
        const url = new URL(req.url ?? '/', 'http://admin.invalid');
        if (!url.pathname.startsWith(prefix)) throw new GuardError('KG1009');
        const found = matchRoute(routes, req.method ?? 'GET', url.pathname.slice(prefix.length) || '/');
        if (!found) throw new GuardError('KG1009');
        const principal = await authenticate(req);
        if (!principal) throw new GuardError('KG2002');
        if (!found.route.roles.some((r) => principal.roles.includes(r))) throw new GuardError('KG3011', `role ${found.route.roles.join(' or ')} required`);
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const chunk of req) {
          size += (chunk as Buffer).length;
          if (size > maxBody) throw new GuardError('KG1002');
          chunks.push(chunk as Buffer);
        }
        let body: unknown;
        if (size > 0) {
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            throw new GuardError('KG1001');
          } finally {
            for (const c of chunks) c.fill(0); // bodies may carry TOTP codes
          }
        }
        const out = await found.route.handler({ params: found.params, query: url.searchParams, body, principal });
        send(res, out.status, out.body, out.contentType);
      } catch (err) {
        const g = toGuardError(err);
        send(res, g.status, kiwoomErrorBody(g, 'en'));
      }
    })();
  };
}
