// A modify (kt10002) acts on the order it names (orig_ord_no); its stk_cd is
// only what the bot says that order is. The policy judged symbol rules and
// the price collar by that stk_cd: a modify of a 000660 order (180,000 won)
// naming stk_cd 005930 (74,100) was collared against 005930's price, so a
// re-price to 74,100 passed a 10% collar and went to the broker, and a deny
// list restricting 000660 judged it as 005930. The sidecar now records each
// accepted order's stock when a rule judges modifies by stock, and refuses a
// modify whose stk_cd is not the stock of the order it names, naming the rule.
import t from 'tap';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startHarness, FIXTURES } from '../helpers/harness.js';

t.test("a modify naming another stock than its order's is refused before the broker, not collared against the wrong price", async (t) => {
  const policyFile = path.join(FIXTURES, '..', '..', 'tmp', `review-modify-symbol-${process.pid}.yaml`);
  await mkdir(path.dirname(policyFile), { recursive: true });
  await writeFile(
    policyFile,
    `${await readFile(path.join(FIXTURES, 'policy-open.yaml'), 'utf8')}  - { id: collar, type: price-collar, maxDeviationPercent: 10 }\n`,
  );
  t.teardown(() => rm(policyFile, { force: true }));
  const h = await startHarness({ policyFile });
  t.teardown(() => h.close());

  const placed = await h.call('kt10000', { dmst_stex_tp: 'KRX', stk_cd: '000660', ord_qty: '1', ord_uv: '180000', trde_tp: '0' });
  t.equal(placed.json.return_code, 0, `order placed: ${placed.text}`);
  const ordNo = String(placed.json.ord_no);
  await h.waitNoLiveTokens();

  const before = h.sim.stats().requests;
  const spoofed = await h.call('kt10002', { dmst_stex_tp: 'KRX', orig_ord_no: ordNo, stk_cd: '005930', mdfy_qty: '1', mdfy_uv: '74100' });
  t.equal(spoofed.status, 403, `refused: ${spoofed.text}`);
  t.match(String(spoofed.json.return_msg), /KG3001:rule=builtin\.order-symbol/, 'names the rule');
  t.match(String(spoofed.json.return_msg), /000660/, "names the order's stock");
  await h.waitNoLiveTokens();
  t.equal(h.sim.stats().requests, before, 'nothing reached the broker');

  // The honest modify of that order is judged against its own stock's price (and the collar still applies).
  const honest = await h.call('kt10002', { dmst_stex_tp: 'KRX', orig_ord_no: ordNo, stk_cd: '000660', mdfy_qty: '1', mdfy_uv: '179000' });
  t.equal(honest.json.return_code, 0, `the modify goes out: ${honest.text}`);
  const wild = await h.call('kt10002', { dmst_stex_tp: 'KRX', orig_ord_no: String(honest.json.ord_no), stk_cd: '000660', mdfy_qty: '1', mdfy_uv: '74100' });
  t.match(String(wild.json.return_msg), /rule=collar/, `collared against 000660: ${wild.text}`);
});
