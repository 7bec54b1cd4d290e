// Risk on realtime condition searches through the real sidecar and the
// simulator's WebSocket: a warm bot that runs its live condition search every
// morning; a search it never ran is refused by the policy's risk rule (a
// WebSocket message cannot wait for approval), and the third such attempt
// locks the bot down (escalation): socket closed, bot locked, incident kept.
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

const sockets: BotSocket[] = [];
t.teardown(() => {
  for (const s of sockets) s.close();
});
async function connect(token: string): Promise<BotSocket> {
  const s = await connectBot(h.sidecar.realtimeUrl);
  sockets.push(s);
  const r = await s.login(token);
  if (r.return_code !== 0) throw new Error(`login failed: ${JSON.stringify(r)}`);
  return s;
}
const search = (seq: string) => ({ trnm: 'CNSRREQ', seq, search_type: '1', stex_tp: 'K' });
type Audited = Awaited<ReturnType<typeof readAuditRecords>>[number];
/** The first audit record that matches, once it is written. */
async function auditRecord(match: (r: Audited) => boolean): Promise<Audited | undefined> {
  let found: Audited | undefined;
  await waitFor(async () => (found = (await readAuditRecords(path.join(h.dataDir, 'audit'))).find(match)) !== undefined, 10_000, 'the audit record');
  return found;
}

t.test('a condition search the bot never ran is refused by the risk rule; the third locks the bot down', async (t) => {
  const token = await h.token();
  // Two mornings of the bot's routine: its live search on condition 1, quotes every five minutes, the search cleared.
  for (const day of ['2026-01-05', '2026-01-06']) {
    fakeNow = seoulToEpoch(day, 9, 0);
    const ws = await connect(token);
    ws.send(search('1'));
    t.equal((await ws.next((f) => f.trnm === 'CNSRREQ', 'its own live search')).return_code, 0);
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
  const ws = await connect(token);
  ws.send(search('1'));
  t.equal((await ws.next((f) => f.trnm === 'CNSRREQ', 'its own search, the third morning')).return_code, 0, 'the usual search passes');

  fakeNow += 60_000;
  ws.send(search('3'));
  const swapped = await ws.next((f) => f.trnm === 'CNSRREQ', 'a condition it never ran');
  t.not(swapped.return_code, 0, 'refused');
  t.match(String(swapped.return_msg), /KG3001.*builtin\.risk-step-up/, `the denial names the rule: ${swapped.return_msg}`);
  t.notOk(h.sim.triggerCondition('3').pushes > 0, 'nothing registered upstream for condition 3');
  // The refusal's audit record carries the judgement, as a REST call's does: kguard risk explain reads it.
  // The reply goes out before its audit record is written: wait for the record.
  const denied = await auditRecord((r) => String(r.type) === 'realtime.denied' && r.data.code === 'KG3001');
  t.ok(denied, 'the refusal is audited');
  const why = explanationOf(denied!, String(denied!.data.requestId));
  t.ok(why, 'with a request id and the risk judgement');
  t.match(formatExplanation(why!, 'en'), /condition\s+score 1\.00 x weight 0\.75 = 0\.75\s+이 봇이 실행한 적 없는 실시간 조건검색 3 \(실행한 조건: 1\)/);

  fakeNow += 60_000;
  ws.send(search('4'));
  t.match(String((await ws.next((f) => f.trnm === 'CNSRREQ', 'another')).return_msg), /builtin\.risk-step-up/);
  fakeNow += 60_000;
  ws.send(search('5'));
  const sys = await ws.next((f) => f.trnm === 'SYSTEM', 'the lockdown message');
  // The lockdown ends the bot's sessions at once: the socket closes on that (KG2007) or on the refusal (KG3008).
  t.match(String(sys.message), /KG2007|KG3008/, `locked down: ${sys.message}`);
  t.equal((await ws.closed).code, 4003, 'the socket is closed');
  const quote = await h.call('ka10001', { stk_cd: '005930' }, { token });
  t.not(quote.json.return_code, 0, `the bot's REST calls are refused too: ${quote.text}`);
  const admin = await h.adminToken('sec-lead', 'admin');
  // The incident record is written after the lockdown took effect: wait for it, do not race it.
  let incident: Record<string, unknown> | undefined;
  await waitFor(
    async () => {
      const r = await h.admin('GET', '/admin/v1/incidents', admin);
      incident = (r.json.incidents as Record<string, unknown>[] | undefined)?.[0];
      return incident !== undefined;
    },
    10_000,
    'the incident',
  );
  t.match(incident, { status: 'locked', automatic: true, bots: [h.botId] }, 'an automatic lockdown incident for the bot');
  t.match(String(incident?.reason), /escalation, condition/, `it keeps why: ${incident?.reason}`);
});

t.test('the allowlist comes first: a condition search the bot may never run is refused unscored', async (t) => {
  const id = 'rt-narrow';
  const ws = await connect(await h.addBot(id, ['kind:query', 'ka10172']));
  ws.send(search('1'));
  const live = await ws.next((f) => f.trnm === 'CNSRREQ', 'a live search it may not run');
  t.match(String(live.return_msg), /KG3002/, `refused by the allowlist: ${live.return_msg}`);
  const denied = await auditRecord((x) => String(x.type) === 'realtime.denied' && x.data.botId === id);
  t.ok(denied, 'audited');
  t.notOk(denied!.data.risk, 'with no risk judgement: the engine never saw it');
});
