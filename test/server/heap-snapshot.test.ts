// After real calls through the whole sidecar, a V8 heap snapshot of the
// sidecar process must not contain the Kiwoom app key, secret key or any
// broker token (UTF-8 or UTF-16). The sidecar runs in a child process so the
// simulator and this test, which know the canaries, are not in the snapshot.
// It is the real compiled `kguard serve`, snapshotted with --heapsnapshot-signal.
import t from 'tap';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { startSimulator } from '../../proxy/sim/index.js';
import { capturingLogger } from '../helpers/vault-fixtures.js';
import { spawnSidecar } from '../helpers/sidecar-process.js';
import { provisionBot } from '../helpers/provision.js';

const APP_KEY = 'HEAPcanaryAPPkey5d1e8f0a2b4c';
const SECRET_KEY = 'HEAPcanarySECRETkey9a7c5e3b1d0f2468';
const ACCOUNT = '5055512345';
const CALLS = 25;

const dataDir = await mkdtemp(path.join(tmpdir(), 'kguard-heap-'));
await chmod(dataDir, 0o700);
t.teardown(() => rm(dataDir, { recursive: true, force: true }));

const sim = await startSimulator({});
t.teardown(() => sim.close());
sim.registerApp({ appKey: APP_KEY, secretKey: SECRET_KEY, accountNo: ACCOUNT, cash: 100_000_000, holdings: [{ stkCd: '005930', qty: 100, avgPrice: 70_000 }] });

// Everything the simulator sends back to the sidecar passes through here, so the test learns every broker token.
const upstreamBytes: Buffer[] = [];
const capture = net.createServer((client) => {
  const up = net.connect(sim.port, '127.0.0.1');
  client.pipe(up);
  up.on('data', (d: Buffer) => upstreamBytes.push(Buffer.from(d)));
  up.pipe(client);
  const end = () => {
    client.destroy();
    up.destroy();
  };
  client.on('error', end);
  up.on('error', end);
  client.on('close', end);
});
await new Promise<void>((r) => capture.listen(0, '127.0.0.1', r));
t.teardown(() => new Promise<void>((r) => capture.close(() => r())));
const upstreamUrl = `http://127.0.0.1:${(capture.address() as net.AddressInfo).port}`;

// Provision bot and credentials in this process; the sidecar only ever sees ciphertext on disk.
const { botSecret } = await provisionBot(
  dataDir,
  { botId: 'heap-bot', account: ACCOUNT, appKey: APP_KEY, secretKey: SECRET_KEY, allowed: ['kind:query', 'kind:account', 'kind:order'] },
  capturingLogger().logger,
);

// The real `kguard serve` binary; Node writes a heap snapshot into its cwd on SIGUSR2.
const configFile = path.join(dataDir, 'kguard.yaml');
await writeFile(
  configFile,
  JSON.stringify({
    dataDir,
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0, enabled: false },
    // A patient bot: back-to-back orders queue for Kiwoom's 5/s instead of being refused.
    upstream: { target: 'custom', url: upstreamUrl, limits: { orderMaxWaitMs: 10_000 } },
    demo: { enabled: false },
    log: { level: 'warn' },
    brokerTokens: { revokeBaseDelayMs: 20, revokeMaxDelayMs: 200 },
    policy: { file: path.resolve('test/fixtures/policy-open.yaml') },
  }),
  { mode: 0o600 },
);
const snapDir = await mkdtemp(path.join(tmpdir(), 'kguard-heap-snap-'));
t.teardown(() => rm(snapDir, { recursive: true, force: true }));
const child = await spawnSidecar({ configFile, cwd: snapDir, nodeArgs: ['--heapsnapshot-signal=SIGUSR2'] });
t.teardown(() => child.kill());
const sidecarUrl = child.url;

async function post(p: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await request(sidecarUrl + p, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json;charset=UTF-8', ...headers },
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: JSON.parse(text) as Record<string, unknown>, text };
}

t.test('calls through the sidecar leave no key or broker token in its heap', async (t) => {
  const tok = await post('/oauth2/token', { grant_type: 'client_credentials', appkey: 'heap-bot', secretkey: botSecret });
  t.equal(tok.json.return_code, 0, tok.text);
  const auth = { authorization: `Bearer ${String(tok.json.token)}` };
  for (let i = 0; i < CALLS; i++) {
    const r =
      i % 2
        ? await post('/api/dostk/acnt', { qry_tp: '1', dmst_stex_tp: 'KRX' }, { ...auth, 'api-id': 'kt00018' })
        : await post(
            '/api/dostk/ordr',
            { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: String(70_000 - i), trde_tp: '0' },
            { ...auth, 'api-id': 'kt10000' },
          );
    t.equal(r.json.return_code, 0, r.text);
  }
  const deadline = Date.now() + 20_000;
  while (sim.liveTokens() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.equal(sim.liveTokens(), 0, 'every broker token revoked');

  const brokerTokens = [
    ...Buffer.concat(upstreamBytes)
      .toString('latin1')
      .matchAll(/"token"\s*:\s*"([^"]+)"/g),
  ].map((m) => m[1]!);
  // Calls close together share the key's token, so a few tokens serve all the calls.
  t.ok(brokerTokens.length >= 1, `learned ${brokerTokens.length} broker tokens`);

  child.proc.kill('SIGUSR2');
  // The snapshot is complete once its size stops changing.
  let snapshotFile = '';
  for (let last = -1, end = Date.now() + 60_000; Date.now() < end; await new Promise((r) => setTimeout(r, 250))) {
    const name = (await readdir(snapDir)).find((n) => n.endsWith('.heapsnapshot'));
    if (!name) continue;
    snapshotFile = path.join(snapDir, name);
    const size = (await stat(snapshotFile)).size;
    if (size > 0 && size === last) break;
    last = size;
  }
  const heap = await readFile(snapshotFile);
  t.ok(heap.length > 1_000_000, 'a real heap snapshot');
  t.ok(heap.includes(Buffer.from('heap-bot')), 'the snapshot holds strings the sidecar does keep (sanity check of the search)');
  const found = (s: string) => heap.includes(Buffer.from(s, 'utf8')) || heap.includes(Buffer.from(s, 'utf16le'));
  t.notOk(found(APP_KEY), 'app key not in the heap');
  t.notOk(found(SECRET_KEY), 'secret key not in the heap');
  const leaked = brokerTokens.filter(found);
  t.same(leaked.length, 0, `broker tokens in the heap: ${leaked.length} of ${brokerTokens.length}`);
});
