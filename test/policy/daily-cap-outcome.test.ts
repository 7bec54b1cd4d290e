// A daily cap counts the orders that went to the broker and were accepted: what it charged to an order
// Kiwoom refused (insufficient funds, more than the holding) is given back once the refusal is in, so a
// trader whose 560,000,000 KRW buy Kiwoom refused still has that room; so is what it charged to an order
// that never left (held for approval and refused, or the hold timed out). An order whose fate the sidecar
// cannot know (the connection dropped after it was written, a server error) stays charged: it may have
// been placed. Through the real sidecar and the simulator.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { enrolApprover, type Approvers } from '../helpers/approvers.js';
import { CANARY, startHarness, waitFor, type CallResult, type Harness } from '../helpers/harness.js';

const codeOf = (r: CallResult): string | undefined =>
  /\[(KG\d{4})(?::rule=([\w.-]+))?/
    .exec(String(r.json.return_msg ?? ''))
    ?.slice(1)
    .filter(Boolean)
    .join(' ');

interface World {
  h: Harness;
  token: string;
  /** Sends one order and waits until its after-stages (the counters among them) have run. */
  order(apiId: 'kt10000' | 'kt10001', body: Record<string, string>, headers?: Record<string, string>): Promise<CallResult>;
}

async function world(t: Test, rules: string[], config: Record<string, unknown> = {}): Promise<World> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kg-cap-outcome-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const policyFile = path.join(dir, 'policy.yaml');
  const lines = ['  - { id: least-privilege, type: allow-apis, kinds: [query, account, order, modify, cancel] }', ...rules.map((r) => `  - ${r}`)];
  await writeFile(policyFile, ['version: 1', 'name: cap-outcome', 'rules:', ...lines, ''].join('\n'));
  let settled = 0;
  const h = await startHarness({
    policyFile,
    config,
    onSettled: (ctx) => {
      if (ctx.route === 'tr') settled++;
    },
  });
  t.teardown(() => h.close());
  h.sim.setQuote('005930', 70_000);
  const token = await h.token();
  return {
    h,
    token,
    async order(apiId, body, headers) {
      const before = settled;
      const r = await h.call(apiId, body, { token, ...(headers ? { headers } : {}) });
      await waitFor(() => settled > before, 10_000, 'the call to settle');
      return r;
    },
  };
}

const limit = (qty: number, price = 70_000) => ({ dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: String(qty), ord_uv: String(price), trde_tp: '0' });

t.test('what a daily cap charged to an order Kiwoom refused is given back', async (t) => {
  // The account holds 500,000,000 KRW and 1,000 shares of 005930.
  const w = await world(t, ['{ id: day-cap, type: daily-cap, maxOrders: 3, maxBuyNotional: 600000000 }']);
  const tooDear = await w.order('kt10000', limit(8_000));
  t.equal(tooDear.json.return_code, 20, `Kiwoom refuses a 560,000,000 KRW buy for want of funds: ${tooDear.text}`);
  t.match(String(tooDear.json.return_msg), /800033/);
  const fits = await w.order('kt10000', limit(6_000));
  t.equal(fits.json.return_code, 0, `a 420,000,000 KRW buy fits the 600,000,000 cap: the refused buy used none of it: ${fits.text}`);

  for (let i = 0; i < 3; i++) {
    const oversold = await w.order('kt10001', limit(5_000, 70_100 + i));
    t.equal(oversold.json.return_code, 20, `Kiwoom refuses selling more than is held (${i + 1}): ${oversold.text}`);
  }
  // One accepted buy so far: two more orders fit the cap of 3, then it refuses.
  const placed: CallResult[] = [];
  for (let i = 0; i < 3; i++) placed.push(await w.order('kt10001', limit(1, 70_200 + i)));
  t.same(
    placed.map((r) => r.json.return_code),
    [0, 0, 5],
    `the refused sells used no order of the cap: ${placed.map((r) => r.json.return_msg).join(' | ')}`,
  );
  t.equal(codeOf(placed[2]!), 'KG3005 day-cap', 'then the cap refuses, naming its rule');
  t.equal(w.h.sim.orders(CANARY.account).filter((o) => o.status === 'open').length, 3, 'three orders reached the book');
});

t.test('an order Kiwoom refused for rate, a refusal the sidecar answers itself, is given back too', async (t) => {
  const w = await world(t, ['{ id: day-cap, type: daily-cap, maxOrders: 1 }']);
  w.h.sim.faults.set({ rateLimitNext: 1 });
  const refused = await w.order('kt10001', limit(1, 70_100));
  t.equal(codeOf(refused), 'KG5006', `Kiwoom refused it for rate; an order is never sent twice: ${refused.text}`);
  const ok = await w.order('kt10001', limit(1, 70_200));
  t.equal(ok.json.return_code, 0, `the refused order used no order of the cap of 1: ${ok.text}`);
  t.equal(codeOf(await w.order('kt10001', limit(1, 70_300))), 'KG3005 day-cap');
});

t.test('an order whose fate is unknown stays charged: it may have been placed', async (t) => {
  const w = await world(t, ['{ id: day-cap, type: daily-cap, maxOrders: 3 }']);
  w.h.sim.faults.set({ dropNext: 1 });
  const dropped = await w.order('kt10001', limit(1, 70_100));
  t.equal(codeOf(dropped), 'KG5011', `the connection dropped after the order was written, its fate unknown: ${dropped.text}`);
  w.h.sim.faults.set({ fail5xxNext: 1 });
  const failed = await w.order('kt10001', limit(1, 70_200));
  t.equal(failed.status, 500, `Kiwoom answered a server error: ${failed.text}`);
  const ok = await w.order('kt10001', limit(1, 70_300));
  t.equal(ok.json.return_code, 0, ok.text);
  const over = await w.order('kt10001', limit(1, 70_400));
  t.equal(codeOf(over), 'KG3005 day-cap', 'the two orders of unknown fate and the placed one used the cap of 3');
});

