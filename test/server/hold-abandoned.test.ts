// A bot that hangs up while its call is held for approval (hold mode) leaves
// nobody to forward it: its approval must close with it. Approvers must not
// approve, and be told "approved", a call that will never go out.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { enrolApprover } from '../helpers/approvers.js';
import { orderThenHangUp } from '../helpers/gates.js';
import { CANARY, FIXTURES, startHarness, waitFor } from '../helpers/harness.js';

const ORDER = JSON.stringify({ dmst_stex_tp: 'KRX', stk_cd: '035420', ord_qty: '5', ord_uv: '150000', trde_tp: '0' });

t.test('a held call whose bot hangs up closes its approval', async (t) => {
  const policyFile = path.join(FIXTURES, '..', '..', 'tmp', `hold-abandoned-${process.pid}.yaml`);
  await mkdir(path.dirname(policyFile), { recursive: true });
  await writeFile(
    policyFile,
    `${readFileSync(path.join(FIXTURES, 'policy-open.yaml'), 'utf8')}  - { id: approve-size, type: require-approval, outcome: step-up, minQuantity: 5 }\n`,
  );
  t.teardown(() => rm(policyFile, { force: true }));
  const h = await startHarness({ policyFile, config: { approval: { mode: 'hold', holdSeconds: 20 } } });
  t.teardown(() => h.close());
  const { admin, approve } = await enrolApprover(t, h);
  const token = await h.token();

  const bot = await orderThenHangUp(t, h, token, ORDER);
  let pending: Record<string, any>[] = [];
  await waitFor(
    async () => {
      pending = (await h.admin('GET', '/admin/v1/approvals?status=pending', admin)).json.approvals as Record<string, any>[];
      return pending.length === 1;
    },
    5_000,
    'a pending approval',
  );
  const a = pending[0]!;
  await bot.hangUp();
  // The listener logs the request once its pipeline is done with it.
  await waitFor(() => /"apiId":"kt10000"[^\n]*"msg":"request"/.test(h.logs()), 20_000, "the held call's end");

  const late = await approve(a.id);
  t.not(late.status, 200, `approving a call whose bot left is refused: ${late.text}`);
  t.match(late.text, /KG3007/);
  t.equal((await h.admin('GET', `/admin/v1/approvals/${a.id}`, admin)).json.status, 'timeout', 'shown as no longer waiting');
  t.equal(((await h.admin('GET', '/admin/v1/approvals?status=pending', admin)).json.approvals as unknown[]).length, 0, 'nothing left pending');
  t.notOk(
    h.sim.orders(CANARY.account).some((o) => o.stkCd === '035420'),
    'nothing reached the broker',
  );
});
