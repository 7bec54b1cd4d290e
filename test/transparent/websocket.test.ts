// The realtime WebSocket through forward-proxy mode: the bot keeps
// wss://api.kiwoom.com:10000/api/dostk/websocket, its proxy sends
// CONNECT api.kiwoom.com:10000, and the sidecar's own upgrade path (LOGIN with
// the sidecar token, REG checked, fan-out from the one upstream session) runs.
import { once } from 'node:events';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import path from 'node:path';
import t from 'tap';
import WebSocket from 'ws';
import { FIXTURES } from '../helpers/harness.js';
import { startTransparent, type TransparentHarness } from './helpers.js';

let th: TransparentHarness;
t.before(async () => {
  th = await startTransparent({
    allowed: ['kind:query', 'kind:account', 'kind:order', 'kind:realtime'],
    policyFile: path.join(FIXTURES, 'policy-realtime.yaml'),
  });
});
t.teardown(() => th.close());

/** What an HTTPS_PROXY-aware WebSocket client does: CONNECT, then TLS to api.kiwoom.com inside the tunnel. */
async function tunnel(proxyPort: number, target: string): Promise<import('node:net').Socket> {
  const s = netConnect(proxyPort, '127.0.0.1');
  await once(s, 'connect');
  s.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
  let head = '';
  while (!head.includes('\r\n\r\n')) {
    const [chunk] = (await once(s, 'data')) as [Buffer];
    head += chunk.toString('latin1');
  }
  if (!/^HTTP\/1\.1 200 /.test(head)) throw new Error(`CONNECT refused: ${head.split('\r\n')[0]}`);
  return s;
}

t.test('wss://api.kiwoom.com:10000 through CONNECT: LOGIN, REG and a pushed quote', async (t) => {
  const { h, ca } = th;
  const token = await h.token();
  const raw = await tunnel(Number(new URL(h.url).port), 'api.kiwoom.com:10000');
  const ws = new WebSocket('wss://api.kiwoom.com:10000/api/dostk/websocket', {
    createConnection: () => tlsConnect({ socket: raw, servername: 'api.kiwoom.com', ca: ca.certPem }),
  });
  t.teardown(() => ws.terminate());
  const frames: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (d) => {
    const f = JSON.parse(d.toString()) as Record<string, unknown>;
    if (f.trnm === 'PING') ws.send(d.toString());
    frames.push(f);
    for (const w of waiters) w();
  });
  const next = (pred: (f: Record<string, unknown>) => boolean, what: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}: ${JSON.stringify(frames.slice(-3))}`)), 20_000);
      const check = () => {
        const i = frames.findIndex(pred);
        if (i < 0) return;
        const [f] = frames.splice(i, 1);
        waiters.delete(check);
        clearTimeout(timer);
        resolve(f!);
      };
      waiters.add(check);
      check();
    });
  await once(ws, 'open');
  ws.send(JSON.stringify({ trnm: 'LOGIN', token }));
  const login = await next((f) => f.trnm === 'LOGIN', 'LOGIN reply');
  t.equal(login.return_code, 0, JSON.stringify(login));
  ws.send(JSON.stringify({ trnm: 'REG', grp_no: '1', refresh: '1', data: [{ item: ['005930'], type: ['0B'] }] }));
  const ack = await next((f) => f.trnm === 'REG', 'REG ack');
  t.equal(ack.return_code, 0, JSON.stringify(ack));
  h.sim.pushQuote('005930');
  const real = await next((f) => f.trnm === 'REAL', 'a pushed quote');
  t.match(JSON.stringify(real.data), '005930', 'the quote arrives through the tunnel');
});
