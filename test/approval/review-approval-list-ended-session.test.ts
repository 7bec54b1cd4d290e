// Review regression (the approver at the dashboard): ending a bot's sessions
// (kill-sessions, disable, a lockdown) voids the calls it had held for
// approval (review-approval-session-ended), but the pending listing the
// dashboard and `kguard approvals list` read still showed them as pending,
// approve and refuse buttons and all, until an approver spent a TOTP code on
// one and was told "approval timed out". The listing now closes them as the
// approve would, and the record says why.
import { readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { FIXTURES, startHarness } from '../helpers/harness.js';
import { enrolApprover } from '../helpers/approvers.js';

const ORDER = { dmst_stex_tp: 'KRX', stk_cd: '035420', ord_qty: '5', ord_uv: '150000', trde_tp: '0' };

t.test('a call held before its bot’s sessions ended is no longer listed as pending, and says why', async (t) => {
  const policyFile = path.join(FIXTURES, '..', '..', 'tmp', `review-approval-list-ended-${process.pid}.yaml`);
  await mkdir(path.dirname(policyFile), { recursive: true });
  const open = readFileSync(path.join(FIXTURES, 'policy-open.yaml'), 'utf8');
  await writeFile(policyFile, `${open}  - { id: approve-size, type: require-approval, outcome: step-up, minQuantity: 5 }\n`);
  t.teardown(() => rm(policyFile, { force: true }));
  const h = await startHarness({ policyFile, config: { approval: { mode: 'pending' } } });
  t.teardown(() => h.close());
  const { admin } = await enrolApprover(t, h);

  const first = await h.call('kt10000', ORDER, { token: await h.token() });
  t.equal(first.status, 202, `pending: ${first.text}`);
  const id = String(first.headers['x-kguard-approval-id']);
  const other = await h.call('kt10000', { ...ORDER, ord_uv: '151000' }, { token: await h.token() });
  t.equal(other.status, 202, 'a second held call');
  const before = await h.admin('GET', '/admin/v1/approvals?status=pending', admin);
  t.equal((before.json.approvals as unknown[]).length, 2, 'both pending while the bot’s session lives');

  const killed = await h.admin('POST', `/admin/v1/bots/${h.botId}/kill-sessions`, admin, {});
  t.equal(killed.status, 200, `sessions ended: ${killed.text}`);

  const after = await h.admin('GET', '/admin/v1/approvals?status=pending', admin);
  t.same(after.json.approvals, [], `nothing left to approve: ${after.text}`);
  const one = await h.admin('GET', `/admin/v1/approvals/${id}`, admin);
  t.match(one.json, { status: 'timeout', closedEarly: 'session-ended' }, `the record says it is over and why: ${one.text}`);
  const all = await h.admin('GET', '/admin/v1/approvals', admin);
  t.ok(
    (all.json.approvals as { status: string }[]).every((a) => a.status === 'timeout'),
    'the full listing agrees',
  );

  // A call held in the new session is pending as before.
  const fresh = await h.call('kt10000', { ...ORDER, ord_uv: '152000' }, { token: await h.token() });
  t.equal(fresh.status, 202, 'held in the new session');
  const now = await h.admin('GET', '/admin/v1/approvals?status=pending', admin);
  t.equal((now.json.approvals as unknown[]).length, 1, 'the new session’s call waits for an approver');
});
