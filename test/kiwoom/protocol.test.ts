// proxy/kiwoom/protocol: one answer for Kiwoom's numbers, stock codes, Korea
// time and the sidecar's own inquiry bodies, where the parts' former copies
// disagreed ("-5" was NaN to the policy and 5 to the risk engine; weekday 0
// was Monday in policy and Sunday in risk; A005930 was a different code to the
// simulator). The consumers are checked against the same answers.
import t from 'tap';
import {
  BALANCE,
  DAY_MS,
  FILLS,
  KST_OFFSET_MS,
  OPEN_ORDERS,
  baseCode,
  cancelAllBody,
  formatExpiresDt,
  formatHhmmss,
  hhmmssToEpoch,
  isMarketPriced,
  isStockCode,
  kiwoomNumber,
  kiwoomPrice,
  kiwoomQuantity,
  msUntilSeoulMidnight,
  orderPrice,
  orderQuantity,
  parseExpiresDt,
  seoulDate,
  seoulDay,
  seoulMidnight,
  seoulParts,
  seoulTimeOfDay,
  seoulToEpoch,
  seoulWeekday,
  venueOfCode,
} from '../../proxy/kiwoom/protocol/index.js';
import * as kst from '../../proxy/common/kst.js';
import { seoulDay as stateSeoulDay, msUntilSeoulMidnight as stateMsUntil } from '../../proxy/state/index.js';
import { lookupApi } from '../../proxy/kiwoom/catalogue.js';
import type { BrokerGateway, CallTr } from '../../proxy/kiwoom/gateway.js';
import { callFacts } from '../../proxy/policy/facts.js';
import type { PolicyCall } from '../../proxy/policy/types.js';
import { hourOfWeek, symbolOf } from '../../proxy/risk/baseline.js';
import { holdingsFromBalance, kiwoomSession } from '../../proxy/response/kiwoom-session.js';
import { addBusinessDays } from '../../proxy/response/incident.js';
import { createMarketData } from '../../proxy/server/market.js';
import { Market } from '../../proxy/sim/market.js';

t.test('numbers: zero-padded signed response strings', async (t) => {
  t.equal(kiwoomNumber('+74100'), 74100);
  t.equal(kiwoomNumber('-00000000196888'), -196888);
  t.equal(kiwoomNumber('000000017598258'), 17598258);
  t.equal(kiwoomNumber(' 42 '), 42);
  t.equal(kiwoomNumber(7), 7);
  for (const bad of ['', '  ', 'abc', undefined, null, Number.NaN, Infinity, {}]) t.equal(kiwoomNumber(bad), undefined, `${String(bad)} is no number`);

  t.equal(kiwoomPrice('+74100'), 74100, 'a price sign is the change direction');
  t.equal(kiwoomPrice('-73900'), 73900, 'a falling price is still a positive price');
  t.equal(kiwoomPrice('74000'), 74000);
  t.equal(kiwoomPrice(''), undefined);

  t.equal(kiwoomQuantity('000000000015'), 15);
  t.equal(kiwoomQuantity('-5'), undefined, 'a response quantity is never negative');
  t.equal(kiwoomQuantity('1.5'), undefined, 'nor fractional');
  t.ok(Object.is(kiwoomQuantity('-0'), 0), '"-0" is 0, not -0');
});

