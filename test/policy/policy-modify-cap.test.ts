// A daily notional cap through the running sidecar and the simulator: a bot
// cannot place a cheap buy and re-price it up (kt10002) past its cap. The
// simulator answers a modify as Kiwoom does (its own order number, the
// original keeps what is left), and a modify of a modify is charged against
// the modify's terms.
import t from 'tap';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startHarness, FIXTURES, type Harness } from '../helpers/harness.js';

let h: Harness;
let dir: string;
t.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kguard-modify-cap-'));
  const policyFile = path.join(dir, 'policy.yaml');
  const open = await readFile(path.join(FIXTURES, 'policy-open.yaml'), 'utf8');
  await writeFile(policyFile, `${open}  - { id: buy-cap, type: daily-cap, maxBuyNotional: 1000000 }\n`);
  h = await startHarness({ policyFile });
  h.sim.setQuote('005930', 70_000);
});
t.teardown(async () => {
  await h?.close();
  await rm(dir, { recursive: true, force: true });
});

const buy = (qty: string, price: string) => ({ dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: qty, ord_uv: price, trde_tp: '0' });
const modify = (orig: string, qty: string, price: string) => ({ dmst_stex_tp: 'KRX', orig_ord_no: orig, stk_cd: '005930', mdfy_qty: qty, mdfy_uv: price });

t.test('a cheap buy re-priced up counts toward the daily buy cap', async (t) => {
  const token = await h.token();
  const placed = await h.call('kt10000', buy('10', '50000'), { token });
  t.equal(placed.json.return_code, 0, placed.text);
  const first = String(placed.json.ord_no);

  const up = await h.call('kt10002', modify(first, '10', '80000'), { token });
  t.match(up.json, { return_code: 0, base_orig_ord_no: first, mdfy_qty: '000000000010' }, up.text);
  const second = String(up.json.ord_no);
  t.not(second, first, 'the modify has its own order number');

  // Against the first modify's terms (80,000) this adds 100,000; against the first order's (50,000) it would add 400,000.
  const again = await h.call('kt10002', modify(second, '10', '90000'), { token });
  t.match(again.json, { return_code: 0, base_orig_ord_no: first }, again.text);

  // 500,000 + 300,000 + 100,000 used: 140,000 more is over the 1,000,000 cap.
  const denied = await h.call('kt10000', buy('2', '70000'), { token });
  t.equal(denied.status, 429, denied.text);
  t.match(String(denied.json.return_msg), /\[KG3005:rule=buy-cap .*사용 900,000원, 이 주문 140,000원/);
  t.equal(h.sim.requestLog().filter((r) => r.apiId === 'kt10000').length, 1, 'the denied buy never reached the simulator');
});
