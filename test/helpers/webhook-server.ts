// A loopback HTTP server that records webhook deliveries, optionally failing
// the first N with HTTP 500 to exercise retries.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedHook {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly raw: string;
  readonly json: Record<string, unknown>;
  readonly at: number;
}

export interface WebhookServer {
  readonly url: string;
  readonly received: ReceivedHook[];
  /** Requests answered 500 (not recorded in `received`). */
  readonly failed: number;
  failNext(n: number): void;
  waitFor(count: number, timeoutMs?: number, filter?: (h: ReceivedHook) => boolean): Promise<ReceivedHook[]>;
  close(): Promise<void>;
}

export async function startWebhookServer(): Promise<WebhookServer> {
  const received: ReceivedHook[] = [];
  let failNext = 0,
    failed = 0;
  const waiters = new Set<() => void>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (failNext > 0) {
        failNext--;
        failed++;
        res.writeHead(500).end('try again');
        return;
      }
      const raw = Buffer.concat(chunks).toString('utf8');
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        /* recorded raw */
      }
      received.push({ path: req.url ?? '/', headers: req.headers, raw, json, at: Date.now() });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      for (const w of waiters) w();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    get failed() {
      return failed;
    },
    failNext(n) {
      failNext = n;
    },
    waitFor(count, timeoutMs = 20_000, filter = () => true) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const got = received.filter(filter);
          if (got.length >= count) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(got);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`only ${received.filter(filter).length} of ${count} webhooks in ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
