// After-hours closing-price orders (trde_tp 61 장시작전시간외, 81 장마감후시간외) trade at the close, so Kiwoom
// takes them without a price: its own order documentation says "시장가, 최유리지정가, 최우선지정가, 시장가IOC,
// 최유리IOC, 시장가FOK, 최유리FOK, 장전시간외, 장후시간외 주문시 주문가격을 입력하지 않습니다", and the sidecar's
// protocol module prices them as market-priced (isMarketPriced). The simulator refused them with 308003
// (주문단가를 입력하십시요), so a bot's after-hours code could not be tested against it. The after-hours single
// price (62) is a limit order and still needs its price.
import t from 'tap';
import { startSimulator } from '../../proxy/sim/index.js';
import { isMarketPriced } from '../../proxy/kiwoom/protocol/index.js';
import { issueToken, tr } from '../helpers/sim.js';

const APP = { appKey: 'app-key-closing-price', secretKey: Buffer.from('secret-closing-price'), accountNo: '5012340001' };

t.test('closing-price orders go without a price; the single-price session needs one', async (t) => {
  let now = Date.now();
  const sim = await startSimulator({ now: () => (now += 1000) });
  t.teardown(() => sim.close());
  sim.registerApp({ ...APP, cash: 10_000_000, holdings: [{ stkCd: '005930', qty: 10, avgPrice: 70000 }] });
  const tok = await issueToken(sim.url, APP.appKey, 'secret-closing-price');
  const order = (apiId: string, trdeTp: string, ordUv: string, qty = '2') =>
    tr(sim.url, tok, apiId, 'ordr', { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: qty, ord_uv: ordUv, trde_tp: trdeTp });

  t.ok(isMarketPriced('61') && isMarketPriced('81'), 'the protocol module takes them as priced by the market');
  const post = await order('kt10000', '81', '');
  t.match(post.json, { return_code: 0, dmst_stex_tp: 'KRX', ord_no: /^\d{7}$/ }, '81 without a price is accepted');
  const pre = await order('kt10001', '61', '', '1');
  t.match(pre.json, { return_code: 0, ord_no: /^\d{7}$/ }, '61 without a price is accepted');
  const orders = sim.orders(APP.accountNo);
  t.match(
    orders.find((o) => o.ordNo === post.json.ord_no),
    { status: 'filled', fillPrice: 74100 },
    'traded at the close (the quote)',
  );
  t.match(
    orders.find((o) => o.ordNo === pre.json.ord_no),
    { status: 'filled' },
  );
  t.same(sim.account(APP.accountNo)?.holdings, [{ stkCd: '005930', qty: 11, avgPrice: (10 * 70000 + 2 * 74100) / 12 }]);

  const single = await order('kt10000', '62', '');
  t.match(single.json, { return_code: 20, return_msg: /308003/ }, '62 without a price is refused, as a limit order is');
  const priced = await order('kt10000', '62', '73000');
  t.equal(priced.json.return_code, 0, '62 with a price rests');
  t.equal(sim.orders(APP.accountNo).find((o) => o.ordNo === priced.json.ord_no)?.status, 'open');
});
