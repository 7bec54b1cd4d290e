// Kiwoom answers control requests in order and names no request id, so the
// link pairs a reply with the oldest waiting request of the same trnm. When a
// request times out, its reply may still come later: paired with the next
// request, one bot would be handed the answer to another bot's condition
// search. A recording Kiwoom here holds one reply back until after the next
// request has been sent.
import t from 'tap';
import type { WebSocket } from 'ws';
import { waitFor } from '../helpers/harness.js';
import { hubOver, startRecordingKiwoom } from './recording-kiwoom.js';

const search = (seq: string) => ({ trnm: 'CNSRREQ', seq, search_type: '0', stex_tp: 'K' });
const answer = (seq: unknown) => JSON.stringify({ trnm: 'CNSRREQ', return_code: 0, return_msg: '', seq, data: [{ '9001': `A00000${String(seq)}` }] });

t.test('a reply that comes after its request timed out is never handed to the next request', async (t) => {
  let held: WebSocket | undefined;
  let heldSent = false;
  const kiwoom = await startRecordingKiwoom(
    t,
    (ws, f) => {
      if (f.trnm !== 'CNSRREQ') return;
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
    },
    [
      ['1', 'a'],
      ['2', 'b'],
    ],
  );
  const { hub, link } = hubOver(t, kiwoom, { requestTimeoutMs: 300 });
  hub.attach({ id: 'bot-1', botId: 'bot-1', account: '8888000011', send: () => undefined });
  hub.attach({ id: 'bot-2', botId: 'bot-2', account: '8888000011', send: () => undefined });

  // KG5002 (timed out), as a REST call that gets no answer in time; KG5003 is "response too large".
  await t.rejects(hub.conditionRequest('bot-1', '1', false, search('1')), { code: 'KG5002' }, "bot-1's search timed out");
  const second = await hub.conditionRequest('bot-2', '2', false, search('2')).catch((err: unknown) => err);
  if (second instanceof Error) t.match(second, { code: /^KG500/ }, 'bot-2 may be refused while the link re-synchronises');
  else t.same(second, JSON.parse(answer('2')), "bot-2 gets its own search's answer");
  t.not(JSON.stringify(second).includes('A000001'), true, "bot-2 is never handed bot-1's result");

  // The link is usable afterwards, and answers are paired again.
  await waitFor(() => link.up, 20_000, 'the link is up again');
  t.match(await hub.conditionRequest('bot-2', '2', false, search('2')), { seq: '2', data: [{ '9001': 'A000002' }] });
  t.ok(kiwoom.logins() >= 1);
});

t.test('a reply naming another seq is refused, and the link logs in afresh', async (t) => {
  let answered = 0;
  const kiwoom = await startRecordingKiwoom(
    t,
    (ws, f) => {
      if (f.trnm !== 'CNSRREQ') return;
      // The first answer names seq 4 (no request asked for it); later ones are right, with Kiwoom's padding.
      const seq = answered++ === 0 ? '4' : ` ${String(f.seq)} `;
      ws.send(JSON.stringify({ trnm: 'CNSRREQ', return_code: 0, return_msg: '', seq, data: [] }));
    },
    [['3', 'c']],
  );
  const { hub, link } = hubOver(t, kiwoom);
  hub.attach({ id: 'bot-1', botId: 'bot-1', account: '8888000011', send: () => undefined });
  // KG5005 (the answer does not fit the request), not KG5003 ("response too large").
  await t.rejects(hub.conditionRequest('bot-1', '3', false, search('3')), { code: 'KG5005' });
  await waitFor(() => kiwoom.logins() >= 2 && link.up, 20_000, 'logged in afresh');
  t.match(await hub.conditionRequest('bot-1', '3', false, search('3')), { return_code: 0, seq: ' 3 ' });
});
