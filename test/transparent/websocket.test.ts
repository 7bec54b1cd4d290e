// The realtime WebSocket through forward-proxy mode: the bot keeps
// wss://api.kiwoom.com:10000/api/dostk/websocket, its proxy sends
// CONNECT api.kiwoom.com:10000, and the sidecar's own upgrade path (LOGIN with
// the sidecar token, REG checked, fan-out from the one upstream session) runs,
// and an order sent through CONNECT :443 comes back as the fill push (00).
// The same WebSocket through a name-override address.
import { once } from 'node:events';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import path from 'node:path';
import t, { type Test } from 'tap';
import WebSocket from 'ws';
import { FIXTURES } from '../helpers/harness.js';
import { startTransparent, type TransparentHarness, proxiedBot } from './helpers.js';

let th: TransparentHarness;
t.before(async () => {
  th = await startTransparent({
    allowed: ['kind:query', 'kind:account', 'kind:order', 'kind:realtime'],
    policyFile: path.join(FIXTURES, 'policy-realtime.yaml'),
    transparent: { listen: [{ host: '127.0.0.1', port: 0 }] },
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

/** The bot's WebSocket, unchanged: wss://api.kiwoom.com:10000 through CONNECT, with a frame queue. */
async function openBotSocket(t: Test, via: 'connect' | 'name-override' = 'connect') {
  const { h, ca } = th;
  // name-override: api.kiwoom.com:10000 resolves to the sidecar's TLS address, for this socket only.
  const override = new URL(h.sidecar.transparent.urls[0]!);
  const raw = via === 'connect' ? await tunnel(Number(new URL(h.url).port), 'api.kiwoom.com:10000') : undefined;
  const ws = new WebSocket('wss://api.kiwoom.com:10000/api/dostk/websocket', {
    createConnection: () =>
      raw
        ? tlsConnect({ socket: raw, servername: 'api.kiwoom.com', ca: ca.certPem })
        : tlsConnect({ host: override.hostname, port: Number(override.port), servername: 'api.kiwoom.com', ca: ca.certPem }),
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
  return { ws, next, send: (f: unknown) => ws.send(JSON.stringify(f)) };
}

t.test('wss://api.kiwoom.com:10000 through CONNECT: LOGIN, REG and a pushed quote', async (t) => {
  const { h } = th;
  const token = await h.token();
  const { next, send } = await openBotSocket(t);
  send({ trnm: 'LOGIN', token });
  const login = await next((f) => f.trnm === 'LOGIN', 'LOGIN reply');
  t.equal(login.return_code, 0, JSON.stringify(login));
  send({ trnm: 'REG', grp_no: '1', refresh: '1', data: [{ item: ['005930'], type: ['0B'] }] });
  const ack = await next((f) => f.trnm === 'REG', 'REG ack');
  t.equal(ack.return_code, 0, JSON.stringify(ack));
  h.sim.pushQuote('005930');
  const real = await next((f) => f.trnm === 'REAL', 'a pushed quote');
  t.match(JSON.stringify(real.data), '005930', 'the quote arrives through the tunnel');
});

t.test('the fill push (00) after an order sent through the proxy arrives on the tunnelled WebSocket', async (t) => {
  const { h, ca } = th;
  const { bot, token } = await proxiedBot(t, h.url, ca.certPem, h.botId, h.botSecret);
  const { next, send } = await openBotSocket(t);
  send({ trnm: 'LOGIN', token });
  t.equal((await next((f) => f.trnm === 'LOGIN', 'LOGIN reply')).return_code, 0);
  send({ trnm: 'REG', grp_no: '2', refresh: '1', data: [{ item: [''], type: ['00'] }] });
  t.equal((await next((f) => f.trnm === 'REG', 'REG 00 ack')).return_code, 0);
  // A market order through CONNECT api.kiwoom.com:443: the simulator fills it at once.
  const order = await bot.call('/api/dostk/ordr', 'kt10000', token, { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '', trde_tp: '3' });
  t.equal(order.json.return_code, 0, order.text);
  const fill = await next((f) => f.trnm === 'REAL' && JSON.stringify(f.data).includes('"00"'), 'the fill push');
  const item = (fill.data as { type: string; values: Record<string, string> }[]).find((d) => d.type === '00')!;
  t.ok(item, 'a 00 (order fill) item');
  t.match(JSON.stringify(item.values), String(order.json.ord_no), 'for the order just sent');
});

t.test('wss://api.kiwoom.com:10000 in name-override mode: LOGIN, REG and a pushed quote', async (t) => {
  const { h } = th;
  const token = await h.token();
  const { next, send } = await openBotSocket(t, 'name-override');
  send({ trnm: 'LOGIN', token });
  t.equal((await next((f) => f.trnm === 'LOGIN', 'LOGIN reply')).return_code, 0);
  send({ trnm: 'REG', grp_no: '1', refresh: '1', data: [{ item: ['000660'], type: ['0B'] }] });
  t.equal((await next((f) => f.trnm === 'REG', 'REG ack')).return_code, 0);
  h.sim.pushQuote('000660');
  const real = await next((f) => f.trnm === 'REAL' && JSON.stringify(f.data).includes('000660'), 'a pushed quote');
  t.ok(real, 'the quote arrives on the name-override address');
});
