// Review regression: a compliance officer asked "who approved order N?" found
// the order's outcome record by Kiwoom's ord_no, but in pending mode the
// approved retry is a new request: neither its intent nor its outcome named
// the approval, and the approval's `consumed` record named only the held
// call's request id. Nothing in the chain tied the order to its approver
// except that the records were written close together. Now the outcome
// record of a call that went out on an approval names the approval and its
// approvers, and the `consumed` record names the request that used it.
import t from 'tap';
import type { Test } from 'tap';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startHarness, FIXTURES, waitFor, type Harness } from '../helpers/harness.js';
import { enrolApprover, type Approvers } from '../helpers/approvers.js';

type Rec = { seq: number; type: string; data: Record<string, any> };

async function world(t: Test, mode: 'hold' | 'pending'): Promise<{ h: Harness; a: Approvers }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kg-approval-link-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const policyFile = path.join(dir, 'policy.yaml');
  await writeFile(
    policyFile,
    `${readFileSync(path.join(FIXTURES, 'policy-open.yaml'), 'utf8')}  - { id: approve-size, type: require-approval, outcome: step-up, minQuantity: 5 }\n`,
  );
  const h = await startHarness({ policyFile, config: { approval: { mode, holdSeconds: 30 } } });
  t.teardown(() => h.close());
  return { h, a: await enrolApprover(t, h) };
}

async function records(h: Harness): Promise<Rec[]> {
  const dir = path.join(h.dataDir, 'audit');
  const { readdir } = await import('node:fs/promises');
  const out: Rec[] = [];
  for (const f of (await readdir(dir)).filter((n) => /^audit-\d+\.jsonl$/.test(n)).sort())
    for (const line of (await readFile(path.join(dir, f), 'utf8')).split('\n')) if (line) out.push(JSON.parse(line) as Rec);
  return out;
}

/** The officer's path: the order number the customer quotes → its outcome record. */
async function outcomeOf(h: Harness, orderNo: string): Promise<Rec> {
  let found: Rec | undefined;
  await waitFor(
    async () => {
      found = (await records(h)).find((r) => r.type === 'call.outcome' && r.data.orderNo === orderNo);
      return found !== undefined;
    },
    10_000,
    `the outcome record of order ${orderNo}`,
  );
  return found!;
}

const ORDER = { dmst_stex_tp: 'KRX', stk_cd: '035420', ord_qty: '5', ord_uv: '150000', trde_tp: '0' };

t.test('pending mode: the approved retry names its approval and approver; the consumed record names the retry', async (t) => {
  const { h, a } = await world(t, 'pending');
  const token = await h.token();
  const first = await h.call('kt10000', ORDER, { token });
  t.match(String(first.json.return_msg), /KG3004/, 'held: pending approval');
  const id = String(first.headers['x-kguard-approval-id']);
  t.equal((await a.approve(id)).status, 200, 'bob approves');
  const retry = await h.call('kt10000', ORDER, { token, headers: { 'x-kguard-approval-id': id } });
  t.equal(retry.json.return_code, 0, `the approved retry goes out: ${retry.text}`);
  const orderNo = String(retry.json.ord_no);
  const retryId = String(retry.headers['x-kguard-request-id']);

  const outcome = await outcomeOf(h, orderNo);
  t.equal(outcome.data.requestId, retryId);
  t.same(outcome.data.approval, { id, approvers: ['bob'] }, 'the order outcome names the approval and who approved it');
  const consumed = (await records(h)).find((r) => r.type === 'approval' && r.data.action === 'consumed' && r.data.approvalId === id);
  t.equal(consumed?.data.usedBy, retryId, 'the consumed record names the request that used the approval');
  t.equal(consumed?.data.requestId, first.headers['x-kguard-request-id'], 'and still the held request it was asked for');
});

t.test('hold mode: the held call, approved, names its approval and approver in its outcome', async (t) => {
  const { h, a } = await world(t, 'hold');
  const token = await h.token();
  const held = h.call('kt10000', ORDER, { token });
  let pending: Record<string, any>[] = [];
  await waitFor(
    async () => {
      pending = (await h.admin('GET', '/admin/v1/approvals?status=pending', a.admin)).json.approvals as Record<string, any>[];
      return pending.length === 1;
    },
    10_000,
    'a pending approval',
  );
  const id = String(pending[0]!.id);
  t.equal((await a.approve(id)).status, 200, 'bob approves');
  const res = await held;
  t.equal(res.json.return_code, 0, `goes out once approved: ${res.text}`);
  const outcome = await outcomeOf(h, String(res.json.ord_no));
  t.same(outcome.data.approval, { id, approvers: ['bob'] });
  t.equal(outcome.data.requestId, res.headers['x-kguard-request-id']);
});
