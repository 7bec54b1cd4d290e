// A lockdown's cancel-all must cancel every open order whatever venue it
// rests on. Kiwoom's open-order list (ka10075) gives the venue as stex_tp
// "1" (KRX) or "2" (NXT), stex_tp_txt and sor_yn (Kiwoom-Securities'
// example lists these columns; clients' fixtures show "2"/"NXT" and
// "1"/"S-KRX"/"Y"), and a cancel must name it: Kiwoom refuses a SOR cancel
// of an order not placed through SOR ([2000](571412:...)), and a KRX cancel
// does not reach an order resting on NXT. The sidecar read the venue only
// from a stex_tp spelled "KRX"/"NXT"/"SOR" (the simulator's own spelling,
// not Kiwoom's) or a code suffix, so an NXT or SOR order listed as Kiwoom
// lists it was cancelled on KRX, refused, and stayed live while the bot was
// locked (NXT trades until 20:00). Through the real sidecar over HTTP
// against the simulator, which now lists and checks venues as Kiwoom does.
import t from 'tap';
import { RESTING_ORDER, stepsOf } from '../helpers/lockdown-steps.js';
import { CANARY, startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
t.before(async () => {
  h = await startHarness({ config: { response: { damage: { deadlineMs: 1_000 }, cancel: { retryIntervalMs: 0 } } } });
});
t.teardown(() => h.close());

const OPEN_ORDERS = { all_stk_tp: '0', trde_tp: '0', stk_cd: '', stex_tp: '0' };

t.test('the cancel-all cancels KRX, NXT and SOR orders, each on its own venue', async (t) => {
  const placed = new Map<string, string>();
  for (const venue of ['KRX', 'NXT', 'SOR']) {
    const r = await h.call('kt10000', { ...RESTING_ORDER, dmst_stex_tp: venue });
    t.equal(r.json.return_code, 0, `a resting ${venue} order: ${r.text}`);
    placed.set(venue, String(r.json.ord_no));
  }
  const listed = await h.call('ka10075', OPEN_ORDERS);
  const rows = listed.json.oso as Record<string, string>[];
  const row = (venue: string) => rows.find((r) => r.ord_no === placed.get(venue));
  t.match(row('KRX'), { stk_cd: '005930', stex_tp: '1', stex_tp_txt: 'KRX', sor_yn: 'N' }, 'a KRX order listed as Kiwoom lists it');
  t.match(row('NXT'), { stk_cd: '005930', stex_tp: '2', stex_tp_txt: 'NXT', sor_yn: 'N' }, 'an NXT order: stex_tp 2');
  t.match(row('SOR'), { stk_cd: '005930', stex_tp: '1', stex_tp_txt: 'S-KRX', sor_yn: 'Y' }, 'a SOR order: sor_yn Y');

  const wrong = await h.call('kt10003', { dmst_stex_tp: 'SOR', orig_ord_no: placed.get('KRX'), stk_cd: '005930', cncl_qty: '0' });
  t.match(String(wrong.json.return_msg), /571412/, `a SOR cancel of a KRX order is refused, as Kiwoom does: ${wrong.text}`);

  const statusOf = (ordNo: string | undefined) => h.sim.orders(CANARY.account).find((o) => o.ordNo === ordNo)?.status;
  const admin = await h.adminToken('sec-lead', 'admin');
  const lock = await h.admin('POST', '/admin/v1/lockdown', admin, { bot: h.botId, reason: 'bot host compromised' });
  t.equal(lock.status, 201, lock.text.slice(0, 300));
  const s3 = stepsOf(lock.json).find((s) => s.step.startsWith('3 '));
  t.equal(s3?.status, 'done', `step 3 done: ${JSON.stringify(s3)}`);
  const c = (lock.json.cancels as { viaBot: string; cancelled?: number; confirmed?: boolean; notCancelled?: unknown[] }[]).find((x) => x.viaBot === h.botId);
  t.match(c, { cancelled: 3, confirmed: true }, `all three cancelled and confirmed: ${JSON.stringify(c)}`);
  for (const [venue, ordNo] of placed) t.equal(statusOf(ordNo), 'cancelled', `the ${venue} order is cancelled at the broker`);
});
