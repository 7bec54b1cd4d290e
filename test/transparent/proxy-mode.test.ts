// Forward-proxy mode end to end over real sockets: a bot whose base URL stays
// https://api.kiwoom.com, with only HTTPS_PROXY pointed at the sidecar's bot
// port and the local CA trusted, gets a token, a quote, an order and a cancel
// through exactly the same pipeline (audited, policy-checked, simulator behind).
// CONNECT to anything else is refused and audited; a client that does not
// trust the CA refuses the sidecar's certificate.
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { connect as netConnect } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { ProxyAgent } from 'undici';
import { readAuditRecords } from '../helpers/audit-sidecar-log.js';
import { waitFor } from '../helpers/harness.js';
import { kiwoomBot, startTransparent, type TransparentHarness, proxiedBot } from './helpers.js';

const run = promisify(execFile);
const haveCurl = await run('curl', ['--version']).then(
  () => true,
  () => false,
);

let th: TransparentHarness;
t.before(async () => {
  th = await startTransparent();
});
t.teardown(() => th.close());

t.test('an unmodified client (base URL https://api.kiwoom.com, HTTPS_PROXY) works end to end', async (t) => {
  const { h, ca } = th;
  const { bot, token } = await proxiedBot(t, h.url, ca.certPem, h.botId, h.botSecret);
  t.notOk(token.includes(h.botSecret));

  const quote = await bot.call('/api/dostk/stkinfo', 'ka10001', token, { stk_cd: '005930' });
  t.equal(quote.json.return_code, 0, quote.text);
  t.equal(quote.json.stk_cd, '005930');
  t.ok(quote.headers['x-kguard-request-id'], 'answered by the sidecar pipeline');

  const order = await bot.call('/api/dostk/ordr', 'kt10000', token, { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '74000', trde_tp: '0' });
  t.equal(order.json.return_code, 0, order.text);
  const ordNo = String(order.json.ord_no);
  const cancel = await bot.call('/api/dostk/ordr', 'kt10003', token, { dmst_stex_tp: 'KRX', orig_ord_no: ordNo, stk_cd: '005930', cncl_qty: '0' });
  t.equal(cancel.json.return_code, 0, cancel.text);

  const denied = await bot.call('/api/dostk/ordr', 'kt10000', token, { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: 'x', ord_uv: '74000', trde_tp: '0' });
  t.not(denied.json.return_code, 0, 'the same checks run (a malformed order is refused)');

  const records = await readAuditRecords(path.join(h.dataDir, 'audit'));
  const intents = records.filter((r) => r.type === 'call.intent' && r.data.apiId === 'kt10000');
  t.ok(intents.length >= 1, 'the order went through the audited pipeline');
  const issued = records.find((r) => r.type === 'session.issued')?.data;
  t.match(issued, { botId: h.botId, sourceIp: '127.0.0.1' }, 'the tunnelled connection keeps its source address');
});

t.test('curl with --proxy and --cacert, URL https://api.kiwoom.com', { skip: haveCurl ? false : 'curl is not installed' }, async (t) => {
  const { h, caDir } = th;
  const curl = async (url: string, body: string, headers: string[] = []) => {
    const args = ['-s', '--proxy', h.url, '--cacert', path.join(caDir, 'ca.pem'), '-X', 'POST', url, '-H', 'content-type: application/json;charset=UTF-8'];
    for (const hd of headers) args.push('-H', hd);
    args.push('--data-binary', body);
    const { stdout } = await run('curl', args, { env: { PATH: process.env.PATH ?? '' } });
    return JSON.parse(stdout) as Record<string, unknown>;
  };
  const tok = await curl('https://api.kiwoom.com/oauth2/token', JSON.stringify({ grant_type: 'client_credentials', appkey: h.botId, secretkey: h.botSecret }));
  t.equal(tok.return_code, 0, JSON.stringify(tok));
  const quote = await curl('https://api.kiwoom.com/api/dostk/stkinfo', JSON.stringify({ stk_cd: '005930' }), [
    'api-id: ka10001',
    `authorization: Bearer ${String(tok.token)}`,
  ]);
  t.equal(quote.return_code, 0, JSON.stringify(quote));
  t.equal(quote.stk_cd, '005930');
});

t.test('CONNECT to any other host or port is refused (403) and audited; nothing is dialled', async (t) => {
  const { h } = th;
  const port = Number(new URL(h.url).port);
  async function connectRaw(target: string): Promise<string> {
    const s = netConnect(port, '127.0.0.1');
    await once(s, 'connect');
    s.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
    let text = '';
    s.on('data', (d) => {
      text += String(d);
    });
    await once(s, 'close');
    return text;
  }
  for (const target of ['example.com:443', 'api.kiwoom.com:22', '169.254.169.254:80', 'api.kiwoom.com.evil.test:443']) {
    const text = await connectRaw(target);
    t.match(text, /^HTTP\/1\.1 403 /, `${target} refused`);
    t.match(text, 'KG1014');
  }
  const refusedRecords = async () =>
    (await readAuditRecords(path.join(h.dataDir, 'audit'))).filter((r) => r.type === 'transparent.connect_refused').map((r) => r.data);
  await waitFor(async () => (await refusedRecords()).length >= 4, 10_000, 'refused CONNECTs audited');
  const refused = await refusedRecords();
  t.ok(
    refused.some((r) => r.host === 'example.com' && r.port === 443 && r.source === '127.0.0.1'),
    'audited with host, port and source',
  );
  t.ok(refused.some((r) => r.host === 'api.kiwoom.com' && r.port === 22));
  t.ok(refused.some((r) => r.host === '169.254.169.254'));
});

