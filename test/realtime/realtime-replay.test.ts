// After an upstream drop the key's hub logs in again and replays what Kiwoom
// forgot. A live condition search must come back exactly as the bot asked
// for it: Kiwoom's CNSRREQ names the market (stex_tp K KRX, N NXT, A both),
// and the simulator accepts any of them, so this file stands a small
// recording Kiwoom in front of the hub to see the frames themselves.
import t from 'tap';
import { pino } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AddressInfo } from 'node:net';
import { KeyHub } from '../../proxy/kiwoom/realtime/hub.js';
import { UpstreamLink } from '../../proxy/kiwoom/realtime/link.js';
import type { BrokerLease } from '../../proxy/kiwoom/session-types.js';
import { waitFor } from '../helpers/harness.js';

const logger = pino({ level: 'silent' });

t.test('a live condition search is replayed after an upstream drop on the market the bot asked for', async (t) => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  t.teardown(() => new Promise<void>((r) => wss.close(() => r())));
  const searches: Record<string, unknown>[] = [];
  let current: WebSocket | undefined;
  wss.on('connection', (ws) => {
    current = ws;
    ws.on('message', (d) => {
      const f = JSON.parse(d.toString()) as Record<string, unknown>;
      if (f.trnm === 'LOGIN') ws.send(JSON.stringify({ trnm: 'LOGIN', return_code: 0, return_msg: '' }));
      else if (f.trnm === 'CNSRLST') ws.send(JSON.stringify({ trnm: 'CNSRLST', return_code: 0, return_msg: '', data: [['7', 'nxt-movers']] }));
      else if (f.trnm === 'CNSRREQ') {
        searches.push(f);
        ws.send(JSON.stringify({ trnm: 'CNSRREQ', return_code: 0, return_msg: '', seq: f.seq, data: [] }));
      } else if (f.trnm === 'REG' || f.trnm === 'REMOVE') ws.send(JSON.stringify({ trnm: f.trnm, return_code: 0, return_msg: '' }));
    });
  });
  const port = (wss.address() as AddressInfo).port;

  const lease = (): BrokerLease => ({
    token: Buffer.from('upstream-token'),
    key: 'k1',
    fingerprint: 'fp',
    renewAt: Date.now() + 3_600_000,
    release() {},
    invalidate() {},
  });
  let logins = 0;
  let hub: KeyHub | undefined;
  const link = new UpstreamLink(
    { url: `ws://127.0.0.1:${port}`, connectTimeoutMs: 5_000, requestTimeoutMs: 5_000, reconnectBaseMs: 20, reconnectMaxMs: 200, maxFrameBytes: 1 << 20 },
    async () => lease(),
    {
      push: (f) => hub?.route(f),
      up: () => {
        logins++;
        void hub?.replay();
      },
      down: () => undefined,
    },
    logger,
  );
  hub = new KeyHub('k1', link, { lingerMs: 60_000, onIdle: () => undefined }, logger);
  t.teardown(() => hub!.close());
  link.start();
  hub.attach({ id: 'bot-1', botId: 'bot-1', account: '8888000011', send: () => undefined });

  const reply = await hub.conditionRequest('bot-1', '7', true, { trnm: 'CNSRREQ', seq: '7', search_type: '1', stex_tp: 'N' });
  t.equal(reply.return_code, 0);
  t.equal(searches.length, 1);
  t.equal(searches[0]!.stex_tp, 'N', 'the bot asked for NXT');

  current!.terminate();
  await waitFor(() => logins >= 2 && searches.length >= 2, 10_000, 'the search replayed after the upstream came back');
  t.match(searches[1], { trnm: 'CNSRREQ', seq: '7', search_type: '1' });
  t.equal(searches[1]!.stex_tp, 'N', 'replayed on the market the bot asked for, not silently on KRX');
});
