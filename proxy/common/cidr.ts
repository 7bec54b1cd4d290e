// Address ranges: one matcher for the posture checks and the risk engine.
import { BlockList, isIP } from 'node:net';

/** A matcher for CIDRs (a.b.c.d/n, v6/n, or a bare address); malformed entries are ignored. IPv4-mapped IPv6 matches as IPv4. */
export function cidrMatcher(cidrs: readonly string[]): (address: string) => boolean {
  const list = new BlockList();
  for (const c of cidrs) {
    const [ip, bits] = c.split('/');
    const family = isIP(ip ?? '');
    if (family === 0) continue;
    const type = family === 6 ? 'ipv6' : 'ipv4';
    const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits);
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32)) continue;
    list.addSubnet(ip!, prefix, type);
  }
  return (address) => {
    const a = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
    const family = isIP(a);
    return family !== 0 && list.check(a, family === 6 ? 'ipv6' : 'ipv4');
  };
}
