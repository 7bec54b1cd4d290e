// `when.sides` through the running sidecar and the simulator: a modify
// (kt10002 정정) has no side in its body, so it is judged as the order it
// names. A bot cannot place a small buy that passes a buy-only size rule and
// re-price it past the rule; a modify of a sell is not caught by a buy rule;
// and a modify of an order the sidecar never forwarded (placed elsewhere) is
// judged by the rules of both sides, the denial saying why.
import t from 'tap';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startHarness, CANARY, FIXTURES, type Harness } from '../helpers/harness.js';
import { issueToken, tr } from '../helpers/sim.js';

let h: Harness;
let dir: string;
t.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kguard-modify-sides-'));
  const policyFile = path.join(dir, 'policy.yaml');
  const open = await readFile(path.join(FIXTURES, 'policy-open.yaml'), 'utf8');
  await writeFile(
    policyFile,
    `${open}  - { id: buy-size, type: order-size, maxNotional: 1000000, when: { sides: [buy] } }\n` +
      `  - { id: no-sells-000660, type: deny-symbols, symbols: ["000660"], when: { sides: [sell] } }\n`,
  );
  // Ideal mode: the orders placed straight at the simulator are not refused by its per-key rate limit.
  h = await startHarness({ policyFile, sim: { ideal: true } });
  h.sim.setQuote('005930', 70_000);
  h.sim.setQuote('000660', 200_000);
});
t.teardown(async () => {
  await h?.close();
  await rm(dir, { recursive: true, force: true });
});

const order = (stk: string, qty: string, price: string) => ({ dmst_stex_tp: 'KRX', stk_cd: stk, ord_qty: qty, ord_uv: price, trde_tp: '0' });
const modify = (orig: string, stk: string, qty: string, price: string) => ({
  dmst_stex_tp: 'KRX',
  orig_ord_no: orig,
  stk_cd: stk,
  mdfy_qty: qty,
  mdfy_uv: price,
});
const modifiesSent = () => h.sim.requestLog().filter((r) => r.apiId === 'kt10002').length;

t.test('a small buy re-priced past a buy-only size rule is refused by that rule', async (t) => {
  const token = await h.token();
  const placed = await h.call('kt10000', order('005930', '10', '50000'), { token });
  t.equal(placed.json.return_code, 0, placed.text);
  const sent = modifiesSent();

  // 10 × 150,000 = 1,500,000: a buy that size is over the rule, and so is the modify of one.
  const up = await h.call('kt10002', modify(String(placed.json.ord_no), '005930', '10', '150000'), { token });
  t.equal(up.status, 403, up.text);
  t.match(String(up.json.return_msg), /\[KG3001:rule=buy-size .*1,500,000/);
  t.equal(modifiesSent(), sent, 'the modify never reached the simulator');
});

t.test('a modify of a sell is not judged by a buy rule', async (t) => {
  const token = await h.token();
  const placed = await h.call('kt10001', order('005930', '10', '90000'), { token });
  t.equal(placed.json.return_code, 0, placed.text);
  const up = await h.call('kt10002', modify(String(placed.json.ord_no), '005930', '10', '150000'), { token });
  t.equal(up.json.return_code, 0, up.text);
});

t.test('a modify of a buy is not judged by a sell rule', async (t) => {
  const token = await h.token();
  const placed = await h.call('kt10000', order('000660', '1', '150000'), { token });
  t.equal(placed.json.return_code, 0, placed.text);
  const down = await h.call('kt10002', modify(String(placed.json.ord_no), '000660', '1', '140000'), { token });
  t.equal(down.json.return_code, 0, down.text);
});

t.test('a modify of an order the sidecar never forwarded is judged by the rules of both sides', async (t) => {
  // Placed straight at the broker (another tool, or before this sidecar), so the sidecar has no record of it.
  const direct = await issueToken(h.sim.url, CANARY.appKey, CANARY.secretKey);
  const elsewhere = await tr(h.sim.url, direct, 'kt10000', 'ordr', order('005930', '10', '50000'));
  t.equal(elsewhere.json.return_code, 0, elsewhere.text);
  const buyHere = await tr(h.sim.url, direct, 'kt10000', 'ordr', order('000660', '1', '150000'));
  t.equal(buyHere.json.return_code, 0, buyHere.text);
  const token = await h.token();
  const sent = modifiesSent();

  const up = await h.call('kt10002', modify(String(elsewhere.json.ord_no), '005930', '10', '150000'), { token });
  t.equal(up.status, 403, up.text);
  t.match(String(up.json.return_msg), /\[KG3001:rule=buy-size .*매수\/매도 구분을 알 수 없어/);

  const sellRule = await h.call('kt10002', modify(String(buyHere.json.ord_no), '000660', '1', '140000'), { token });
  t.equal(sellRule.status, 403, sellRule.text);
  t.match(String(sellRule.json.return_msg), /\[KG3001:rule=no-sells-000660 /);
  t.equal(modifiesSent(), sent, 'neither modify reached the simulator');

  // Within every rule of both sides: it goes through.
  const small = await h.call('kt10002', modify(String(elsewhere.json.ord_no), '005930', '10', '60000'), { token });
  t.equal(small.json.return_code, 0, small.text);
});
