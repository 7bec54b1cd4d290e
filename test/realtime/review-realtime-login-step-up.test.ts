// A realtime LOGIN scoring above step-up but below lockdown went through: a stolen sidecar token used from a new
// address at night (location and time: 0.75 with the default weights) was answered return_code 0 and could register
// for the account's order and balance pushes (00, 04), where each of its REST calls would have been held for the
// owner's approval. A WebSocket LOGIN cannot wait for an approval: it is refused, naming the policy's risk rule, as
// a condition search above step-up is, and the bot is not locked down for it (a REST call from there is only held).
import path from 'node:path';
import t from 'tap';
import { seoulToEpoch } from '../../proxy/risk/index.js';
import { readAuditRecords } from '../helpers/audit-sidecar-log.js';
import { FIXTURES, startHarness, CANARY, waitFor } from '../helpers/harness.js';
import { connectBot } from './ws-client.js';

const NEW_ADDRESS = '127.0.0.3';
let fakeNow = seoulToEpoch('2026-01-05', 9, 0);
const h = await startHarness({
  clock: () => fakeNow,
  sim: { wsQuoteIntervalMs: 3_600_000 } as never,
  allowed: ['kind:query', 'kind:account', 'kind:realtime'],
  policyFile: path.join(FIXTURES, 'policy-realtime.yaml'),
});
t.teardown(() => h.close());

async function login(token: string, localAddress?: string) {
  const ws = await connectBot(h.sidecar.realtimeUrl, localAddress ? { localAddress } : {});
  t.teardown(() => ws.close());
  ws.send({ trnm: 'LOGIN', token });
  return { ws, reply: await ws.next((f) => f.trnm === 'LOGIN', 'LOGIN reply') };
}

t.test('a LOGIN from a new address at night is refused by the risk rule; the bot is not locked down', async (t) => {
  const token = await h.token();
  // Two mornings of the bot's routine from its own address: its socket, then quotes every five minutes.
  for (const day of ['2026-01-05', '2026-01-06']) {
    fakeNow = seoulToEpoch(day, 9, 0);
    const { ws, reply } = await login(token);
    t.equal(reply.return_code, 0, `its own morning login (${day})`);
    for (let i = 0; i < 30; i++) {
      fakeNow = seoulToEpoch(day, 9, 1) + i * 5 * 60_000;
      const r = await h.call('ka10001', { stk_cd: '005930' }, { token });
      if (r.json.return_code !== 0) t.fail(`warm-up call refused: ${r.text}`);
    }
    ws.close();
  }

  fakeNow = seoulToEpoch('2026-01-07', 2, 30);
  const { ws, reply } = await login(token, NEW_ADDRESS);
  t.not(reply.return_code, 0, 'not logged in');
  t.match(String(reply.return_msg), /KG3001.*builtin\.risk-step-up/, `the refusal names the rule: ${reply.return_msg}`);
  const score = Number(/위험 점수 ([0-9.]+)/.exec(String(reply.return_msg))?.[1]);
  t.ok(score > 0.7 && score < 0.95, `scored in the step-up band, not at lockdown (${score})`);
  t.equal((await ws.closed).code, 4001, 'the socket is closed as a refused LOGIN (4001)');
  t.notOk(await h.sidecar.parts.responder.lockedBy(h.botId, CANARY.account), 'the bot is not locked down');
  // The refusal is audited with the rule that refused it; the record is written after the reply: wait for it.
  let refusedRecord: Awaited<ReturnType<typeof readAuditRecords>>[number] | undefined;
  await waitFor(
    async () =>
      (refusedRecord = (await readAuditRecords(path.join(h.dataDir, 'audit'))).find((r) => String(r.type) === 'realtime.login_refused')) !== undefined,
    10_000,
    'the refusal record',
  );
  t.match(refusedRecord?.data, { code: 'KG3001', detail: /^rule=builtin\.risk-step-up /, sourceIp: /127\.0\.0\.3$/ }, 'audited with the rule');

  fakeNow = seoulToEpoch('2026-01-07', 9, 0);
  const again = await login(token);
  t.equal(again.reply.return_code, 0, 'the bot logs in as usual from its own address in the morning');
});
