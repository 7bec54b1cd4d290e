// Review regression: an approval carries the level it was given at. When the
// retry of a held call is judged to need an admin-level approval (the policy
// was tightened meanwhile, or the call now scores above the admin threshold),
// a step-up approval (one approver, the bot's owner may give it) must not let
// it out: four-eyes and the admin role would be skipped. The retry is refused
// as not matching (KG3009) and nothing reaches the broker.
import t from 'tap';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { startHarness, FIXTURES, CANARY } from '../helpers/harness.js';
import { enrolApprover } from '../helpers/approvers.js';

const ORDER = { dmst_stex_tp: 'KRX', stk_cd: '035420', ord_qty: '5', ord_uv: '150000', trde_tp: '0' };

t.test('a step-up approval does not release a retry that now needs an admin-level approval', async (t) => {
  const policyFile = path.join(FIXTURES, '..', '..', 'tmp', `review-approval-level-${process.pid}.yaml`);
  await mkdir(path.dirname(policyFile), { recursive: true });
  const open = readFileSync(path.join(FIXTURES, 'policy-open.yaml'), 'utf8');
  const withRule = (outcome: string) => `${open}  - { id: approve-size, type: require-approval, outcome: ${outcome}, minQuantity: 5 }\n`;
  await writeFile(policyFile, withRule('step-up'));
  t.teardown(() => rm(policyFile, { force: true }));
  const h = await startHarness({ policyFile, config: { approval: { mode: 'pending' } } });
  t.teardown(() => h.close());
  const { admin, approve } = await enrolApprover(t, h);
  const token = await h.token();

  const first = await h.call('kt10000', ORDER, { token });
  t.equal(first.status, 202, `pending: ${first.text}`);
  const id = String(first.headers['x-kguard-approval-id']);
  t.equal((await h.admin('GET', `/admin/v1/approvals/${id}`, admin)).json.level, 'step_up', 'a step-up approval');
  const ok = await approve(id);
  t.equal(ok.status, 200, 'approved by one approver');
  t.equal(ok.json.status, 'approved');

  // Security staff tighten the rule: such orders now need an admin-level approval.
  await writeFile(policyFile, withRule('hold'));
  const reload = await h.admin('POST', '/admin/v1/policy/reload', admin, {});
  t.equal(reload.status, 200, `policy reloaded: ${reload.text}`);

  const retry = await h.call('kt10000', ORDER, { token, headers: { 'x-kguard-approval-id': id } });
  t.not(retry.json.return_code, 0, `the retry is refused: ${retry.text}`);
  t.match(String(retry.json.return_msg), /KG3009/, 'as an approval that does not match the call');
  t.notOk(
    h.sim.orders(CANARY.account).some((o) => o.stkCd === '035420'),
    'nothing reached the broker',
  );
});
