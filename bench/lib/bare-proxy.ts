// The baseline: a bare pass-through proxy with no checks at all. It reads the
// bot's body and forwards it, with the bot's own Kiwoom token, to the
// simulator over an undici Pool (keep-alive), then relays status, paging
// headers and body. Whatever kiwoom-guard costs beyond this is its price.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';

const FORWARDED_REQUEST_HEADERS = ['authorization', 'api-id', 'cont-yn', 'next-key', 'content-type'] as const;
const RELAYED_RESPONSE_HEADERS = ['api-id', 'cont-yn', 'next-key', 'content-type'] as const;
const MAX_BODY_BYTES = 64 * 1024;

export interface BareProxy {
  readonly url: string;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function startBareProxy(upstreamUrl: string, connections: number): Promise<BareProxy> {
  const pool = new Pool(upstreamUrl, { connections, keepAliveTimeout: 4_000, headersTimeout: 10_000, bodyTimeout: 10_000 });
  const server: Server = createServer(async (req, res) => {
    try {
      const body = await readBody(req);
      const headers: Record<string, string> = {};
      for (const h of FORWARDED_REQUEST_HEADERS) {
        const v = req.headers[h];
        if (typeof v === 'string') headers[h] = v;
      }
      const up = await pool.request({ method: 'POST', path: req.url ?? '/', headers, body });
      const out = Buffer.from(await up.body.arrayBuffer());
      const relayed: Record<string, string | number> = { 'content-length': out.length };
      for (const h of RELAYED_RESPONSE_HEADERS) {
        const v = up.headers[h];
        if (typeof v === 'string') relayed[h] = v;
      }
      res.writeHead(up.statusCode, relayed);
      res.end(out);
    } catch {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end('{"return_code":1,"return_msg":"bare proxy upstream error"}');
    }
  });
  server.keepAliveTimeout = 5_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.close();
      server.closeAllConnections();
      await pool.close();
    },
  };
}
