// Starts a listener and says where it listens, as a URL (an IPv6 address in brackets).
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export async function listen(server: Server, host: string, port: number, scheme: 'http' | 'https' = 'http'): Promise<string> {
  server.listen(port, host);
  await once(server, 'listening');
  const addr = server.address() as AddressInfo;
  const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return `${scheme}://${h}:${addr.port}`;
}
