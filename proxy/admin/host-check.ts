// DNS rebinding: a page on a name its owner makes resolve to 127.0.0.1 reaches a loopback admin listener as its own
// origin (the browser sends that name as Host and marks the calls same-origin), so without this it could read the
// public routes (/metrics, /readyz) and load the dashboard. A listener with a host check answers only to a Host that
// is an IP address (a rebound name is never one), localhost, or a name listed in admin.allowedHosts.
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { GuardError } from '../common/errors.js';
import { isLoopbackHost } from '../common/config-upstream.js';

/** The Host header's name: the port dropped, brackets of an IPv6 literal taken off, lower case; undefined when malformed. */
export function hostName(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+))(?::\d{1,5})?$/.exec(header.trim());
  if (!m) return undefined;
  return (m[1] ?? m[2]!).toLowerCase().replace(/\.$/, '');
}

/** Whether the admin listener, bound to `bindHost`, checks Host: on loopback always, elsewhere once names are listed. */
export function checksHost(bindHost: string, allowedHosts: readonly string[]): boolean {
  return isLoopbackHost(bindHost) || bindHost === '::1' || allowedHosts.length > 0;
}

/** A check for the listener: throws KG1018 naming the host (bounded) and the knob when the request's Host is not served. */
export function hostCheck(allowedHosts: readonly string[]): (req: IncomingMessage) => void {
  const allowed = new Set(allowedHosts.map((h) => h.toLowerCase().replace(/\.$/, '')));
  return (req) => {
    const name = hostName(req.headers.host);
    if (name !== undefined && (isIP(name) !== 0 || name === 'localhost' || allowed.has(name))) return;
    const shown = String(req.headers.host ?? '(none)')
      .replace(/[^\x21-\x7e]/g, '?')
      .slice(0, 100);
    throw new GuardError('KG1018', `Host: ${shown}; add the name to admin.allowedHosts if this listener is meant to serve it`);
  };
}
