// Review regression: a held call is answered at the request deadline
// (limits.requestTimeoutMs, 30 s by default) even when approval.holdSeconds is
// longer (60 s by default). Its approval was left pending until holdSeconds:
// approvers were asked to decide a call whose bot had already been told it
// timed out (KG3007), and an approval given then said "approved" for an order
// that never went out. The approval of a held call now ends with the request
// that waits for it: once the bot has its KG3007, the approval is timed out too.
import t from 'tap';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { startHarness, FIXTURES, CANARY, waitFor } from '../helpers/harness.js';
import { enrolApprover } from '../helpers/approvers.js';

const ORDER = { dmst_stex_tp: 'KRX', stk_cd: '035420', ord_qty: '5', ord_uv: '150000', trde_tp: '0' };

t.test('a held call cut at the request deadline leaves no approval to approve', async (t) => {
  const policyFile = path.join(FIXTURES, '..', '..', 'tmp', `review-approval-deadline-${process.pid}.yaml`);
  await mkdir(path.dirname(policyFile), { recursive: true });
  const open = readFileSync(path.join(FIXTURES, 'policy-open.yaml'), 'utf8');
  await writeFile(policyFile, `${open}  - { id: approve-size, type: require-approval, outcome: step-up, minQuantity: 5 }\n`);
  t.teardown(() => rm(policyFile, { force: true }));
  // The request deadline well inside the hold time (30 s and 60 s by default).
  const h = await startHarness({
    policyFile,
    config: { approval: { mode: 'hold', holdSeconds: 600 }, limits: { requestTimeoutMs: 2_000, headersTimeoutMs: 1_000 } },
  });
  t.teardown(() => h.close());
  const { admin, approve } = await enrolApprover(t, h);

  const held = await h.call('kt10000', ORDER);
  t.match(String(held.json.return_msg), /KG3007/, `the bot is told its approval timed out: ${held.text}`);
  const all = (await h.admin('GET', '/admin/v1/approvals', admin)).json.approvals as Record<string, any>[];
  t.equal(all.length, 1, 'one approval was requested');
  const id = String(all[0]!.id);
  t.ok(Date.parse(all[0]!.expiresAt) - Date.parse(all[0]!.createdAt) <= 2_000, `it expires with the request: ${all[0]!.createdAt} → ${all[0]!.expiresAt}`);
  await waitFor(
    async () => (await h.admin('GET', `/admin/v1/approvals/${id}`, admin)).json.status === 'timeout',
    10_000,
    'the approval timed out with its call',
  );
  const late = await approve(id);
  t.equal(late.status, 403, `a late approval is refused: ${late.text}`);
  t.notOk(
    h.sim.orders(CANARY.account).some((o) => o.stkCd === '035420'),
    'nothing reached the broker',
  );
});
