// A broken or hostile Kiwoom on loopback: an HTTP server in front of the
// project's simulator that passes every request through, except the ones a
// test's `answer` hook takes over (given the request and its body, and a way
// to pass it to the simulator first, so an order can be placed and then its
// answer lost, echoed or garbled).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { request } from 'undici';
import { latch, type Latch } from './gates.js';

export interface Passed {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Returns true when it answered (or dropped) the request itself; false passes it to the simulator. */
export type AnswerHook = (req: IncomingMessage, body: Buffer, res: ServerResponse, pass: () => Promise<Passed>) => Promise<boolean>;

export interface HostileUpstream {
  readonly url: string;
  /** The hook for the following requests (undefined: pass everything). */
  answer: AnswerHook | undefined;
  close(): Promise<void>;
}

const PASSED_HEADERS = ['api-id', 'cont-yn', 'next-key', 'content-type'];

export async function startHostileUpstream(simUrl: string): Promise<HostileUpstream> {
  const sockets = new Set<Socket>();
  async function pass(req: IncomingMessage, body: Buffer): Promise<Passed> {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'connection') headers[k] = v;
    const r = await request(simUrl + (req.url ?? '/'), { method: 'POST', headers, body });
    const out: Record<string, string> = {};
    for (const k of PASSED_HEADERS) if (typeof r.headers[k] === 'string') out[k] = r.headers[k] as string;
    return { status: r.statusCode, headers: out, body: Buffer.from(await r.body.arrayBuffer()) };
  }
  const up: HostileUpstream = {
    url: '',
    answer: undefined,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const hook = up.answer;
      void (async () => {
        if (hook && (await hook(req, body, res, () => pass(req, body)))) return;
        const p = await pass(req, body);
        res.writeHead(p.status, { ...p.headers, 'content-length': p.body.length });
        res.end(p.body);
      })().catch(() => res.destroy());
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (up as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return up;
}

/**
 * Kiwoom acts on every `apiId` call (the simulator answers it: an order is placed) but its answer is held back
 * until the returned latch is released: a call in flight for as long as a test needs.
 */
export function holdAnswers(up: HostileUpstream, apiId: string): Latch {
  const gate = latch();
  up.answer = async (req, _body, res, pass) => {
    if (req.headers['api-id'] !== apiId) return false;
    const p = await pass();
    gate.reached();
    await gate.passed;
    res.writeHead(p.status, { ...p.headers, 'content-length': p.body.length });
    res.end(p.body);
    return true;
  };
  return gate;
}
