// Review regression (red team): in pending mode the bot gets the approval id
// and retries later. Ending the bot's sessions (kill-sessions, disable, a
// lockdown) while its call waits is security staff stopping whoever made it:
// an approval asked for in that ended session must not release the call when
// the bot logs in again and retries — a held call in hold mode is stopped the
// same way (review-approval-recheck). A token the bot merely renewed is no end.
import t from 'tap';
import type { Test } from 'tap';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { startHarness, FIXTURES, CANARY, type Harness } from '../helpers/harness.js';
import { enrolApprover } from '../helpers/approvers.js';

const ORDER = { dmst_stex_tp: 'KRX', stk_cd: '035420', ord_qty: '5', ord_uv: '150000', trde_tp: '0' };

async function pendingHarness(t: Test): Promise<Harness> {
  const policyFile = path.join(FIXTURES, '..', '..', 'tmp', `review-approval-session-${process.pid}-${Math.random().toString(36).slice(2)}.yaml`);
  await mkdir(path.dirname(policyFile), { recursive: true });
  const open = readFileSync(path.join(FIXTURES, 'policy-open.yaml'), 'utf8');
  await writeFile(policyFile, `${open}  - { id: approve-size, type: require-approval, outcome: step-up, minQuantity: 5 }\n`);
  t.teardown(() => rm(policyFile, { force: true }));
  const h = await startHarness({ policyFile, config: { approval: { mode: 'pending' } } });
  t.teardown(() => h.close());
  return h;
}

const reachedBroker = (h: Harness) => h.sim.orders(CANARY.account).some((o) => o.stkCd === ORDER.stk_cd);

for (const [what, end] of [
  ['its sessions are killed', (h: Harness, admin: string) => h.admin('POST', `/admin/v1/bots/${h.botId}/kill-sessions`, admin, {})],
  [
    'it is disabled and enabled again',
    async (h: Harness, admin: string) => {
      const off = await h.admin('POST', `/admin/v1/bots/${h.botId}/disable`, admin, {});
      if (off.status !== 200) return off;
      return h.admin('POST', `/admin/v1/bots/${h.botId}/enable`, admin, {});
    },
  ],
] as const) {
  t.test(`pending mode: a call held before ${what} is not released by its approval on a new session`, async (t) => {
    const h = await pendingHarness(t);
    const { admin, approve } = await enrolApprover(t, h);
    const first = await h.call('kt10000', ORDER, { token: await h.token() });
    t.equal(first.status, 202, `pending: ${first.text}`);
    const id = String(first.headers['x-kguard-approval-id']);

    const ended = await end(h, admin);
    t.equal(ended.status, 200, `security staff act: ${ended.text}`);
    const approval = await approve(id);
    t.not(approval.status, 200, `the approver is not told "approved": ${approval.text}`);
    t.match(approval.text, /KG3007/, 'the held call is over');
    t.match(approval.text, /sessions ended/, 'and why');
    const listed = await h.admin('GET', `/admin/v1/approvals/${id}`, admin);
    t.match(listed.json, { status: 'timeout' }, `the record says so: ${listed.text}`);

    const retry = await h.call('kt10000', ORDER, { token: await h.token(), headers: { 'x-kguard-approval-id': id } });
    t.not(retry.json.return_code, 0, `the retry on a new session is refused: ${retry.text}`);
    t.match(String(retry.json.return_msg), /KG2007/, 'as a call of an ended session');
    t.notOk(reachedBroker(h), 'nothing reached the broker');
  });
}

t.test('pending mode: a token the bot renewed (same session epoch) still retries its approved call', async (t) => {
  const h = await pendingHarness(t);
  const { approve } = await enrolApprover(t, h);
  const first = await h.call('kt10000', ORDER, { token: await h.token() });
  t.equal(first.status, 202, `pending: ${first.text}`);
  const id = String(first.headers['x-kguard-approval-id']);
  t.equal((await approve(id)).status, 200, 'approved');
  const retry = await h.call('kt10000', ORDER, { token: await h.token(), headers: { 'x-kguard-approval-id': id } });
  t.equal(retry.json.return_code, 0, `goes out: ${retry.text}`);
  t.ok(reachedBroker(h), 'the approved order reached the broker');
});