t.test('numbers: order quantities and prices from a bot', async (t) => {
  t.ok(Number.isNaN(orderQuantity('-5')), '"-5" is not an order quantity (policy and risk alike)');
  t.ok(Number.isNaN(orderQuantity('+5')), 'nor is "+5"');
  t.ok(Number.isNaN(orderQuantity('1.5')));
  t.ok(Number.isNaN(orderQuantity('')));
  t.equal(orderQuantity('10'), 10);
  t.equal(orderQuantity('000010'), 10);
  for (const spaced of [' 10', '10 ', '\t10', '\u300010', '10\u00a0'])
    t.ok(Number.isNaN(orderQuantity(spaced)), `${JSON.stringify(spaced)}: spaced is malformed`);
  t.ok(Number.isNaN(orderPrice(' 70000')), 'a spaced price is malformed');
  t.ok(Number.isNaN(orderPrice(' ')), 'a blank price is not an empty one');
  t.equal(orderQuantity('0'), 0, 'cncl_qty "0" = all remaining');
  t.equal(orderQuantity(10), 10, 'a JSON number as written');
  t.equal(orderQuantity(undefined), undefined, 'absent');
  t.equal(orderQuantity(true), undefined, 'not text: absent');

  t.equal(orderPrice('70000'), 70000);
  t.equal(orderPrice('70000.5'), 70000.5);
  t.equal(orderPrice(''), undefined, 'market order');
  t.equal(orderPrice('000'), undefined, 'zero: market order');
  t.ok(Number.isNaN(orderPrice('-70000')), 'a signed order price is malformed');
  t.ok(Number.isNaN(orderPrice('+70000')));
  t.ok(Number.isNaN(orderPrice('1.23456')));

  t.ok(isMarketPriced('3'), 'market (시장가)');
  t.ok(isMarketPriced(' 6 '), 'best limit');
  t.ok(isMarketPriced(13), 'a JSON number as written');
  t.notOk(isMarketPriced('0'), 'limit (보통)');
  t.notOk(isMarketPriced('5'), 'conditional limit carries its price');
  t.notOk(isMarketPriced(undefined));
});

t.test('codes: one instrument, every spelling', async (t) => {
  for (const c of ['005930', 'A005930', '005930_NX', '005930_AL', ' a005930 ', '005930_XX']) t.equal(baseCode(c), '005930', c);
  t.equal(baseCode('M04020000'), 'M04020000', 'gold');
  t.equal(baseCode('A12345'), 'A12345', 'a 6-character code starting with A is itself');
  t.equal(venueOfCode('005930'), 'KRX');
  t.equal(venueOfCode('005930_NX'), 'NXT');
  t.equal(venueOfCode('005930_AL'), 'SOR');
  t.ok(isStockCode('005930_NX'));
  t.ok(isStockCode('M04020000'));
  t.notOk(isStockCode('005930_XX'));
  t.notOk(isStockCode('00593'));

  // The consumers agree.
  const facts = (stk_cd: string) => callFacts(call('kt10000', { dmst_stex_tp: 'KRX', stk_cd, ord_qty: '1', ord_uv: '70000', trde_tp: '0' }), 0).symbol;
  for (const c of ['A005930', '005930_NX', '005930_AL']) {
    t.equal(facts(c), '005930', `policy: ${c}`);
    t.equal(symbolOf(c), '005930', `risk: ${c}`);
  }
  const m = new Market();
  t.equal(m.price('A005930'), m.price('005930'), 'sim: A005930 is Samsung Electronics too');
  t.equal(m.price('005930_NX'), m.price('005930'), 'sim: the NXT code shares the quote');
});

t.test('policy: order fields go through the protocol rules', async (t) => {
  const f = callFacts(call('kt10000', { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '-5', ord_uv: '-70000', trde_tp: '0' }), 0);
  t.ok(Number.isNaN(f.quantity), '"-5" is NaN to the policy');
  t.ok(Number.isNaN(f.limitPrice));
  const c = callFacts(call('kt10003', { dmst_stex_tp: 'KRX', orig_ord_no: '0000138', stk_cd: '005930', cncl_qty: '0' }), 0);
  t.equal(c.quantity, 0);
});

