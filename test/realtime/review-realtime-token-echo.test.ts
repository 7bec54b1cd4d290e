// Review regression: frames from Kiwoom's WebSocket were relayed to bots as
// they came, unlike REST answers (proxy/kiwoom/upstream.ts refuses an answer
// holding the broker token). A Kiwoom (or anything on its path) that echoes
// the LOGIN token — in a REAL push, a condition-search reply, or the
// return_msg of a refused REG, which became the detail of the bot's KG5009
// reply and of its realtime.denied audit record — handed the key's broker
// token to every bot of the key. Here a recording Kiwoom echoes the token
// everywhere it can; no bot frame, log line or audit record may hold it.
import t from 'tap';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { startHarness, FIXTURES, waitFor, type Harness } from '../helpers/harness.js';
import { readAuditRecords } from '../helpers/audit-sidecar-log.js';
import { connectBot, type BotSocket } from './ws-client.js';

t.test('a broker token echoed in any upstream frame never reaches a bot, a log or the audit', async (t) => {
  const tokens = new Set<string>();
  let logins = 0;
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  t.teardown(() => new Promise<void>((r) => wss.close(() => r())));
  wss.on('connection', (ws) => {
    let token = '';
    const real = (item: string, values: Record<string, string>) =>
      ws.send(JSON.stringify({ trnm: 'REAL', data: [{ type: '0B', name: '주식체결', item, values }] }));
    ws.on('message', (d) => {
      const f = JSON.parse(d.toString()) as Record<string, unknown>;
      switch (f.trnm) {
        case 'LOGIN':
          token = String(f.token);
          tokens.add(token);
          logins++;
          ws.send(JSON.stringify({ trnm: 'LOGIN', return_code: 0, return_msg: '', sor_yn: 'Y' }));
          return;
        case 'REG': {
          const items = (f.data as { item: string[] }[]).flatMap((e) => e.item);
          if (items.includes('000660')) {
            ws.send(JSON.stringify({ trnm: 'REG', return_code: 1, return_msg: `잘못된 요청입니다 token=${token}` }));
            return;
          }
          ws.send(JSON.stringify({ trnm: 'REG', return_code: 0, return_msg: '' }));
          // A push echoing the token, then a clean one the bot waits for.
          real('005930', { '10': '+60700', '9999': token });
          real('005930', { '10': '+60800', '20': 'clean' });
          return;
        }
        case 'REMOVE':
          ws.send(JSON.stringify({ trnm: 'REMOVE', return_code: 0, return_msg: '' }));
          return;
        case 'CNSRLST':
          ws.send(JSON.stringify({ trnm: 'CNSRLST', return_code: 0, return_msg: '', data: [['1', `cond ${token}`]] }));
          return;
        case 'CNSRREQ':
          ws.send(JSON.stringify({ trnm: 'CNSRREQ', return_code: 0, return_msg: `seq ok ${token}`, seq: f.seq, data: [] }));
          return;
        case 'CNSRCLR':
          ws.send(JSON.stringify({ trnm: 'CNSRCLR', return_code: 0, return_msg: '', seq: f.seq }));
          return;
      }
    });
  });
  const port = (wss.address() as AddressInfo).port;

  const h: Harness = await startHarness({
    sim: { wsQuoteIntervalMs: 0 } as never,
    allowed: ['kind:query', 'kind:account', 'kind:realtime'],
    policyFile: path.join(FIXTURES, 'policy-realtime.yaml'),
    config: { realtime: { url: `ws://127.0.0.1:${port}/api/dostk/websocket`, reconnectBaseMs: 20, reconnectMaxMs: 100 } },
  });
  t.teardown(() => h.close());
  const s: BotSocket = await connectBot(h.sidecar.realtimeUrl);
  t.teardown(() => s.close());
  t.equal((await s.login(await h.token())).return_code, 0);
  const ask = async (frame: Record<string, unknown>) => {
    s.send(frame);
    return s.next((f) => f.trnm === frame.trnm, `${String(frame.trnm)} reply`);
  };

  t.equal((await ask({ trnm: 'REG', grp_no: '1', refresh: '1', data: [{ item: ['005930'], type: ['0B'] }] })).return_code, 0);
  await s.next((f) => JSON.stringify(f).includes('clean'), 'the clean push after the echoing one');
  await waitFor(() => logins > 0, 10_000, 'upstream logged in');
  const list = await ask({ trnm: 'CNSRLST' });
  t.not(list.return_code, 0, `a condition list holding the token is refused: ${JSON.stringify(list).length} chars`);
  const search = await ask({ trnm: 'CNSRREQ', seq: '1', search_type: '0', stex_tp: 'K' });
  t.not(search.return_code, 0, 'a search reply holding the token is refused');
  const refused = await ask({ trnm: 'REG', grp_no: '1', refresh: '1', data: [{ item: ['000660'], type: ['0B'] }] });
  t.not(refused.return_code, 0, 'the refused REG is refused');
  for (const r of [list, search, refused]) t.match(String(r.return_msg), /KG5005/, 'the reply names the refused answer');
  t.notOk(
    s.frames.some((f) => JSON.stringify(f).includes('9999')),
    'the echoing push went to no bot (masked, it would still carry its field)',
  );
  // Replies are still paired with their requests afterwards.
  t.equal((await ask({ trnm: 'CNSRCLR', seq: '1' })).return_code, 0);
  t.equal((await ask({ trnm: 'REMOVE', grp_no: '1', data: [{ item: ['005930'], type: ['0B'] }] })).return_code, 0);

  t.ok(tokens.size > 0, 'the recording Kiwoom saw the broker token');
  const frames = s.frames.map((f) => JSON.stringify(f)).join('\n');
  const audit = JSON.stringify(await readAuditRecords(path.join(h.dataDir, 'audit')));
  for (const token of tokens) {
    t.notOk(frames.includes(token), 'no bot frame holds the broker token');
    t.notOk(h.logs().includes(token), 'no log line holds it');
    t.notOk(audit.includes(token), 'no audit record holds it');
  }
});