t.test('a client that does not trust the CA refuses the sidecar (TLS fails on the client side)', async (t) => {
  const { h } = th;
  const agent = new ProxyAgent({ uri: h.url });
  t.teardown(() => agent.close());
  const bot = kiwoomBot(agent);
  const err = await bot.token(h.botId, h.botSecret).catch((e: Error & { cause?: { code?: string } }) => e);
  t.ok(err instanceof Error, 'the request fails');
  t.match(
    String((err as Error & { cause?: { code?: string } }).cause?.code ?? (err as Error).message),
    /UNABLE_TO_VERIFY|SELF_SIGNED|UNABLE_TO_GET_ISSUER|certificate/i,
  );
  const failed = async () =>
    (await readAuditRecords(path.join(h.dataDir, 'audit'))).filter((r) => r.type === 'transparent.tls_failed' && r.data.mode === 'connect').map((r) => r.data);
  // undici keeps the tunnel open after the failed verification, so the sidecar notices at its handshake timeout
  // (transparent.handshakeTimeoutMs, 10 s): wait well past it, for a loaded machine.
  await waitFor(async () => (await failed()).length >= 1, 30_000, 'the failed handshake audited');
  t.match((await failed())[0], { host: 'api.kiwoom.com', port: 443, source: '127.0.0.1', reason: /\S/ }, 'audited with host, port, source and the TLS reason');
  t.notMatch(JSON.stringify(await failed()), h.botSecret, 'nothing the client would have sent');
});

t.test('the CA key never appears in logs or responses', async (t) => {
  const { h, ca } = th;
  const { readFile } = await import('node:fs/promises');
  const key = await readFile(ca.files.keyFile, 'utf8');
  const body = key.split('\n').filter((l) => l && !l.startsWith('-----'));
  const logs = h.logs();
  for (const line of body) t.notOk(logs.includes(line), 'no CA key line in the logs');
  const records = JSON.stringify(await readAuditRecords(path.join(h.dataDir, 'audit')));
  for (const line of body) t.notOk(records.includes(line), 'no CA key line in the audit trail');
});

t.test('with transparent mode off (the default) a CONNECT is refused and audited, not dropped', async (t) => {
  const { startHarness } = await import('../helpers/harness.js');
  const h = await startHarness();
  t.teardown(() => h.close());
  const s = netConnect(Number(new URL(h.url).port), '127.0.0.1');
  await once(s, 'connect');
  s.write('CONNECT api.kiwoom.com:443 HTTP/1.1\r\nHost: api.kiwoom.com:443\r\n\r\n');
  let text = '';
  s.on('data', (d) => {
    text += String(d);
  });
  await once(s, 'close');
  t.match(text, /^HTTP\/1\.1 403 /);
  t.match(text, 'transparent mode is off');
  await waitFor(
    async () =>
      (await readAuditRecords(path.join(h.dataDir, 'audit'))).some(
        (r) => r.type === 'transparent.connect_refused' && r.data.reason === 'transparent mode is off',
      ),
    10_000,
    'the refusal audited',
  );
});

t.test('a dedicated CONNECT port (transparent.proxyListen): the same tunnels, CONNECT only', async (t) => {
  const dedicated = await startTransparent({ transparent: { proxyListen: [{ host: '127.0.0.1', port: 0 }] } });
  t.teardown(() => dedicated.close());
  const { h, ca } = dedicated;
  const proxyUrl = h.sidecar.transparent.proxyUrls[0]!;
  t.not(new URL(proxyUrl).port, new URL(h.url).port, 'a port of its own');
  const { bot, token } = await proxiedBot(t, proxyUrl, ca.certPem, h.botId, h.botSecret);
  const quote = await bot.call('/api/dostk/stkinfo', 'ka10001', token, { stk_cd: '005930' });
  t.equal(quote.json.return_code, 0, quote.text);
  t.ok(quote.headers['x-kguard-request-id'], 'answered by the sidecar pipeline');

  const { request } = await import('undici');
  const plain = await request(`${proxyUrl}/oauth2/token`, { method: 'POST', body: '{}' });
  t.equal(plain.statusCode, 404, 'anything but CONNECT is refused there');
  t.match(await plain.body.text(), /"return_code":1/);

  const s = netConnect(Number(new URL(proxyUrl).port), '127.0.0.1');
  await once(s, 'connect');
  s.write('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
  let text = '';
  s.on('data', (d) => {
    text += String(d);
  });
  await once(s, 'close');
  t.match(text, /^HTTP\/1\.1 403 /, 'another host refused there too');
  await waitFor(
    async () => (await readAuditRecords(path.join(h.dataDir, 'audit'))).some((r) => r.type === 'transparent.connect_refused' && r.data.host === 'example.com'),
    10_000,
    'and audited',
  );
});
