// Shutdown with an order in flight through transparent mode: on a
// name-override address (TLS for Kiwoom's names) or a dedicated CONNECT port
// (transparent.proxyListen), the bot's TLS connection is handed to the bot
// server, which must drain it like any other: the order Kiwoom is placing is
// answered to the bot and its outcome audited before the broker sessions,
// the upstream client and the auditor close.
import path from 'node:path';
import t from 'tap';
import { Agent, ProxyAgent, buildConnector, type Dispatcher } from 'undici';
import { startSimulator, type Simulator } from '../../proxy/sim/index.js';
import { readAuditRecords, recordsFor } from '../helpers/audit-sidecar-log.js';
import { holdAnswers, startHostileUpstream, type HostileUpstream } from '../helpers/hostile-upstream.js';
import { kiwoomBot, startTransparent } from './helpers.js';

let sim: Simulator;
let up: HostileUpstream;
t.before(async () => {
  sim = await startSimulator();
  up = await startHostileUpstream(sim.url);
});
t.teardown(async () => {
  await up.close();
  await sim.close();
});

const BUY = { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '70000', trde_tp: '0' };

for (const mode of ['name-override', 'proxyListen'] as const) {
  t.test(`${mode}: an order in flight at shutdown is answered and audited before the parts close`, async (t) => {
    const th = await startTransparent({
      simulator: sim,
      config: { upstream: { url: up.url } },
      transparent: mode === 'name-override' ? { listen: [{ host: '127.0.0.1', port: 0 }] } : { proxyListen: [{ host: '127.0.0.1', port: 0 }] },
    });
    t.teardown(() => th.close().catch(() => undefined));
    const { h, ca } = th;
    let dispatcher: Dispatcher;
    if (mode === 'name-override') {
      const port = String(new URL(h.sidecar.transparent.urls[0]!).port);
      const connector = buildConnector({ ca: ca.certPem, servername: 'api.kiwoom.com' } as buildConnector.BuildOptions);
      dispatcher = new Agent({ connect: (o, cb) => connector({ ...o, hostname: '127.0.0.1', port, servername: 'api.kiwoom.com' }, cb) });
    } else {
      dispatcher = new ProxyAgent({ uri: h.sidecar.transparent.proxyUrls[0]!, requestTls: { ca: ca.certPem } });
    }
    t.teardown(() => dispatcher.close());
    const bot = kiwoomBot(dispatcher);
    const token = String((await bot.token(h.botId, h.botSecret)).json.token);

    const gate = holdAnswers(up, 'kt10000');
    t.teardown(() => {
      up.answer = undefined;
    });
    // Broker sessions drain once no call is in flight any more: it must not start while the order is with Kiwoom.
    const bs = h.sidecar.parts.brokerSessions;
    const drain = bs.drain.bind(bs);
    let drainedEarly = false;
    let inFlight = true;
    let drainStarted!: () => void;
    const started = new Promise<void>((r) => {
      drainStarted = r;
    });
    bs.drain = (ms: number) => {
      if (inFlight) drainedEarly = true;
      drainStarted();
      return drain(ms);
    };
    const order = bot.call('/api/dostk/ordr', 'kt10000', token, BUY);
    await gate.waiting;
    const closing = h.sidecar.close();
    // Not a time bound: a pause in which a wrong drain order shows itself; the right one waits for the release.
    await Promise.race([started, new Promise((r) => setTimeout(r, 1_500))]);
    inFlight = false;
    gate.release();
    const r = await order;
    await closing;
    t.notOk(drainedEarly, 'the broker sessions did not start draining while the order was with Kiwoom');
    t.equal(r.json.return_code, 0, `the order is answered: ${r.text.slice(0, 160)}`);
    const id = String(r.headers['x-kguard-request-id']);
    const types = recordsFor(await readAuditRecords(path.join(h.dataDir, 'audit')), id).map((x) => x.type);
    t.ok(types.includes('call.outcome'), `its outcome audited (${types.join(', ')})`);
    t.ok(
      await h.waitNoLiveTokens(10_000).then(
        () => true,
        () => false,
      ),
      'and no broker token left live at Kiwoom',
    );
  });
}
