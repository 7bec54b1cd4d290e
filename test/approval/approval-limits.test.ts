// The approval protocol's retry of a held call is that call, not another: the policy's duplicate
// guard counted it when it was held, so the retry is not its own duplicate; the daily cap counts it
// once, when it goes out (the held call, never sent, gave its charge back). (Before, a policy with a
// duplicate guard made every approved pending-mode call fail as a duplicate of itself, and each held
// order used its daily cap twice.)
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { approvalWorld, type ApprovalWorld } from '../helpers/approvers.js';
import { seoulToEpoch } from '../../proxy/risk/index.js';
import { CANARY, type CallResult } from '../helpers/harness.js';

const code = (r: CallResult): string | undefined =>
  /\[(KG\d{4})(?::rule=([\w.-]+))?/
    .exec(String(r.json.return_msg ?? ''))
    ?.slice(1)
    .filter(Boolean)
    .join(' ');
const DAY_CAP = 25;

async function world(t: Test, rules: string[]): Promise<ApprovalWorld> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kg-approval-limits-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const policyFile = path.join(dir, 'policy.yaml');
  const allow = '  - { id: least-privilege, type: allow-apis, kinds: [query, account, order, modify, cancel] }';
  await writeFile(policyFile, ['version: 1', 'name: approval-limits', 'rules:', allow, ...rules.map((r) => `  - ${r}`), ''].join('\n'));
  return approvalWorld(t, { mode: 'pending', policyFile });
}

// A first buy of a name the bot never traded: held for step-up approval.
const BUY = { dmst_stex_tp: 'KRX', stk_cd: '035420', ord_qty: '1', ord_uv: '150000', trde_tp: '0' };

/** The held buy, a retry while it waits, the approval and the approved retry; returns that retry. */
async function heldThenApproved(t: Test, w: ApprovalWorld): Promise<CallResult> {
  const first = await w.h.call('kt10000', BUY, { token: w.token });
  t.equal(code(first), 'KG3004', 'held: pending approval');
  const id = String(first.headers['x-kguard-approval-id']);
  const withId = { token: w.token, headers: { 'x-kguard-approval-id': id } };
  t.equal(code(await w.h.call('kt10000', BUY, withId)), 'KG3004', 'a retry before the decision is still pending');
  t.equal((await w.approve(id)).status, 200, 'approved');
  return w.h.call('kt10000', BUY, withId);
}

t.test('an approved retry is not a duplicate of the call it held', async (t) => {
  const w = await world(t, ['{ id: no-double-send, type: duplicate-guard, windowSeconds: 3600 }']);
  const retry = await heldThenApproved(t, w);
  t.equal(retry.json.return_code, 0, `the approved retry goes out: ${retry.text}`);
  t.equal(w.h.sim.orders(CANARY.account).filter((o) => o.stkCd === '035420').length, 1, 'one order reached the broker');
  const again = await w.h.call('kt10000', BUY, { token: w.token });
  t.equal(code(again), 'KG3001 no-double-send', 'the same order sent again without the approval is a duplicate');
});

t.test('a held order is charged once against the daily cap, however often it is retried', async (t) => {
  const w = await world(t, [`{ id: day-cap, type: daily-cap, maxOrders: ${DAY_CAP} }`]);
  const retry = await heldThenApproved(t, w);
  t.equal(retry.json.return_code, 0, `the approved retry goes out: ${retry.text}`);
  // 20 warm-up sells and the approved buy: exactly 4 more fit today.
  let now = seoulToEpoch('2026-01-07', 12, 0);
  let placed = 0;
  let last: CallResult | undefined;
  for (let i = 0; i < DAY_CAP; i++) {
    w.setClock((now += 60_000));
    last = await w.h.call('kt10001', w.sell(), { token: w.token });
    if (last.json.return_code !== 0) break;
    placed++;
  }
  t.equal(placed, DAY_CAP - 21, 'the held order, its pending retry and its approved retry used one order of the cap');
  t.equal(code(last!), 'KG3005 day-cap', 'then the cap refuses, naming its rule');
});
