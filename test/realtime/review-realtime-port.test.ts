// Review regression: the optional realtime port (realtime.port, the mirror of
// Kiwoom's :10000) was a bare node:http server. With listen.tls set, the bot
// port spoke only TLS but the mirror spoke plain ws://, so a bot's sidecar
// token crossed the network in clear in its LOGIN; and none of the bot
// listener's limits applied there (limits.maxConnections, headersTimeoutMs,
// requestTimeoutMs, maxHeaderBytes: Node's defaults of no connection cap and
// a 60 s header wait instead). Now the mirror is built as the bot listener
// is: the same TLS factory and the same limits.
import { execFileSync } from 'node:child_process';
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect as connectTcp } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { Agent, getGlobalDispatcher, setGlobalDispatcher } from 'undici';
import WebSocket from 'ws';
import { startHarness, FIXTURES } from '../helpers/harness.js';

const policyFile = path.join(FIXTURES, 'policy-realtime.yaml');

/** Opens a WebSocket; resolves with the first event: open, or the error / close that refused it. */
function attempt(url: string, opts: WebSocket.ClientOptions = {}): Promise<{ ws?: WebSocket; refused?: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, opts);
    ws.once('open', () => resolve({ ws }));
    ws.once('error', (err) => resolve({ refused: err.message }));
    ws.once('close', (code) => resolve({ refused: `closed ${code}` }));
  });
}

t.test('with listen.tls the realtime port speaks only TLS, and a bot logs in over wss', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kguard-rt-tls-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const P256 = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl('req', '-x509', ...P256, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=kguard rt CA');
  await writeFile(path.join(dir, 'leaf.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl('req', ...P256, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=kguard rt');
  openssl('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'leaf.ext', '-out', 'leaf.pem');
  const ca = await readFile(path.join(dir, 'ca.pem'));
  const tls = { certFile: path.join(dir, 'leaf.pem'), keyFile: path.join(dir, 'leaf.key') };

  // The harness's token exchange goes to the bot port over TLS: trust the test CA there.
  const before = getGlobalDispatcher();
  setGlobalDispatcher(new Agent({ connect: { ca } }));
  t.teardown(() => setGlobalDispatcher(before));
  const h = await startHarness({ policyFile, config: { listen: { tls }, realtime: { port: 0 } } });
  t.teardown(() => h.close());
  const rtPort = new URL(h.sidecar.realtimeUrl).port;
  t.not(rtPort, new URL(h.url).port, 'the mirror port');
  t.match(h.sidecar.realtimeUrl, /^wss:\/\//, 'the mirror is announced as wss://');

  const plain = await attempt(`ws://127.0.0.1:${rtPort}/api/dostk/websocket`);
  plain.ws?.close();
  t.ok(plain.refused, `no plain WebSocket on the mirror: ${plain.refused ?? 'it opened'}`);

  const secure = await attempt(`wss://127.0.0.1:${rtPort}/api/dostk/websocket`, { ca });
  t.ok(secure.ws, `a WebSocket over TLS opens: ${secure.refused ?? ''}`);
  if (secure.ws) {
    const ws = secure.ws;
    t.teardown(() => ws.close());
    const token = await h.token();
    const reply = new Promise<Record<string, unknown>>((resolve) => ws.once('message', (d) => resolve(JSON.parse(d.toString()) as Record<string, unknown>)));
    ws.send(JSON.stringify({ trnm: 'LOGIN', token }));
    t.equal((await reply).return_code, 0, 'LOGIN over wss');
  }
});

t.test("the realtime port keeps the bot listener's limits", async (t) => {
  const limits = { maxConnections: 2, headersTimeoutMs: 700, requestTimeoutMs: 900, maxHeaderBytes: 8192 };
  const h = await startHarness({ policyFile, config: { limits, realtime: { port: 0 } } });
  t.teardown(() => h.close());
  const server = h.sidecar.realtime.server!;
  t.equal(server.headersTimeout, limits.headersTimeoutMs, 'limits.headersTimeoutMs');
  t.equal(server.requestTimeout, limits.requestTimeoutMs, 'limits.requestTimeoutMs');
  t.equal((server as unknown as { maxHeaderSize?: number }).maxHeaderSize, limits.maxHeaderBytes, 'limits.maxHeaderBytes');

  // limits.maxConnections: an idle TCP connection makes room for a WebSocket (connection-slots.ts) ...
  const { port } = new URL(h.sidecar.realtimeUrl);
  const idle = connectTcp(Number(port), '127.0.0.1');
  idle.on('error', () => undefined);
  const idleClosed = new Promise((r) => idle.once('close', r));
  await new Promise((r) => idle.once('connect', r));
  t.teardown(() => idle.destroy());
  const open: WebSocket[] = [];
  t.teardown(() => {
    for (const ws of open) ws.close();
  });
  for (let i = 0; i < limits.maxConnections; i++) {
    const a = await attempt(h.sidecar.realtimeUrl);
    t.ok(a.ws, `WebSocket ${i + 1} of ${limits.maxConnections} opens: ${a.refused ?? ''}`);
    if (a.ws) open.push(a.ws);
  }
  await idleClosed;
  const evicted = (await h.sidecar.parts.registry.getSingleMetric('kguard_connections_evicted_total')?.get())?.values ?? [];
  t.equal(
    evicted.filter((v) => v.labels.listener === 'realtime').reduce((n, v) => n + v.value, 0),
    1,
    'the idle connection was closed to make room',
  );
  // ... but WebSockets holding the cap are never closed for a new one: it is refused.
  const over = await attempt(h.sidecar.realtimeUrl);
  over.ws?.close();
  t.ok(over.refused, `the connection over the cap is refused: ${over.refused ?? 'it opened'}`);
  t.ok(
    open.every((ws) => ws.readyState === WebSocket.OPEN),
    'the WebSockets holding the cap stay open',
  );
});
