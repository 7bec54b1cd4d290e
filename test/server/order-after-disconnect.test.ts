// An order still waiting for its turn (a governor slot, the key's broker
// token) when the bot hangs up must not go out afterwards: the bot was told
// nothing, and a bot whose client timed out retries, placing it twice. Once
// written to Kiwoom an order is never aborted (its outcome is audited); before
// that, it stops. The request deadline aborts the same signal.
import t from 'tap';
import type { Test } from 'tap';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import net from 'node:net';
import type { BrokerToken } from '../../proxy/kiwoom/client.js';
import type { KiwoomCredentials } from '../../proxy/vault/types.js';
import { CANARY, startHarness, waitFor, type Harness } from '../helpers/harness.js';

const ORDER = JSON.stringify({ dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '70000', trde_tp: '0' });

let h: Harness;
t.before(async () => {
  h = await startHarness();
});
t.teardown(() => h.close());

function orderLines(): { code?: string }[] {
  return h
    .logs()
    .split('\n')
    .filter((l) => l.includes('"msg":"request"') && l.includes('"apiId":"kt10000"'))
    .map((l) => JSON.parse(l) as { code?: string });
}

/** Holds the next broker token issues until released; resolves `entered` when one is waiting. */
function gateIssues(t: Test) {
  const kiwoom = h.sidecar.parts.kiwoom;
  const issue = kiwoom.issueToken.bind(kiwoom);
  let entered!: () => void;
  const waiting = new Promise<void>((r) => {
    entered = r;
  });
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  kiwoom.issueToken = async (creds: KiwoomCredentials, signal?: AbortSignal): Promise<BrokerToken> => {
    entered();
    await gate;
    return issue(creds, signal);
  };
  t.teardown(() => {
    kiwoom.issueToken = issue;
    release();
  });
  return { waiting, release };
}

t.test('an order still waiting for its broker token when the bot hangs up is not sent', async (t) => {
  const token = await h.token();
  await h.waitNoLiveTokens();
  const { waiting, release } = gateIssues(t);
  const port = Number(new URL(h.url).port);
  // The sidecar's side of the bot's connection, to know when it has seen the hang-up.
  let serverSide: net.Socket | undefined;
  const onSocket = (m: unknown) => {
    const s = (m as { socket: net.Socket }).socket;
    if (s.localPort === port) serverSide = s;
  };
  subscribe('net.server.socket', onSocket);
  t.teardown(() => unsubscribe('net.server.socket', onSocket));

  const bot = net.connect(port, '127.0.0.1');
  bot.on('error', () => undefined);
  await once(bot, 'connect');
  bot.write(
    `POST /api/dostk/ordr HTTP/1.1\r\nHost: x\r\napi-id: kt10000\r\nauthorization: Bearer ${token}\r\n` +
      `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(ORDER)}\r\n\r\n${ORDER}`,
  );
  await waiting;
  const seen = serverSide;
  if (!seen) throw new Error('no server-side socket seen');
  const closed = once(seen, 'close');
  bot.destroy();
  await closed;
  await new Promise((r) => setImmediate(r));
  const before = h.sim.requestLog().filter((r) => r.path === '/api/dostk/ordr').length;
  release();
  // The listener logs the request once the pipeline is done with it.
  await waitFor(() => orderLines().length > 0, 10_000, "the order's request line");
  t.equal(orderLines()[0]?.code, 'KG5002', 'the call ended as the bot left it: not forwarded');
  t.equal(h.sim.requestLog().filter((r) => r.path === '/api/dostk/ordr').length, before, 'the order never reached Kiwoom');
  t.equal(h.sim.orders(CANARY.account).length, 0, 'no order placed');
  await h.waitNoLiveTokens(10_000); // the token issued for nobody is not left live
});

t.test('an order whose bot stays gets its answer', async (t) => {
  const r = await h.call('kt10000', ORDER);
  t.equal(r.json.return_code, 0, r.text);
  t.equal(h.sim.orders(CANARY.account).length, 1);
});
