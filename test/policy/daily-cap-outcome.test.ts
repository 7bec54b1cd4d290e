// A daily cap counts the orders that went to the broker and were accepted: what it charged to an order
// Kiwoom refused (insufficient funds, more than the holding) is given back once the refusal is in, so a
// trader whose 560,000,000 KRW buy Kiwoom refused still has that room. An order whose fate the sidecar
// cannot know (the connection dropped after it was written, a server error) stays charged: it may have
// been placed. Through the real sidecar and the simulator.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
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
  order(apiId: 'kt10000' | 'kt10001', body: Record<string, string>): Promise<CallResult>;
}

async function world(t: Test, cap: string): Promise<World> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kg-cap-outcome-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const policyFile = path.join(dir, 'policy.yaml');
  const rules = ['  - { id: least-privilege, type: allow-apis, kinds: [query, account, order, modify, cancel] }', `  - ${cap}`];
  await writeFile(policyFile, ['version: 1', 'name: cap-outcome', 'rules:', ...rules, ''].join('\n'));
  let settled = 0;
  const h = await startHarness({
    policyFile,
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
    async order(apiId, body) {
      const before = settled;
      const r = await h.call(apiId, body, { token });
      await waitFor(() => settled > before, 10_000, 'the call to settle');
      return r;
    },
  };
}

const limit = (qty: number, price = 70_000) => ({ dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: String(qty), ord_uv: String(price), trde_tp: '0' });

t.test('what a daily cap charged to an order Kiwoom refused is given back', async (t) => {
  // The account holds 500,000,000 KRW and 1,000 shares of 005930.
  const w = await world(t, '{ id: day-cap, type: daily-cap, maxOrders: 3, maxBuyNotional: 600000000 }');
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
  const w = await world(t, '{ id: day-cap, type: daily-cap, maxOrders: 1 }');
  w.h.sim.faults.set({ rateLimitNext: 1 });
  const refused = await w.order('kt10001', limit(1, 70_100));
  t.equal(codeOf(refused), 'KG5006', `Kiwoom refused it for rate; an order is never sent twice: ${refused.text}`);
  const ok = await w.order('kt10001', limit(1, 70_200));
  t.equal(ok.json.return_code, 0, `the refused order used no order of the cap of 1: ${ok.text}`);
  t.equal(codeOf(await w.order('kt10001', limit(1, 70_300))), 'KG3005 day-cap');
});

t.test('an order whose fate is unknown stays charged: it may have been placed', async (t) => {
  const w = await world(t, '{ id: day-cap, type: daily-cap, maxOrders: 3 }');
  w.h.sim.faults.set({ dropNext: 1 });
  const dropped = await w.order('kt10001', limit(1, 70_100));
  t.equal(codeOf(dropped), 'KG5001', `the connection dropped after the order was written: ${dropped.text}`);
  w.h.sim.faults.set({ fail5xxNext: 1 });
  const failed = await w.order('kt10001', limit(1, 70_200));
  t.equal(failed.status, 500, `Kiwoom answered a server error: ${failed.text}`);
  const ok = await w.order('kt10001', limit(1, 70_300));
  t.equal(ok.json.return_code, 0, ok.text);
  const over = await w.order('kt10001', limit(1, 70_400));
  t.equal(codeOf(over), 'KG3005 day-cap', 'the two orders of unknown fate and the placed one used the cap of 3');
});
