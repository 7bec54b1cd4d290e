// Name-override mode maps Kiwoom's names to the sidecar (hostAliases, an
// /etc/hosts line). If that mapping also reaches the sidecar's own resolver,
// its upstream api.kiwoom.com is itself: every call would loop back in. At
// start, with transparent mode on and the upstream one of the names it serves,
// the upstream host is resolved the way the upstream client will resolve it
// (getaddrinfo, which reads /etc/hosts); a loopback answer stops the start.
// A resolver failure is not a loop: the upstream client reports it on its own.
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { GuardError } from '../../common/errors.js';

export type Lookup = (host: string) => Promise<{ address: string }[]>;

const systemLookup: Lookup = (host) => dnsLookup(host, { all: true });

function isLoopback(address: string): boolean {
  if (isIP(address) === 4) return address.startsWith('127.');
  const a = address.toLowerCase();
  return a === '::1' || a.startsWith('::ffff:127.');
}

/** Throws KG9003 when the upstream is one of `servedHosts` and resolves to a loopback address here. */
export async function assertUpstreamNotSelf(upstreamUrl: string, servedHosts: readonly string[], lookup: Lookup = systemLookup): Promise<void> {
  const host = new URL(upstreamUrl).hostname.toLowerCase();
  if (!servedHosts.some((h) => h.toLowerCase() === host)) return;
  const addresses = await lookup(host).catch(() => []);
  const loop = addresses.find((a) => isLoopback(a.address));
  if (loop)
    throw new GuardError(
      'KG9003',
      `upstream ${host} resolves to ${loop.address} in this container (hostAliases or /etc/hosts meant for the bot): the sidecar would call itself; give kiwoom-guard its own /etc/hosts (deploy/kubernetes/overlays/transparent-hosts)`,
    );
}