t.test('time: KST is UTC+9, weekday 0 = Sunday', async (t) => {
  t.equal(KST_OFFSET_MS, 9 * 3_600_000);
  t.equal(DAY_MS, 86_400_000);
  // Sunday 15:30 in UTC is Monday 00:30 in Seoul.
  const t0 = Date.parse('2026-01-04T15:30:00Z');
  t.equal(new Date(t0).getUTCDay(), 0, 'UTC: Sunday');
  t.equal(seoulWeekday(t0), 1, 'Seoul: Monday');
  t.equal(seoulDate(t0), '2026-01-05');
  t.equal(seoulDay(t0), '20260105');
  t.equal(seoulTimeOfDay(t0), 30 * 60_000);
  t.same(seoulParts(t0), { date: '2026-01-05', year: 2026, month: 1, day: 5, hour: 0, minute: 30, second: 0, weekday: 1, msOfDay: 30 * 60_000 });
  t.equal(seoulMidnight(t0), Date.parse('2026-01-04T15:00:00Z'));
  t.equal(msUntilSeoulMidnight(t0), DAY_MS - 30 * 60_000);
  t.equal(seoulToEpoch('2026-01-05', 0, 30), t0);
  t.equal(seoulWeekday(Date.parse('2026-01-04T14:59:59.999Z')), 0, 'a millisecond before: Sunday in Seoul');
  t.equal(callFacts(call('ka10001', { stk_cd: '005930' }), t0).weekday, 1, 'policy facts: Monday');
  t.equal(hourOfWeek(t0), 24, 'risk: Monday 00h is hour-of-week 24 (Sunday = 0..23)');
  t.equal(addBusinessDays(t0, 1, new Set()), '2026-01-06', 'response: Monday 00:30 Seoul + 1 business day is Tuesday');
  t.equal(addBusinessDays(Date.parse('2026-01-02T15:30:00Z'), 1, new Set()), '2026-01-05', 'Saturday 00:30 Seoul + 1 business day is Monday');
  // Every day of one week, checked against Date#getUTCDay on the shifted instant.
  for (let d = 0; d < 7; d++) {
    const at = t0 + d * DAY_MS;
    t.equal(seoulWeekday(at), new Date(at + KST_OFFSET_MS).getUTCDay());
  }
  t.equal(stateSeoulDay, seoulDay, 'state re-exports the same function');
  t.equal(stateMsUntil, kst.msUntilSeoulMidnight);
  t.equal(msUntilSeoulMidnight, kst.msUntilSeoulMidnight, 'the protocol re-exports common/kst');
});

t.test('time: expires_dt and HHmmss', async (t) => {
  const at = parseExpiresDt('20241107083713');
  t.equal(at?.toISOString(), '2024-11-06T23:37:13.000Z', 'Korea time');
  t.equal(formatExpiresDt(at!), '20241107083713', 'round trip');
  t.equal(formatExpiresDt(at!.getTime()), '20241107083713', 'epoch ms too');
  t.equal(formatExpiresDt(parseExpiresDt('20251231235959')!), '20251231235959', 'year end');
  for (const bad of ['2024110708371', '20241107083713Z', '', 20241107083713, undefined]) t.equal(parseExpiresDt(bad), undefined, String(bad));
  t.equal(formatHhmmss(Date.parse('2026-01-04T15:30:05Z')), '003005');
  const now = Date.parse('2026-01-05T06:00:00Z'); // 15:00 in Seoul
  t.equal(hhmmssToEpoch('090000', now), Date.parse('2026-01-05T00:00:00Z'));
  t.equal(hhmmssToEpoch(formatHhmmss(now), now), now);
  t.equal(hhmmssToEpoch('9000', now), undefined);
});

