// Name-override mode (a pod whose hostAliases map api.kiwoom.com to the
// sidecar): the sidecar serves TLS for Kiwoom's names on a configured address
// and the bot keeps https://api.kiwoom.com. Name resolution is overridden for
// this test process only (an undici connector that dials the sidecar for
// api.kiwoom.com:443), never /etc/hosts. Also: a leaf renewal under load drops
// no call, in either mode, and new handshakes get the new certificate.
import { once } from 'node:events';
import path from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import t from 'tap';
import { Agent, ProxyAgent, buildConnector } from 'undici';
import { readAuditRecords } from '../helpers/audit-sidecar-log.js';
import { waitFor } from '../helpers/harness.js';
import { kiwoomBot, startTransparent, type TransparentHarness } from './helpers.js';

let th: TransparentHarness;
let port: number;
t.before(async () => {
  th = await startTransparent({ transparent: { listen: [{ host: '127.0.0.1', port: 0 }] } });
  port = Number(new URL(th.h.sidecar.transparent.urls[0]!).port);
});
t.teardown(() => th.close());

/** api.kiwoom.com:443 resolves to the sidecar's name-override address, for this agent only. */
function overridden(ca: string, opts: { pipelining?: number; keepAlive?: boolean } = {}): Agent {
  const connector = buildConnector({ ca, servername: 'api.kiwoom.com' } as buildConnector.BuildOptions);
  return new Agent({
    ...(opts.keepAlive === false ? { pipelining: 0 } : {}),
    connect: (o, cb) => {
      if (o.hostname !== 'api.kiwoom.com') return cb(new Error(`unexpected host ${o.hostname}`), null);
      return connector({ ...o, hostname: '127.0.0.1', port: String(port), servername: 'api.kiwoom.com' }, cb);
    },
  });
}

async function peerSerial(servername: string): Promise<string> {
  const s = tlsConnect({ host: '127.0.0.1', port, servername, ca: th.ca.certPem });
  await once(s, 'secureConnect');
  const serial = s.getPeerCertificate().serialNumber;
  s.destroy();
  return serial.toLowerCase();
}

t.test('an unmodified client works in name-override mode (token, quote, order, cancel)', async (t) => {
  const { h, ca } = th;
  const agent = overridden(ca.certPem);
  t.teardown(() => agent.close());
  const bot = kiwoomBot(agent);
  const tok = await bot.token(h.botId, h.botSecret);
  t.equal(tok.json.return_code, 0, tok.text);
  const token = String(tok.json.token);
  const quote = await bot.call('/api/dostk/stkinfo', 'ka10001', token, { stk_cd: '005930' });
  t.equal(quote.json.return_code, 0, quote.text);
  const order = await bot.call('/api/dostk/ordr', 'kt10000', token, { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '74000', trde_tp: '0' });
  t.equal(order.json.return_code, 0, order.text);
  const cancel = await bot.call('/api/dostk/ordr', 'kt10003', token, {
    dmst_stex_tp: 'KRX',
    orig_ord_no: String(order.json.ord_no),
    stk_cd: '005930',
    cncl_qty: '0',
  });
  t.equal(cancel.json.return_code, 0, cancel.text);

  const untrusted = new Agent({
    connect: (o, cb) => buildConnector({})({ ...o, hostname: '127.0.0.1', port: String(port), servername: 'api.kiwoom.com' }, cb),
  });
  t.teardown(() => untrusted.close());
  const err = await kiwoomBot(untrusted)
    .token(h.botId, h.botSecret)
    .catch((e: Error) => e);
  t.ok(err instanceof Error, 'a client that does not trust the CA fails the handshake');
  const failed = async () =>
    (await readAuditRecords(path.join(h.dataDir, 'audit')))
      .filter((r) => r.type === 'transparent.tls_failed' && r.data.mode === 'name-override')
      .map((r) => r.data);
  await waitFor(async () => (await failed()).length >= 1, 10_000, 'the failed handshake audited');
  t.match((await failed())[0], { port, source: '127.0.0.1', reason: /\S/ }, 'audited with the address, source and the TLS reason');
});

t.test('a leaf renewal under load drops no call; new handshakes get the new certificate', async (t) => {
  const { h, ca } = th;
  const leaf = h.sidecar.transparent.leaf!;
  const before = leaf.info().serialNumber;
  t.equal(await peerSerial('api.kiwoom.com'), before, 'served leaf before the renewal');

  const keepAliveProxy = new ProxyAgent({ uri: h.url, requestTls: { ca: ca.certPem } });
  const keepAliveOverride = overridden(ca.certPem);
  t.teardown(async () => {
    await keepAliveProxy.close();
    await keepAliveOverride.close();
  });
  const token = String((await kiwoomBot(keepAliveProxy).token(h.botId, h.botSecret)).json.token);
  let stop = false;
  const results: number[] = [];
  const failures: string[] = [];
  async function loop(fresh: boolean, kind: 'proxy' | 'override'): Promise<void> {
    while (!stop) {
      const agent = fresh ? (kind === 'proxy' ? new ProxyAgent({ uri: h.url, requestTls: { ca: ca.certPem } }) : overridden(ca.certPem)) : undefined;
      try {
        const bot = kiwoomBot(agent ?? (kind === 'proxy' ? keepAliveProxy : keepAliveOverride));
        const r = await bot.call('/api/dostk/stkinfo', 'ka10001', token, { stk_cd: '005930' });
        results.push(Number(r.json.return_code));
        if (r.json.return_code !== 0) failures.push(r.text);
      } catch (err) {
        failures.push(String((err as Error).message));
      } finally {
        await agent?.close();
      }
    }
  }
  const loops = [loop(true, 'proxy'), loop(false, 'proxy'), loop(true, 'override'), loop(false, 'override')];
  const serials = new Set([before]);
  for (let i = 0; i < 3; i++) {
    const n = results.length;
    // Renew while calls are in flight, then let a few more calls through on the new leaf.
    await new Promise((r) => setTimeout(r, 50));
    serials.add((await leaf.renew()).serialNumber);
    while (results.length < n + 4 && failures.length === 0) await new Promise((r) => setTimeout(r, 20));
  }
  stop = true;
  await Promise.all(loops);
  t.same(failures, [], 'no call failed across the renewals');
  t.ok(results.length >= 12, `calls completed during the renewals (${results.length})`);
  t.equal(serials.size, 4, 'three renewals, four distinct leaves');
  const after = leaf.info().serialNumber;
  t.not(after, before);
  t.equal(await peerSerial('api.kiwoom.com'), after, 'a new handshake gets the renewed leaf');
  const metrics = await (await import('undici').then((u) => u.request(`${h.adminUrl}/metrics`))).body.text();
  t.match(metrics, /kguard_transparent_leaf_renewals_total\{result="ok"\} 3/);
});
