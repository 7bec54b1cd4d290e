// The approval grace's size rule (proxy/risk/grace.ts): an order a size
// detector flags is covered only on the approved order's side, up to
// sizeFactor times its KRW, and its shares when it is the same stock. Shares
// of different stocks say nothing of each other: a rebalance's next buy of the
// same value in a dearer or cheaper name is the same decision.
import t from 'tap';
import { graceCovers, openGrace } from '../../proxy/risk/grace.js';
import type { Contribution, RiskInput } from '../../proxy/risk/types.js';

const IP = '10.0.0.5';
const order = (stkCd: string, qty: number, price: number | undefined, side: 'buy' | 'sell' = 'buy'): RiskInput => ({
  botId: 'b1',
  account: '5555-01',
  apiId: side === 'buy' ? 'kt10000' : 'kt10001',
  kind: 'order',
  side,
  stkCd,
  qty,
  ...(price !== undefined ? { price } : {}),
  sourceIp: IP,
  now: 0,
});
const flagged = (...detectors: string[]): Contribution[] =>
  detectors.map((d) => ({ detector: d, score: 1, weight: 0.8, contribution: 0.8, reason: d }) as Contribution);

// Approved: 19 shares at 264,500 (5,025,500 KRW), flagged by order_size and new_symbol.
const grace = openGrace(order('012330', 19, 264_500), 0, IP, ['order_size', 'new_symbol']);
const covers = (input: RiskInput, by = flagged('order_size', 'new_symbol'), factor = 1.25, source = IP) => graceCovers(grace, input, source, by, factor);

t.test('another stock of about the same value: covered, whatever its share count', async (t) => {
  t.ok(covers(order('066570', 53, 94_300)), '53 shares of a cheaper stock, 4,997,900 KRW');
  t.ok(covers(order('066570', 66, 94_300)), '6,223,800 KRW: within 1.25 times');
  t.notOk(covers(order('066570', 67, 94_300)), '6,318,100 KRW: past 1.25 times');
  t.notOk(covers(order('066570', 2000, 94_300)), 'two thousand shares');
  t.notOk(covers(order('066570', 67, 94_300), undefined, 1), 'sizeFactor 1: no more than the approved KRW');
});

t.test('the same stock: its shares are held to the factor too', async (t) => {
  t.ok(covers(order('012330', 19, 264_500)), 'the approved order again');
  t.ok(covers(order('012330', 23, 264_500)), '23 shares: within 1.25 times in shares and KRW');
  t.notOk(covers(order('012330', 24, 264_500)), '24 shares: past 1.25 times');
  t.notOk(covers(order('012330', 30, 150_000)), 'less KRW but more shares of the same stock');
});

t.test('other side, another kind, no price, another address, a new flag: not covered', async (t) => {
  t.notOk(covers(order('012330', 19, 264_500, 'sell')), 'a sell after an approved buy');
  t.notOk(covers({ ...order('012330', 19, 264_500), kind: 'modify', apiId: 'kt10002' }), 'a modify after an approved order');
  t.ok(covers(order('012330', 19, undefined)), 'no price, same stock, same shares');
  t.notOk(covers(order('066570', 19, undefined)), 'no price in another stock: shares do not compare');
  t.notOk(covers(order('012330', 19, 264_500), undefined, 1.25, '10.0.0.6'), 'from another address');
  t.notOk(covers(order('012330', 19, 264_500), flagged('order_size', 'location')), 'flagged by a detector the approved call was not');
  t.ok(covers(order('066570', 5000, 94_300), flagged('new_symbol')), 'no size detector flagged it: size is not the question');
});
