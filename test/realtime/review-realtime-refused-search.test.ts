// A condition search Kiwoom refuses (no such condition) ran nothing, so the risk
// engine must not learn it as one the bot ran: otherwise a search probed once
// during the bot's first days passes later as "usual". The bot runs condition 1
// on two mornings and, on the first, also asks for condition 99, which Kiwoom
// refuses; on the third morning a condition it never ran is refused by the risk
// rule, and the reason lists the conditions it ran: 1 only.
import path from 'node:path';
import t from 'tap';
import { explanationOf, formatExplanation } from '../../proxy/cli/risk.js';
import { seoulToEpoch } from '../../proxy/risk/index.js';
import { readAuditRecords } from '../helpers/audit-sidecar-log.js';
import { FIXTURES, startHarness, waitFor } from '../helpers/harness.js';
import { connectBot, type BotSocket } from './ws-client.js';

let fakeNow = seoulToEpoch('2026-01-05', 9, 0);
const h = await startHarness({
  clock: () => fakeNow,
  sim: { wsQuoteIntervalMs: 3_600_000, wsPingIntervalMs: 200 } as never,
  allowed: ['kind:query', 'kind:account', 'kind:realtime'],
  policyFile: path.join(FIXTURES, 'policy-realtime.yaml'),
  config: { realtime: { pingIntervalMs: 200, recheckMs: 100, lingerMs: 200 } },
});
t.teardown(() => h.close());

const search = (seq: string) => ({ trnm: 'CNSRREQ', seq, search_type: '1', stex_tp: 'K' });

t.test('a condition search Kiwoom refused is not learned as one the bot ran', async (t) => {
  const token = await h.token();
  const sockets: BotSocket[] = [];
  t.teardown(() => {
    for (const s of sockets) s.close();
  });
  const connect = async (): Promise<BotSocket> => {
    const s = await connectBot(h.sidecar.realtimeUrl);
    sockets.push(s);
    t.equal((await s.login(token)).return_code, 0, 'logged in');
    return s;
  };
  for (const day of ['2026-01-05', '2026-01-06']) {
    fakeNow = seoulToEpoch(day, 9, 0);
    const ws = await connect();
    ws.send(search('1'));
    t.equal((await ws.next((f) => f.trnm === 'CNSRREQ' && f.seq === '1', 'its own live search')).return_code, 0);
    if (day === '2026-01-05') {
      ws.send(search('99'));
      const refused = await ws.next((f) => f.trnm === 'CNSRREQ' && f.seq === '99', 'a condition Kiwoom does not have');
      t.not(refused.return_code, 0, `Kiwoom refuses it: ${refused.return_msg}`);
      t.notMatch(String(refused.return_msg), /KG3001/, 'Kiwoom, not the sidecar, refused it (the bot is still warming up)');
    }
    for (let i = 0; i < 30; i++) {
      fakeNow = seoulToEpoch(day, 9, 1) + i * 5 * 60_000;
      const r = await h.call('ka10001', { stk_cd: '005930' }, { token });
      if (r.json.return_code !== 0) t.fail(`warm-up call refused: ${r.text}`);
    }
    ws.send({ trnm: 'CNSRCLR', seq: '1' });
    t.equal((await ws.next((f) => f.trnm === 'CNSRCLR', 'cleared')).return_code, 0);
    ws.close();
  }

  fakeNow = seoulToEpoch('2026-01-07', 9, 0);
  const ws = await connect();
  ws.send(search('3'));
  const swapped = await ws.next((f) => f.trnm === 'CNSRREQ', 'a condition it never ran');
  t.match(String(swapped.return_msg), /KG3001.*builtin\.risk-step-up/, `refused by the risk rule: ${swapped.return_msg}`);
  let denied: Awaited<ReturnType<typeof readAuditRecords>>[number] | undefined;
  await waitFor(
    async () => (denied = (await readAuditRecords(path.join(h.dataDir, 'audit'))).find((r) => String(r.type) === 'realtime.denied')) !== undefined,
    20_000,
    'the refusal audit record',
  );
  const why = explanationOf(denied!, String(denied!.data.requestId));
  const text = formatExplanation(why!, 'en');
  // The reason lists the conditions the bot ran; the rest of the text holds ids and numbers of its own.
  const ran = /실행한 조건: ([^)]*)\)/.exec(text)?.[1];
  t.equal(ran, '1', `the conditions it ran are condition 1 only, not the refused 99: ${text}`);
});
