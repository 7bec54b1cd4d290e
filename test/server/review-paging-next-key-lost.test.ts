// Review regression: Kiwoom's paged lists carry cont-yn Y and a next-key
// while more pages follow. An answer with cont-yn Y and no next-key was taken
// for the last page, so the sidecar's own reads of a whole list silently
// stopped at what it had: the open-order count behind max-open-orders came out
// too low (an order over the cap went out), and a lockdown's cancel-all
// reported only the orders it had seen. Now such a list is an error: the
// policy check fails closed, and the cancel-all cancels what it could read but
// never calls the account done. Real sidecar over HTTP, the simulator pages
// two rows at a time and loses the next-key on demand.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CANARY, FIXTURES, startHarness, type CallResult } from '../helpers/harness.js';
import { RESTING_ORDER, stepsOf } from '../helpers/lockdown-steps.js';

const policyFile = path.join(FIXTURES, '..', '..', 'tmp', `paging-next-key-${process.pid}.yaml`);
await mkdir(path.dirname(policyFile), { recursive: true });
await writeFile(policyFile, `${readFileSync(path.join(FIXTURES, 'policy-open.yaml'), 'utf8')}  - { id: open-cap, type: max-open-orders, max: 3 }\n`);
t.teardown(() => rm(policyFile, { force: true }));

const h = await startHarness({ policyFile, sim: { pageSize: 2 }, config: { response: { damage: { deadlineMs: 1_000 }, cancel: { retryIntervalMs: 0 } } } });
t.teardown(() => h.close());
const codeOf = (r: CallResult) => /\[(KG\d{4})/.exec(String(r.json.return_msg ?? ''))?.[1];
const open = () => h.sim.orders(CANARY.account).filter((o) => o.status === 'open');
const resting = (i: number) => ({ ...RESTING_ORDER, ord_uv: String(60_000 - i * 100) });

t.test('max-open-orders: a list that breaks off fails the check closed instead of counting too few', async (t) => {
  const token = await h.token();
  for (let i = 0; i < 3; i++) t.equal((await h.call('kt10000', resting(i), { token })).json.return_code, 0, `resting order ${i + 1}`);
  const capped = await h.call('kt10000', resting(3), { token });
  t.match(String(capped.json.return_msg), /open-cap/, `the fourth is over the cap, read across two pages: ${capped.text}`);
  h.sim.faults.set({ nextKeyLostNext: 1 });
  const r = await h.call('kt10000', resting(4), { token });
  t.not(r.json.return_code, 0, `refused: ${r.text}`);
  t.equal(codeOf(r), 'KG3001', 'denied by the rule');
  t.match(String(r.json.return_msg), /rule=open-cap 미체결 주문 수를 확인할 수 없습니다/, 'which could not count the open orders');
  t.equal(open().length, 3, 'no fourth order at the broker');
  h.sim.faults.clear();
});

t.test("a lockdown's cancel-all whose listing breaks off does not take the orders it saw for all of them", async (t) => {
  const admin = await h.adminToken('sec-lead', 'admin');
  t.equal(open().length, 3, 'three resting orders (two pages)');
  // Every listing breaks off after its first page, and Kiwoom refuses the cancels: all three stay open.
  h.sim.faults.set({ nextKeyLostNext: 1_000, fail5xxApiIds: ['kt10003'] });
  const lock = await h.admin('POST', '/admin/v1/lockdown', admin, { bot: h.botId, reason: 'paging drill' });
  t.equal(lock.status, 201, lock.text.slice(0, 200));
  h.sim.faults.clear();
  const s3 = stepsOf(lock.json).find((s) => s.step.startsWith('3 '))!;
  const c = (lock.json.cancels as Record<string, unknown>[])[0]!;
  t.equal(s3.status, 'failed', 'step 3 failed');
  t.equal(c.confirmed, false);
  t.equal(c.listIncomplete, true, `the record says the list broke off: ${JSON.stringify(c)}`);
  t.match(
    s3.errors.join('\n'),
    /2 order\(s\) could not be cancelled; Kiwoom's open-order list broke off \(cont-yn Y without a next-key\), so more may be open/,
  );
  t.equal(open().length, 3, 'the three orders are still open at the broker, as step 3 says');
});
