// After an upstream drop the key's hub logs in again and replays what Kiwoom
// forgot. A live condition search must come back exactly as the bot asked
// for it: Kiwoom's CNSRREQ names the market (stex_tp K KRX, N NXT, A both),
// and the simulator accepts any of them, so this file stands a small
// recording Kiwoom in front of the hub to see the frames themselves.
import t from 'tap';
import type { WebSocket } from 'ws';
import { waitFor } from '../helpers/harness.js';
import { hubOver, startRecordingKiwoom } from './recording-kiwoom.js';

t.test('a live condition search is replayed after an upstream drop on the market the bot asked for', async (t) => {
  const searches: Record<string, unknown>[] = [];
  let current: WebSocket | undefined;
  const kiwoom = await startRecordingKiwoom(
    t,
    (ws, f) => {
      current = ws;
      if (f.trnm !== 'CNSRREQ') return;
      searches.push(f);
      ws.send(JSON.stringify({ trnm: 'CNSRREQ', return_code: 0, return_msg: '', seq: f.seq, data: [] }));
    },
    [['7', 'nxt-movers']],
  );
  let logins = 0;
  const { hub } = hubOver(t, kiwoom, {}, () => logins++);
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
