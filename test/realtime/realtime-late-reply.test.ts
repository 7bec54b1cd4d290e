// Kiwoom answers control requests in order and names no request id, so the
// link pairs a reply with the oldest waiting request of the same trnm. When a
// request times out, its reply may still come later: paired with the next
// request, one bot would be handed the answer to another bot's condition
// search. This file stands a recording Kiwoom in front of the hub that holds
// one reply back until after the next request has been sent.
import t from 'tap';
import { pino } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AddressInfo } from 'node:net';
import { KeyHub } from '../../proxy/kiwoom/realtime/hub.js';
import { UpstreamLink } from '../../proxy/kiwoom/realtime/link.js';
import type { BrokerLease } from '../../proxy/kiwoom/session-types.js';
import { waitFor } from '../helpers/harness.js';

const logger = pino({ level: 'silent' });

t.test('a reply that comes after its request timed out is never handed to the next request', async (t) => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  t.teardown(() => new Promise<void>((r) => wss.close(() => r())));
  let held: WebSocket | undefined;
  let heldSent = false;
  let logins = 0;
  const searches: string[] = [];
  wss.on('connection', (ws) => {
    ws.on('message', (d) => {
      const f = JSON.parse(d.toString()) as Record<string, unknown>;
      if (f.trnm === 'LOGIN') {
        logins++;
        ws.send(JSON.stringify({ trnm: 'LOGIN', return_code: 0, return_msg: '' }));
      } else if (f.trnm === 'CNSRLST')
        ws.send(
          JSON.stringify({
            trnm: 'CNSRLST',
            return_code: 0,
            return_msg: '',
            data: [
              ['1', 'a'],
              ['2', 'b'],
            ],
          }),
        );
      else if (f.trnm === 'CNSRREQ') {
        searches.push(String(f.seq));
        const answer = (seq: unknown) => JSON.stringify({ trnm: 'CNSRREQ', return_code: 0, return_msg: '', seq, data: [{ '9001': `A00000${String(seq)}` }] });
        if (f.seq === '1' && held === undefined) {
          held = ws;
          return;
        }
        // The late answer to seq 1 goes out first (if that socket is still open), then this one: Kiwoom's order.
        if (held && !heldSent) {
          heldSent = true;
          held.send(answer('1'));
        }
        ws.send(answer(f.seq));
      }
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
  let hub: KeyHub | undefined;
  const link = new UpstreamLink(
    { url: `ws://127.0.0.1:${port}`, connectTimeoutMs: 5_000, requestTimeoutMs: 300, reconnectBaseMs: 20, reconnectMaxMs: 200, maxFrameBytes: 1 << 20 },
    async () => lease(),
    { push: (f) => hub?.route(f), up: () => void hub?.replay(), down: () => undefined },
    logger,
  );
  hub = new KeyHub('k1', link, { lingerMs: 60_000, onIdle: () => undefined }, logger);
  t.teardown(() => hub!.close());
  link.start();
  hub.attach({ id: 'bot-1', botId: 'bot-1', account: '8888000011', send: () => undefined });
  hub.attach({ id: 'bot-2', botId: 'bot-2', account: '8888000011', send: () => undefined });

  await t.rejects(
    hub.conditionRequest('bot-1', '1', false, { trnm: 'CNSRREQ', seq: '1', search_type: '0', stex_tp: 'K' }),
    { code: 'KG5003' },
    "bot-1's search timed out",
  );
  const second = await hub.conditionRequest('bot-2', '2', false, { trnm: 'CNSRREQ', seq: '2', search_type: '0', stex_tp: 'K' }).catch((err: unknown) => err);
  if (second instanceof Error) t.match(second, { code: /^KG500/ }, 'bot-2 may be refused while the link re-synchronises');
  else t.same(second, { trnm: 'CNSRREQ', return_code: 0, return_msg: '', seq: '2', data: [{ '9001': 'A000002' }] }, "bot-2 gets its own search's answer");
  t.not(JSON.stringify(second).includes('A000001'), true, "bot-2 is never handed bot-1's result");

  // The link is usable afterwards, and answers are paired again.
  await waitFor(() => link.up, 5_000, 'the link is up again');
  const third = await hub.conditionRequest('bot-2', '2', false, { trnm: 'CNSRREQ', seq: '2', search_type: '0', stex_tp: 'K' });
  t.match(third, { seq: '2', data: [{ '9001': 'A000002' }] });
  t.ok(searches.length >= 2 && logins >= 1);
});

t.test('a reply naming another seq is refused, and the link logs in afresh', async (t) => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  t.teardown(() => new Promise<void>((r) => wss.close(() => r())));
  let logins = 0;
  let answered = 0;
  wss.on('connection', (ws) => {
    ws.on('message', (d) => {
      const f = JSON.parse(d.toString()) as Record<string, unknown>;
      if (f.trnm === 'LOGIN') {
        logins++;
        ws.send(JSON.stringify({ trnm: 'LOGIN', return_code: 0, return_msg: '' }));
      } else if (f.trnm === 'CNSRLST') ws.send(JSON.stringify({ trnm: 'CNSRLST', return_code: 0, return_msg: '', data: [['3', 'c']] }));
      else if (f.trnm === 'CNSRREQ') {
        // The first answer names seq 4 (no request asked for it); later ones are right, with Kiwoom's padding.
        const seq = answered++ === 0 ? '4' : ` ${String(f.seq)} `;
        ws.send(JSON.stringify({ trnm: 'CNSRREQ', return_code: 0, return_msg: '', seq, data: [] }));
      }
    });
  });
  const port = (wss.address() as AddressInfo).port;
  let hub: KeyHub | undefined;
  const link = new UpstreamLink(
    { url: `ws://127.0.0.1:${port}`, connectTimeoutMs: 5_000, requestTimeoutMs: 5_000, reconnectBaseMs: 20, reconnectMaxMs: 200, maxFrameBytes: 1 << 20 },
    async () => ({ token: Buffer.from('upstream-token'), key: 'k1', fingerprint: 'fp', renewAt: Date.now() + 3_600_000, release() {}, invalidate() {} }),
    { push: (f) => hub?.route(f), up: () => void hub?.replay(), down: () => undefined },
    logger,
  );
  hub = new KeyHub('k1', link, { lingerMs: 60_000, onIdle: () => undefined }, logger);
  t.teardown(() => hub!.close());
  link.start();
  hub.attach({ id: 'bot-1', botId: 'bot-1', account: '8888000011', send: () => undefined });
  await t.rejects(hub.conditionRequest('bot-1', '3', false, { trnm: 'CNSRREQ', seq: '3', search_type: '0', stex_tp: 'K' }), { code: 'KG5003' });
  await waitFor(() => logins >= 2 && link.up, 5_000, 'logged in afresh');
  t.match(await hub.conditionRequest('bot-1', '3', false, { trnm: 'CNSRREQ', seq: '3', search_type: '0', stex_tp: 'K' }), { return_code: 0, seq: ' 3 ' });
});
