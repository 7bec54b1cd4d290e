// Authentication on the admin listener, with its failures made visible:
// every 401 (no token, malformed, unknown) and 403 (role too low) is logged
// with the source address, the route pattern, a reason code and at most a
// keyed fingerprint of the presented credential (never the credential), is
// counted by reason, and feeds the per-source limiter (auth-limiter.ts).
import type { IncomingMessage } from 'node:http';
import { Gauge, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import { GuardError, isGuardError } from '../common/errors.js';
import { counter } from '../common/metrics.js';
import { keyedFingerprint } from '../common/secret.js';
import type { AdminPrincipal, Role } from '../common/admin-route.js';
import { AuthFailureLimiter, sourceKey, type AdminAuthFailureLimits } from './auth-limiter.js';
import type { AdminTokens } from './tokens.js';

/** Why an admin request was refused; a bounded label set. */
export type AuthFailureReason = 'missing' | 'malformed' | 'unknown_token' | 'role';
export const AUTH_FAILURE_REASONS: readonly AuthFailureReason[] = ['missing', 'malformed', 'unknown_token', 'role'];

/** Longest credential text that is fingerprinted (a longer header is cut first; it is refused anyway). */
const MAX_FINGERPRINTED = 1024;

export interface AuthGuardOptions {
  limits: AdminAuthFailureLimits;
  registry: Registry;
  logger: Logger;
  fingerprintKey: Buffer;
  clock?: () => number;
}

export interface AuthGuard {
  /**
   * Throws KG3005 (429, retry-after) while the request's source is cooling down, unless `admit` finds a valid
   * token with the route's role: a 256-bit token cannot be guessed, and a compromised bot sharing the operators'
   * address (127.0.0.1 in a pod) must not hold the kill switch shut by failing on purpose.
   */
  checkSource(req: IncomingMessage, admit?: () => Promise<AdminPrincipal | undefined>): Promise<AdminPrincipal | undefined>;
  /** The principal of a valid token with at least the route's role, or undefined; nothing is counted or logged as a failure. */
  admitted(req: IncomingMessage, route: { readonly access: Role | 'public' }, tokens: AdminTokens): Promise<AdminPrincipal | undefined>;
  /** The principal of the request's bearer token with at least the route's role; every refusal is recorded. */
  authenticate(
    req: IncomingMessage,
    route: { readonly method: string; readonly path: string; readonly access: Role | 'public' },
    tokens: AdminTokens,
  ): Promise<AdminPrincipal>;
  readonly limiter: AuthFailureLimiter;
}

function presented(header: string | undefined): string | undefined {
  if (!header) return undefined;
  // The credential after any auth scheme (Bearer, Basic, …): the same guess correlates whatever scheme carried it.
  const m = /^[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*\s+(.*)$/.exec(header);
  return (m ? m[1]! : header).slice(0, MAX_FINGERPRINTED);
}

export function createAuthGuard(o: AuthGuardOptions): AuthGuard {
  const { registry, logger } = o;
  const limiter = new AuthFailureLimiter(o.limits, o.clock);
  const failures = counter(registry, 'kguard_admin_auth_failures_total', 'Admin API requests refused 401/403, by reason', ['reason']);
  for (const reason of AUTH_FAILURE_REASONS) failures.inc({ reason }, 0);
  const lockouts = counter(registry, 'kguard_admin_auth_lockouts_total', 'Source addresses put into the admin cool-down after repeated auth failures');
  const refused = counter(registry, 'kguard_admin_auth_rate_limited_total', 'Admin API requests refused 429 because their source is cooling down');
  const evicted = counter(
    registry,
    'kguard_admin_auth_sources_evicted_total',
    'Tracked failing sources forgotten to stay within admin.authFailures.maxSources',
  );
  if (!registry.getSingleMetric('kguard_admin_auth_blocked_sources')) {
    new Gauge({
      name: 'kguard_admin_auth_blocked_sources',
      help: 'Source addresses in the admin cool-down now',
      registers: [registry],
      collect() {
        this.set(limiter.blockedCount());
      },
    });
  }

  function record(req: IncomingMessage, route: { method: string; path: string }, reason: AuthFailureReason, err: GuardError, who?: AdminPrincipal): void {
    const source = sourceKey(req.socket.remoteAddress);
    const outcome = limiter.fail(source);
    failures.inc({ reason });
    if (outcome.evicted) evicted.inc();
    const credential = reason === 'missing' ? undefined : presented(req.headers.authorization);
    logger.warn(
      {
        source,
        method: route.method,
        route: route.path,
        reason,
        code: err.code,
        status: err.status,
        ...(who ? { admin: who.name, role: who.role } : {}),
        ...(credential !== undefined && !who ? { credentialFp: keyedFingerprint(o.fingerprintKey, Buffer.from(credential, 'utf8')) } : {}),
        failures: outcome.failures,
      },
      'admin auth refused',
    );
    if (outcome.blockedNow) {
      lockouts.inc();
      logger.warn(
        { source, failures: outcome.failures, windowMs: o.limits.windowMs, blockMs: o.limits.blockMs },
        'admin source cooling down after repeated auth failures; its admin API calls get 429',
      );
    }
  }

  return {
    limiter,
    async checkSource(req, admit) {
      const source = sourceKey(req.socket.remoteAddress);
      const verdict = limiter.check(source);
      if (!verdict.blocked) return undefined;
      const principal = await admit?.();
      if (principal) {
        logger.info({ source, admin: principal.name }, 'admin authenticated while its source cools down');
        return principal;
      }
      refused.inc();
      throw new GuardError('KG3005', 'too many failed admin logins from this address', { headers: { 'retry-after': String(verdict.retryAfterSeconds) } });
    },
    async admitted(req, route, tokens) {
      try {
        const principal = await tokens.authenticate(req.headers.authorization);
        return tokens.permits(principal, route.access === 'public' ? 'viewer' : route.access) ? principal : undefined;
      } catch {
        return undefined;
      }
    },
    async authenticate(req, route, tokens) {
      let principal: AdminPrincipal;
      try {
        principal = await tokens.authenticate(req.headers.authorization);
      } catch (err) {
        if (isGuardError(err) && (err.code === 'KG2001' || err.code === 'KG2002')) {
          record(req, route, err.code === 'KG2002' ? 'unknown_token' : req.headers.authorization ? 'malformed' : 'missing', err);
        }
        throw err;
      }
      const needed = route.access === 'public' ? 'viewer' : route.access;
      if (!tokens.permits(principal, needed)) {
        const err = new GuardError('KG2009', `role ${needed} required`);
        record(req, route, 'role', err, principal);
        throw err;
      }
      return principal;
    },
  };
}
