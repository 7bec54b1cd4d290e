// A small test client for the simulator's realtime WebSocket: a message queue
// to wait on (nextMessage with a predicate and a generous deadline, never a
// wall-clock assertion), PINGs echoed unless told otherwise.
import WebSocket from 'ws';

export type Msg = Record<string, any>;

export interface WsClient {
  readonly ws: WebSocket;
  /** Every message received so far (PINGs included), in order. */
  readonly seen: Msg[];
  /** Resolves with the close code once the socket has closed. */
  readonly closed: Promise<number>;
  send(body: unknown): void;
  /** The first queued or future message matching `predicate`, taken off the queue. */
  next(predicate?: (m: Msg) => boolean, timeoutMs?: number): Promise<Msg>;
  /** Sends LOGIN and resolves with the LOGIN answer. */
  login(token: unknown): Promise<Msg>;
  close(): Promise<number>;
}

export interface ClientOptions {
  /** Echo {"trnm":"PING"} back as Kiwoom's clients do (and keep PINGs out of the queue). Default true. */
  readonly autoPong?: boolean;
}

export const isTrnm =
  (trnm: string) =>
  (m: Msg): boolean =>
    m.trnm === trnm;

export const isReal =
  (type: string, item?: string) =>
  (m: Msg): boolean =>
    m.trnm === 'REAL' && m.data?.[0]?.type === type && (item === undefined || m.data[0].item === item);

export async function connect(url: string, opts: ClientOptions = {}): Promise<WsClient> {
  const autoPong = opts.autoPong ?? true;
  const ws = new WebSocket(url);
  const queue: Msg[] = [];
  const seen: Msg[] = [];
  const waiters = new Set<{ predicate: (m: Msg) => boolean; resolve: (m: Msg) => void }>();
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  ws.on('error', () => {});
  ws.on('message', (data) => {
    const m = JSON.parse(data.toString()) as Msg;
    seen.push(m);
    if (autoPong && m.trnm === 'PING') {
      ws.send(JSON.stringify(m));
      return;
    }
    for (const w of waiters) {
      if (w.predicate(m)) {
        waiters.delete(w);
        w.resolve(m);
        return;
      }
    }
    queue.push(m);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const client: WsClient = {
    ws,
    seen,
    closed,
    send: (body) => ws.send(typeof body === 'string' ? body : JSON.stringify(body)),
    next(predicate = () => true, timeoutMs = 20_000) {
      const i = queue.findIndex(predicate);
      if (i >= 0) return Promise.resolve(queue.splice(i, 1)[0]!);
      return new Promise((resolve, reject) => {
        const w = {
          predicate,
          resolve: (m: Msg) => {
            clearTimeout(timer);
            resolve(m);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`no matching message within ${timeoutMs} ms; queued: ${JSON.stringify(queue).slice(0, 500)}`));
        }, timeoutMs);
        waiters.add(w);
      });
    },
    async login(token) {
      client.send({ trnm: 'LOGIN', token });
      return client.next(isTrnm('LOGIN'));
    },
    async close() {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close();
      return closed;
    },
  };
  return client;
}

/** Waits (polling, with a generous deadline) until `check` holds; throws with `what` otherwise. */
export async function eventually(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
