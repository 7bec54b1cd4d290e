// A bot's realtime socket for tests: every frame is kept, and a test waits
// for the frame it expects (never for a time).
import WebSocket from 'ws';
import { postJson } from '../helpers/replica-process.js';

export interface BotSocket {
  ws: WebSocket;
  frames: Record<string, unknown>[];
  closed: Promise<{ code: number; reason: string }>;
  send(v: unknown): void;
  next(pred: (f: Record<string, unknown>) => boolean, what: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  login(token: string): Promise<Record<string, unknown>>;
  close(): void;
}

/** `localAddress`: the client's source address (loopback is all of 127/8), for tests about where a bot connects from. */
export async function connectBot(url: string, opts: { echoPing?: boolean; localAddress?: string } = {}): Promise<BotSocket> {
  const ws = new WebSocket(url, opts.localAddress ? { localAddress: opts.localAddress } : {});
  const frames: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  let seen = 0;
  ws.on('message', (d) => {
    const f = JSON.parse(d.toString()) as Record<string, unknown>;
    frames.push(f);
    if (f.trnm === 'PING' && opts.echoPing !== false) ws.send(d.toString());
    for (const w of waiters) w();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      for (const w of waiters) w();
    }),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const s: BotSocket = {
    ws,
    frames,
    closed,
    send: (v) => ws.send(typeof v === 'string' ? v : JSON.stringify(v)),
    next(pred, what, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          for (; seen < frames.length; seen++) {
            const f = frames[seen]!;
            if (pred(f)) {
              seen++;
              waiters.delete(check);
              clearTimeout(timer);
              resolve(f);
              return;
            }
          }
          if (ws.readyState === WebSocket.CLOSED) {
            waiters.delete(check);
            clearTimeout(timer);
            reject(new Error(`socket closed while waiting for ${what}`));
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${what}; frames: ${JSON.stringify(frames.slice(-5))}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async login(token) {
      s.send({ trnm: 'LOGIN', token });
      return s.next((f) => f.trnm === 'LOGIN', 'LOGIN reply');
    },
    close: () => ws.close(),
  };
  return s;
}

export const isReal = (type: string, item?: string) => (f: Record<string, unknown>) =>
  f.trnm === 'REAL' &&
  Array.isArray(f.data) &&
  (f.data as { type: string; item: string }[]).some((e) => e.type === type && (item === undefined || e.item === item));

/** A bot's token from a replica (sidecar process) and its realtime socket there, logged in. */
export async function loginAtReplica(replicaUrl: string, botId: string, secret: string): Promise<BotSocket> {
  const r = await postJson(`${replicaUrl}/oauth2/token`, { grant_type: 'client_credentials', appkey: botId, secretkey: secret });
  const s = await connectBot(`${replicaUrl.replace(/^http/, 'ws')}/api/dostk/websocket`);
  const reply = await s.login(String(r.json.token));
  if (reply.return_code !== 0) throw new Error(`login failed: ${JSON.stringify(reply)}`);
  return s;
}