// Orders of 5 shares or more wait for a person; smaller ones go straight out.
const HELD = ['{ id: approve-size, type: require-approval, outcome: step-up, minQuantity: 5 }', '{ id: day-cap, type: daily-cap, maxOrders: 2 }'];

/** The one approval waiting for a decision. */
async function pendingApproval(w: World, a: Approvers): Promise<string> {
  let ids: string[] = [];
  await waitFor(
    async () => {
      const list = (await w.h.admin('GET', '/admin/v1/approvals?status=pending', a.admin)).json.approvals as { id: string }[];
      ids = list.map((x) => x.id);
      return ids.length === 1;
    },
    10_000,
    'a pending approval',
  );
  return ids[0]!;
}

/** Small sells until the cap refuses one: how many went out, and the refusal. */
async function fillCap(w: World, from: number): Promise<{ placed: number; last: CallResult }> {
  let placed = 0;
  for (let i = 0; ; i++) {
    const r = await w.order('kt10001', limit(1, from + i));
    if (r.json.return_code !== 0) return { placed, last: r };
    placed++;
  }
}

t.test('a held order the approver refused gives its daily-cap charge back', async (t) => {
  const w = await world(t, HELD, { approval: { mode: 'hold', holdSeconds: 60 } });
  const a = await enrolApprover(t, w.h);
  const held = w.order('kt10000', limit(5));
  const refused = await w.h.admin('POST', `/admin/v1/approvals/${await pendingApproval(w, a)}/refuse`, a.approver, { reason: 'not today', ownCall: true });
  t.equal(refused.status, 200, refused.text);
  t.equal(codeOf(await held), 'KG3006', 'the held order is refused');
  const { placed, last } = await fillCap(w, 70_100);
  t.equal(placed, 2, 'the refused order used none of the cap of 2');
  t.equal(codeOf(last), 'KG3005 day-cap');
  t.equal(w.h.sim.orders(CANARY.account).length, 2, 'only the two small orders reached the broker');
});

t.test('a held order whose hold timed out gives its daily-cap charge back', async (t) => {
  const w = await world(t, HELD, { approval: { mode: 'hold', holdSeconds: 1 } });
  await enrolApprover(t, w.h);
  t.equal(codeOf(await w.order('kt10000', limit(5))), 'KG3007', 'nobody decided in time');
  const { placed, last } = await fillCap(w, 70_100);
  t.equal(placed, 2, 'the order that timed out used none of the cap of 2');
  t.equal(codeOf(last), 'KG3005 day-cap');
});

t.test('pending mode: a refused approval leaves the cap; an approved one is charged once, when it goes out', async (t) => {
  const w = await world(t, HELD, { approval: { mode: 'pending' } });
  const a = await enrolApprover(t, w.h);
  const first = await w.order('kt10000', limit(5));
  t.equal(codeOf(first), 'KG3004', 'held: pending approval');
  const id = String(first.headers['x-kguard-approval-id']);
  t.equal((await w.h.admin('POST', `/admin/v1/approvals/${id}/refuse`, a.approver, { reason: 'no', ownCall: true })).status, 200);
  const retried = await w.order('kt10000', limit(5), { 'x-kguard-approval-id': id });
  t.equal(codeOf(retried), 'KG3006', `its retry is refused, and charged nothing: ${retried.text}`);
  t.equal((await w.order('kt10001', limit(1, 70_100))).json.return_code, 0, 'one small order');

  // Approved: the retry that goes out takes the cap's last order; one more is refused.
  const second = await w.order('kt10000', limit(6));
  t.equal(codeOf(second), 'KG3004');
  const id2 = String(second.headers['x-kguard-approval-id']);
  t.equal((await a.approve(id2)).status, 200, 'approved');
  const approved = await w.order('kt10000', limit(6), { 'x-kguard-approval-id': id2 });
  t.equal(approved.json.return_code, 0, `the approved order goes out: ${approved.text}`);
  t.equal(codeOf(await w.order('kt10001', limit(1, 70_200))), 'KG3005 day-cap', 'the small order and the approved one used the cap of 2');
});

t.test('pending mode: the cap is judged again when the approved order goes out', async (t) => {
  const w = await world(t, HELD, { approval: { mode: 'pending' } });
  const a = await enrolApprover(t, w.h);
  const first = await w.order('kt10000', limit(5));
  t.equal(codeOf(first), 'KG3004', 'held: pending approval');
  const id = String(first.headers['x-kguard-approval-id']);
  const { placed } = await fillCap(w, 70_100);
  t.equal(placed, 2, 'a pending order holds no room: the call that waits never left');
  t.equal((await a.approve(id)).status, 200, 'approved');
  const late = await w.order('kt10000', limit(5), { 'x-kguard-approval-id': id });
  t.equal(codeOf(late), 'KG3005 day-cap', `the approved order would pass the cap: refused, not sent uncharged: ${late.text}`);
  t.notOk(
    w.h.sim.orders(CANARY.account).some((o) => o.side === 'buy'),
    'it never reached the broker',
  );
});
