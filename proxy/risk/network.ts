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
  // An order reads the network of every address the bot used (up to location.maxSources): parse each once,
  // for the prefixes in force (a configuration with others starts the memo again).
  if (v4Bits !== memoBits[0] || v6Bits !== memoBits[1] || memo.size >= MEMO_SIZE) {
    memo.clear();
    memoBits = [v4Bits, v6Bits];
  }
  const hit = memo.get(ip);
  if (hit !== undefined || memo.has(ip)) return hit;
  const net = parseNetwork(ip, v4Bits, v6Bits);
  memo.set(ip, net);
  return net;
}

/** Addresses whose network is remembered; past this the memo starts again (a few MB at most). */
const MEMO_SIZE = 50_000;
const memo = new Map<string, string | undefined>();
let memoBits: [number, number] = [0, 0];

function parseNetwork(ip: string, v4Bits: number, v6Bits: number): string | undefined {
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
