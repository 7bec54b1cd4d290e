// Review regression: approval.header names the header of the pending-mode
// protocol both ways. The sidecar answers KG3004 with the approval id in that
// header, and a retry carrying it there must consume the approval; it was
// read only from x-kguard-approval-id, so with any other name every retry
// was taken for a new call and held again (a new approval each time).
import t from 'tap';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { startHarness, FIXTURES, CANARY } from '../helpers/harness.js';
import { enrolApprover } from '../helpers/approvers.js';

const ORDER = { dmst_stex_tp: 'KRX', stk_cd: '035420', ord_qty: '5', ord_uv: '150000', trde_tp: '0' };
const HEADER = 'x-approval-ticket';

t.test('pending mode with a configured approval header: the retry with the id in that header goes out', async (t) => {
  const policyFile = path.join(FIXTURES, '..', '..', 'tmp', `review-approval-header-${process.pid}.yaml`);
  await mkdir(path.dirname(policyFile), { recursive: true });
  const open = readFileSync(path.join(FIXTURES, 'policy-open.yaml'), 'utf8');
  await writeFile(policyFile, `${open}  - { id: approve-size, type: require-approval, outcome: step-up, minQuantity: 5 }\n`);
  t.teardown(() => rm(policyFile, { force: true }));
  const h = await startHarness({ policyFile, config: { approval: { mode: 'pending', header: HEADER } } });
  t.teardown(() => h.close());
  const { admin, approve } = await enrolApprover(t, h);
  const token = await h.token();

  const first = await h.call('kt10000', ORDER, { token });
  t.equal(first.status, 202, `pending: ${first.text}`);
  const id = first.headers[HEADER];
  t.match(id, /^[0-9a-f-]{36}$/, `the id comes in ${HEADER}`);
  const ok = await approve(String(id));
  t.equal(ok.status, 200, 'approved');

  const retry = await h.call('kt10000', ORDER, { token, headers: { [HEADER]: String(id) } });
  t.equal(retry.json.return_code, 0, `the retry goes out: ${retry.text}`);
  t.equal(h.sim.orders(CANARY.account).filter((o) => o.stkCd === '035420').length, 1, 'exactly one order');
  t.equal((await h.admin('GET', `/admin/v1/approvals/${String(id)}`, admin)).json.status, 'consumed', 'the approval was used');
  const all = (await h.admin('GET', '/admin/v1/approvals', admin)).json.approvals as unknown[];
  t.equal(all.length, 1, 'no second approval was requested');
});