t.test('bodies: ka10075, kt00018, ka10076, kt10003', async (t) => {
  t.has(OPEN_ORDERS, { apiId: 'ka10075', listField: 'oso' });
  t.same(OPEN_ORDERS.body(), { all_stk_tp: '0', trde_tp: '0', stk_cd: '', stex_tp: '0' });
  t.same(BALANCE.body(), { qry_tp: '1', dmst_stex_tp: 'KRX' });
  t.equal(BALANCE.apiId, 'kt00018');
  t.equal(BALANCE.listField, 'acnt_evlt_remn_indv_tot');
  t.same(FILLS.body(), { stk_cd: '', qry_tp: '0', sell_tp: '0', ord_no: '', stex_tp: '0' });
  t.equal(FILLS.apiId, 'ka10076');
  t.not(OPEN_ORDERS.body(), OPEN_ORDERS.body(), 'a fresh object each time');
  t.same(cancelAllBody({ exchange: 'NXT', ordNo: '0000138', stkCd: '005930_NX' }), {
    dmst_stex_tp: 'NXT',
    orig_ord_no: '0000138',
    stk_cd: '005930_NX',
    cncl_qty: '0',
  });
  for (const q of [OPEN_ORDERS, BALANCE, FILLS]) {
    const entry = lookupApi(q.apiId);
    t.ok(entry, `${q.apiId} is in the catalogue`);
    for (const field of entry?.requiredFields ?? []) t.ok(field in q.body(), `${q.apiId} sends ${field}`);
  }

  // server/market.ts and response/kiwoom-session.ts send exactly these.
  const sent: { apiId: string; body: Record<string, unknown> }[] = [];
  const rows: Record<string, Record<string, unknown>[]> = {
    kt00018: [
      { stk_cd: 'A005930', rmnd_qty: '000000000000015', cur_prc: '-000000000080500', pur_pric: '000000000072050' },
      { stk_cd: 'A000660', rmnd_qty: '-5', cur_prc: '180000', pur_pric: '180000' },
    ],
    ka10075: [
      { ord_no: '0000138', stk_cd: '005930_NX', io_tp_nm: '+매수', ord_qty: '000000000010', oso_qty: '000000000004', ord_pric: '+74100', trde_tp: '보통' },
    ],
    ka10076: [{ ord_no: '0000139', stk_cd: '005930', io_tp_nm: '-매도', cntr_qty: '3', cntr_pric: '-73900', ord_tm: '090000' }],
  };
  const call: CallTr = async (apiId, body) => {
    sent.push({ apiId, body });
    return {
      status: 200,
      json: { return_code: 0, [{ kt00018: 'acnt_evlt_remn_indv_tot', ka10075: 'oso', ka10076: 'cntr' }[apiId] ?? 'x']: rows[apiId] ?? [], cur_prc: '-74100' },
    };
  };
  const gateway = { withSession: <T>(_bot: string, fn: (c: CallTr) => Promise<T>) => fn(call) } as unknown as BrokerGateway;
  const market = createMarketData(gateway);
  t.equal(await market.heldQuantity('bot', 'acct', '005930_AL'), 15, 'held quantity across spellings');
  t.equal(await market.heldQuantity('bot', 'acct', '000660'), 0, 'a negative rmnd_qty is not a quantity');
  t.equal(await market.openOrderCount('bot', 'acct'), 1);
  t.equal(await market.referencePrice('bot', '005930'), 74100, 'cur_prc "-74100" is the price 74100');
  const session = kiwoomSession(call, () => Date.parse('2026-01-05T06:00:00Z'));
  t.same(await session.listOpenOrders(), [
    { ordNo: '0000138', stkCd: '005930_NX', side: 'buy', qty: 10, remaining: 4, price: 74100, trdeTp: '보통', exchange: 'NXT' },
  ]);
  t.same(await session.fills(0), [{ ordNo: '0000139', stkCd: '005930', side: 'sell', qty: 3, price: 73900, at: Date.parse('2026-01-05T00:00:00Z') }]);
  t.same(await session.holdings(), [{ stkCd: '005930', qty: 15, price: 80500, avgPrice: 72050 }]);
  await session.cancel({ ordNo: '0000138', stkCd: '005930_NX', side: 'buy', qty: 10, remaining: 4, price: 74100, trdeTp: '0', exchange: 'NXT' });
  const bodies = new Map<string, string>();
  for (const s of sent) {
    const json = JSON.stringify(s.body);
    if (bodies.has(s.apiId)) t.equal(json, bodies.get(s.apiId), `${s.apiId}: one body from every caller`);
    bodies.set(s.apiId, json);
  }
  t.equal(bodies.get('ka10075'), JSON.stringify(OPEN_ORDERS.body()));
  t.equal(bodies.get('kt00018'), JSON.stringify(BALANCE.body()));
  t.equal(bodies.get('ka10076'), JSON.stringify(FILLS.body()));
  t.equal(bodies.get('kt10003'), JSON.stringify(cancelAllBody({ exchange: 'NXT', ordNo: '0000138', stkCd: '005930_NX' })));
  t.same(holdingsFromBalance([{ stk_cd: 'A005930', rmnd_qty: '10', cur_prc: '+74100', pur_pric: '-70000' }]), [
    { stkCd: '005930', qty: 10, price: 74100, avgPrice: 70000 },
  ]);
});

function call(apiId: string, body: Record<string, unknown>): PolicyCall {
  return { botId: 'bot', account: 'acct', apiId, entry: lookupApi(apiId), body } as PolicyCall;
}
