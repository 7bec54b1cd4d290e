// What a part contributes to the admin API, and the readiness checks it
// offers: plain descriptors, so parts need not depend on the admin listener
// (proxy/admin) that serves them.
import { GuardError } from './errors.js';
import { maskAccount } from './logger.js';

/** Roles are ordered: viewer < approver < admin. */
export type Role = 'viewer' | 'approver' | 'admin';

export interface AdminPrincipal {
  readonly name: string;
  readonly role: Role;
}

/**
 * An account number as a role reads it on the admin API: whole for admin (a lockdown by account names one), the
 * last four for viewer and approver (a wall display, the read-only dashboard; the bot id already says which).
 */
export function accountFor(principal: AdminPrincipal, account: string): string {
  return principal.role === 'admin' ? account : maskAccount(account);
}

export interface AdminRequest {
  readonly params: Record<string, string>;
  readonly query: URLSearchParams;
  readonly body: Record<string, unknown>;
  readonly principal: AdminPrincipal;
  readonly sourceIp: string;
  /** Routes with `rawBody`: the body bytes, unparsed; zero-filled by the listener once the handler settles. */
  readonly raw?: Buffer;
}

export interface AdminRoute {
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** e.g. /admin/v1/bots/:id/disable */
  readonly path: string;
  readonly role: Role;
  /**
   * The body is handed over as bytes (`raw`), never parsed into JS strings by
   * the listener: for bodies that carry secrets. Its own size limit.
   */
  readonly rawBody?: { readonly maxBytes: number };
  readonly handler: (req: AdminRequest) => Promise<{ status?: number; body: unknown; contentType?: string }>;
}

/**
 * Thrown by a readiness check whose part is impaired while the sidecar still does the job an operator opted into
 * (Redis down with readOnlyQueriesWhenDown: allow): reported as degraded, with why, and the sidecar stays ready.
 */
export class Degraded extends Error {}

export interface ReadinessCheck {
  readonly name: string;
  readonly check: () => Promise<void> | void;
  /** 'warn': reported, but does not make the sidecar unready (e.g. a rejected policy edit while the last good one serves). */
  readonly severity?: 'fail' | 'warn';
  /**
   * A 'warn' check whose failure means every bot call is refused although the replica stays in the Service (an
   * unconfirmed Redis flush, KG7003): /readyz says `serving: false` and kguard_serving is 0.
   */
  readonly refusesCalls?: true;
}

/** A required (or optional) non-empty string field of an admin request body, bounded in length. */
export function bodyString(body: Record<string, unknown>, key: string, max = 500, required = true): string | undefined {
  const v = body[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > max)
    throw new GuardError('KG3016', `${key} must be a non-empty string of at most ${max} characters`);
  return v;
}
