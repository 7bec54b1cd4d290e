// A bot that watches its names over the WebSocket (REG 0B) has looked at them,
// as one that quotes them over REST has: through a real sidecar, its first
// order in a name it registered is a fresh name's (0.6, goes out), where an
// order in a name it never registered nor quoted is a new name's and is held.
// A registration held across days is looked at again each day (else its names
// would turn dormant under a bot that never let go of them); a removed one is not.
// Which REG items are stocks: registrationRiskInput.
import path from 'node:path';
import t from 'tap';
import pino from 'pino';
import type { RiskEngine } from '../../proxy/risk/index.js';
import { seoulToEpoch } from '../../proxy/risk/index.js';
import { createConditionRisk, registrationRiskInput } from '../../proxy/server/realtime-risk.js';
import { riskContributions } from '../helpers/audit-sidecar-log.js';
import { FIXTURES, waitFor } from '../helpers/harness.js';
import { RISK_START, warmTraderHarness } from '../helpers/risk-setups.js';
import { connectBot } from '../realtime/ws-client.js';

const BOUGHT = '900107';
const WATCHED = '900108';
const UNSEEN = '900109';

t.test('a name registered over the WebSocket is a fresh name at its first order, not a new one', async (t) => {
  const clock = { now: RISK_START };
  const { h, auditDir, token } = await warmTraderHarness(clock, {
    bought: BOUGHT,
    allowed: ['kind:query', 'kind:account', 'kind:order', 'kind:realtime'],
    policyFile: path.join(FIXTURES, 'policy-realtime.yaml'),
  });
  t.teardown(() => h.close());
  h.sim.setQuote(WATCHED, 1_000);
  h.sim.setQuote(UNSEEN, 1_000);
  const ws = await connectBot(h.sidecar.realtimeUrl);
  t.teardown(() => ws.close());
  t.equal((await ws.login(token)).return_code, 0, 'LOGIN');
  ws.send({ trnm: 'REG', grp_no: '1', refresh: '1', data: [{ item: [WATCHED], type: ['0B'] }] });
  const ack = await ws.next((f) => f.trnm === 'REG', 'REG ack');
  t.equal(ack.return_code, 0, `REG 0B: ${JSON.stringify(ack)}`);

  const buy = (code: string) => h.call('kt10000', { dmst_stex_tp: 'KRX', stk_cd: code, ord_qty: '10', ord_uv: '1000', trde_tp: '0' }, { token });
  clock.now += 60_000;
  const watched = await buy(WATCHED);
  t.equal(watched.json.return_code, 0, `the registered name's order goes out: ${watched.text}`);
  const [fresh] = await riskContributions(auditDir, String(watched.headers['x-kguard-request-id']), 'new_symbol');
  t.match(fresh, { score: 0.6, reason: `1분 전에 처음 보고 주문한 적 없는 종목 ${WATCHED}의 주문` }, 'a fresh name: seen a minute ago (the REG)');

  const unseen = await buy(UNSEEN);
  t.match(String(unseen.json.return_msg), /\[KG3004:/, `a name it never registered nor quoted is held: ${unseen.text}`);
  const [novel] = await riskContributions(auditDir, String(unseen.headers['x-kguard-request-id']), 'new_symbol');
  t.match(novel, { score: 1, reason: `이 봇이 거래하거나 조회한 적 없는 종목 ${UNSEEN}의 주문` });
});

t.test('a registration held across a Seoul midnight is learned again that day; a removed one is not', async (t) => {
  const clock = { now: RISK_START };
  const { h, token } = await warmTraderHarness(clock, {
    bought: BOUGHT,
    allowed: ['kind:query', 'kind:account', 'kind:order', 'kind:realtime'],
    policyFile: path.join(FIXTURES, 'policy-realtime.yaml'),
  });
  t.teardown(() => h.close());
  const lastCall = async (code: string): Promise<number | undefined> =>
    (JSON.parse((await h.sidecar.parts.store.get(`risk:baseline:${h.botId}`)) ?? '{}') as { symbols?: Record<string, number> }).symbols?.[code];
  const ws = await connectBot(h.sidecar.realtimeUrl);
  t.teardown(() => ws.close());
  t.equal((await ws.login(token)).return_code, 0, 'LOGIN');
  const registeredAt = clock.now;
  for (const [grp, code] of [
    ['1', WATCHED],
    ['2', UNSEEN],
  ]) {
    ws.send({ trnm: 'REG', grp_no: grp, refresh: '1', data: [{ item: [code], type: ['0B'] }] });
    t.equal((await ws.next((f) => f.trnm === 'REG', 'REG ack')).return_code, 0, `REG ${code}`);
  }
  ws.send({ trnm: 'REMOVE', grp_no: '2', refresh: '1', data: [{ item: [UNSEEN], type: ['0B'] }] });
  t.equal((await ws.next((f) => f.trnm === 'REMOVE', 'REMOVE ack')).return_code, 0, `REMOVE ${UNSEEN}`);
  await waitFor(async () => (await lastCall(UNSEEN)) === registeredAt, 10_000, 'both REGs learned');
  t.equal(await lastCall(WATCHED), registeredAt, 'learned at its REG');

  // Two days on, the socket still open: the next re-check learns what it still holds.
  clock.now += 2 * 86_400_000;
  await waitFor(async () => (await lastCall(WATCHED)) === clock.now, 10_000, 'the held registration learned again');
  t.equal(await lastCall(UNSEEN), registeredAt, 'the removed one is not');
});

t.test('the daily check learns once per Seoul day, from the first check past its midnight', async (t) => {
  let now = seoulToEpoch('2026-01-07', 23, 0);
  const learned: Array<{ at: number; watched: readonly string[] | undefined }> = [];
  const risk = createConditionRisk({
    risk: { learn: async (input) => void learned.push({ at: now, watched: input.watched }) } as Pick<RiskEngine, 'learn'> as never,
    responder: {} as never,
    policy: {} as never,
    clock: () => now,
    logger: pino({ level: 'silent' }),
  });
  let held = [{ type: '0B', item: WATCHED }];
  const check = risk.daily(() => ({ bot: { id: 'b1', account: 'a1' }, registered: held }), '10.0.0.5');
  await check();
  now = seoulToEpoch('2026-01-07', 23, 59, 59);
  await check();
  t.same(learned, [], 'nothing before midnight: the REG itself was learned');
  now = seoulToEpoch('2026-01-08', 0, 0, 1);
  await check();
  now = seoulToEpoch('2026-01-08', 15, 0);
  await check();
  t.same(learned, [{ at: seoulToEpoch('2026-01-08', 0, 0, 1), watched: [WATCHED] }], 'once, at the first check of the new day');
  held = [];
  now = seoulToEpoch('2026-01-11', 9, 0);
  await check();
  t.equal(learned.length, 1, 'nothing held: nothing to learn');
  held = [{ type: '0B', item: UNSEEN }];
  await check();
  t.equal(learned.length, 1, 'and that day is done');
});

t.test('the stocks of a REG: not account feeds, sectors, gold or the market clock; each once', async (t) => {
  const bot = { id: 'b1', account: 'a1' };
  const input = registrationRiskInput(
    bot,
    [
      { type: '0B', item: '005930' },
      { type: '0D', item: '005930' },
      { type: '0H', item: '000660_NX' },
      { type: '00', item: '' },
      { type: '0J', item: '001' },
      { type: '0I', item: 'MGD' },
      { type: '0s', item: '' },
      { type: '1h', item: '' },
    ],
    '10.0.0.5',
    1,
  );
  t.same(input, { botId: 'b1', account: 'a1', apiId: 'REG', kind: 'realtime', sourceIp: '10.0.0.5', now: 1, watched: ['005930', '000660_NX'] });
  t.equal(registrationRiskInput(bot, [{ type: '04', item: '' }], '10.0.0.5', 1), undefined, 'account feeds only: nothing to learn');
});
