// A lockdown's cancel-all that did not get through every open order in its
// own run (Kiwoom refusing some cancels, a timeout, more orders than a round
// takes) is tried again in the background, and each try's record replaced the
// account's record: the incident then said only what the last try cancelled
// (1 order, "listed 1") though the lockdown itself had cancelled the others,
// and the totals shrank with every retry. A responder reconciling with the
// broker read fewer cancellations than happened. The account's record now
// adds each try to what the lockdown and the earlier tries did. Through the
// real sidecar over HTTP against the simulator; one order per round, one
// round per try, so the three orders take the lockdown and two retries.
import t from 'tap';
import { RESTING_ORDER, stepsOf } from '../helpers/lockdown-steps.js';
import { CANARY, startHarness, waitFor, type Harness } from '../helpers/harness.js';

let h: Harness;
t.before(async () => {
  h = await startHarness({
    config: { response: { damage: { deadlineMs: 1_000 }, cancel: { maxOrders: 1, confirmRounds: 1, retryIntervalMs: 500, followLeaseMs: 30_000 } } },
  });
});
t.teardown(() => h.close());

interface CancelRecord {
  viaBot: string;
  listed?: number;
  cancelled?: number;
  confirmed?: boolean;
  retries?: number;
  notCancelled?: unknown[];
  cancelledOrders?: { ordNo: string; stkCd: string; side: string; qty: number }[];
}

t.test("the incident counts every order the lockdown and its retries cancelled, not the last try's", async (t) => {
  const admin = await h.adminToken('sec-lead', 'admin');
  const ordNos: string[] = [];
  for (const price of ['60000', '60100', '60200']) {
    const placed = await h.call('kt10000', { ...RESTING_ORDER, ord_uv: price });
    t.equal(placed.json.return_code, 0, `a resting order: ${placed.text}`);
    ordNos.push(String(placed.json.ord_no));
  }
  const statusOf = (ordNo: string) => h.sim.orders(CANARY.account).find((o) => o.ordNo === ordNo)?.status;

  const lock = await h.admin('POST', '/admin/v1/lockdown', admin, { bot: h.botId, reason: 'compromised bot host' });
  t.equal(lock.status, 201, lock.text.slice(0, 300));
  const id = String(lock.json.id);
  const first = (lock.json.cancels as CancelRecord[]).find((c) => c.viaBot === h.botId);
  t.match(first, { listed: 3, cancelled: 1, confirmed: false }, 'the lockdown itself cancelled one of the three');

  await waitFor(() => ordNos.every((o) => statusOf(o) === 'cancelled'), 30_000, 'every order cancelled by the retries');
  const report = async () => (await h.admin('GET', `/admin/v1/incidents/${id}`, admin)).json;
  await waitFor(async () => stepsOf(await report()).find((s) => s.step.startsWith('3 '))?.status === 'done', 15_000, 'step 3 done');
  const r = await report();
  const c = (r.cancels as CancelRecord[]).find((x) => x.viaBot === h.botId);
  t.equal(c?.confirmed, true, `confirmed: ${JSON.stringify(c)}`);
  t.equal(c?.cancelled, 3, "the record counts the three orders cancelled, the lockdown's own included");
  t.equal(c?.listed, 3, 'and the three orders seen, each once');
  t.equal(c?.notCancelled?.length, 0, 'none left');
  t.ok((c?.retries ?? 0) >= 2, `it took retries: ${c?.retries}`);
  const totals = (r.damage as { totals: Record<string, number> }).totals;
  t.match(totals, { ordersCancelled: 3, ordersNotCancelled: 0 }, 'the totals say three were cancelled');
  const md = (await h.admin('GET', `/admin/v1/incidents/${id}?format=md`, admin)).text;
  t.match(md, /조회 3건, 취소 3건, 취소 못 함 0건/, 'the Korean report says the same');
});

// The responder reconciles with Kiwoom's records by order number: a count alone does not say which orders went.
t.test("the incident names each order it cancelled, the lockdown's and the retries'", async (t) => {
  const admin = await h.adminToken('sec-lead-2', 'admin');
  // Another bot of the same account places them: the first test left its bot locked.
  const token = await h.addBot('bot-names', ['kind:query', 'kind:order']);
  const ordNos: string[] = [];
  for (const price of ['61000', '61100']) {
    const placed = await h.call('kt10000', { ...RESTING_ORDER, ord_uv: price }, { token });
    t.equal(placed.json.return_code, 0, `a resting order: ${placed.text}`);
    ordNos.push(String(placed.json.ord_no));
  }
  const lock = await h.admin('POST', '/admin/v1/lockdown', admin, { account: CANARY.account, reason: 'account compromised' });
  t.ok(lock.status === 201 || lock.status === 202, lock.text.slice(0, 300));
  const id = String(lock.json.id);
  const statusOf = (ordNo: string) => h.sim.orders(CANARY.account).find((o) => o.ordNo === ordNo)?.status;
  await waitFor(() => ordNos.every((o) => statusOf(o) === 'cancelled'), 30_000, 'every order cancelled');
  const report = async () => (await h.admin('GET', `/admin/v1/incidents/${id}`, admin)).json;
  await waitFor(async () => stepsOf(await report()).find((s) => s.step.startsWith('3 '))?.status === 'done', 15_000, 'step 3 done');
  const r = await report();
  const named = (r.cancels as CancelRecord[]).flatMap((c) => c.cancelledOrders ?? []);
  for (const ordNo of ordNos)
    t.match(
      named.find((o) => o.ordNo === ordNo),
      { stkCd: '005930', side: 'buy', qty: 1 },
      `order ${ordNo} is named`,
    );
  const md = (await h.admin('GET', `/admin/v1/incidents/${id}?format=md`, admin)).text;
  for (const ordNo of ordNos) t.match(md, `주문 ${ordNo} 005930 매수 1주: 취소됨`, `the report names order ${ordNo}`);
});
