// The network an address belongs to, for the `network` detector: a pod that
// moves gets a new address inside its cluster's network; a stolen token used
// from elsewhere comes from a network the bot never used.
import { isIP } from 'node:net';

/** Eight 16-bit groups of an IPv6 address (an embedded dotted IPv4 tail as two), or undefined when malformed. */
function ipv6Groups(ip: string): number[] | undefined {
  let text = ip.split('%')[0]!;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => Number.parseInt(g, 16)));
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  const groups = halves.length === 2 ? [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail] : head;
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}

/**
 * The address's network in CIDR notation ("10.42.0.0/16", "2001:db8:1:0:0:0:0:0/48"), its first v4Bits or v6Bits
 * kept; undefined when it is not an IP address (a detector cannot say which network it is in).
 */
export function networkOf(ip: string, v4Bits: number, v6Bits: number): string | undefined {
  const family = isIP(ip);
  if (family === 4) {
    const n = ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
    const size = 2 ** (32 - v4Bits);
    const base = Math.floor(n / size) * size;
    return `${[24, 16, 8, 0].map((s) => Math.floor(base / 2 ** s) % 256).join('.')}/${v4Bits}`;
  }
  if (family !== 6) return undefined;
  const groups = ipv6Groups(ip);
  if (!groups) return undefined;
  const masked = groups.map((g, i) => {
    const keep = Math.min(16, Math.max(0, v6Bits - i * 16));
    return keep === 0 ? 0 : g & (0xffff << (16 - keep)) & 0xffff;
  });
  return `${masked.map((g) => g.toString(16)).join(':')}/${v6Bits}`;
}
