// A call held for approval was judged by the policy in force when it arrived.
// If staff restrict its stock while it waits (a deny-symbols rule added and
// reloaded) and an approver then approves it, it went out anyway: the policy
// that denies it was in force before it was sent. After a hold the call is
// judged again when the policy version changed; a denial names its rule.
import t from 'tap';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startHarness, FIXTURES, CANARY, waitFor } from '../helpers/harness.js';
import { base32Decode, totpAt } from '../../proxy/approval/index.js';

const TOTP = { periodSec: 30, digits: 6, window: 1 };

t.test('an order held for approval is refused after approval when the policy edited meanwhile denies it', async (t) => {
  const policyFile = path.join(FIXTURES, '..', '..', 'tmp', `review-approval-policy-${process.pid}.yaml`);
  await mkdir(path.dirname(policyFile), { recursive: true });
  const open = `${await readFile(path.join(FIXTURES, 'policy-open.yaml'), 'utf8')}  - { id: approve-size, type: require-approval, outcome: step-up, minQuantity: 5 }\n`;
  await writeFile(policyFile, open);
  t.teardown(() => rm(policyFile, { force: true }));
  const h = await startHarness({ policyFile, config: { approval: { mode: 'hold', holdSeconds: 3600 }, limits: { requestTimeoutMs: 3_600_000 } } });
  t.teardown(() => h.close());
  const admin = await h.adminToken('sec-lead', 'admin');
  const approver = await h.adminToken('bob', 'approver');
  const enrolled = await h.admin('POST', '/admin/v1/approvers', admin, { name: 'bob', roles: ['approver'] });
  t.equal(enrolled.status, 201, 'approver enrolled');
  const secret = base32Decode(Buffer.from(String(enrolled.json.secret), 'ascii'));
  t.teardown(() => secret.fill(0));

  const held = h.call('kt10000', { dmst_stex_tp: 'KRX', stk_cd: '035420', ord_qty: '5', ord_uv: '150000', trde_tp: '0' });
  let pending: Record<string, any>[] = [];
  await waitFor(
    async () => {
      pending = (await h.admin('GET', '/admin/v1/approvals?status=pending', admin)).json.approvals as Record<string, any>[];
      return pending.length === 1;
    },
    5000,
    'a pending approval',
  );

  // Staff restrict 035420 while the order waits.
  const before = h.sidecar.parts.policy.current()!.version;
  await writeFile(policyFile, `${open}  - { id: restricted-035420, type: deny-symbols, symbols: ["035420"] }\n`);
  const reloaded = await h.admin('POST', '/admin/v1/policy/reload', admin, {});
  t.equal(reloaded.status, 200, `reloaded: ${reloaded.text}`);
  t.not(h.sidecar.parts.policy.current()!.version, before, 'the new version is in force');

  const ok = await h.admin('POST', `/admin/v1/approvals/${pending[0]!.id}/approve`, approver, { code: totpAt(secret, Date.now(), TOTP) });
  t.equal(ok.status, 200, `approved: ${ok.text}`);
  const res = await held;
  t.not(res.json.return_code, 0, `refused: ${res.text}`);
  t.match(String(res.json.return_msg), /KG3001:rule=restricted-035420/, 'names the rule that denies it now');
  t.notOk(
    h.sim.orders(CANARY.account).some((o) => o.stkCd === '035420'),
    'nothing reached the broker',
  );

  // The same order under an unchanged policy still goes out once approved.
  const again = h.call('kt10000', { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '5', ord_uv: '70000', trde_tp: '0' });
  await waitFor(
    async () => {
      pending = (await h.admin('GET', '/admin/v1/approvals?status=pending', admin)).json.approvals as Record<string, any>[];
      return pending.length === 1;
    },
    5000,
    'a second pending approval',
  );
  // A TOTP code is single use: the next step's code (inside the window of 1).
  const code = totpAt(secret, Date.now() + 30_000, TOTP);
  const ok2 = await h.admin('POST', `/admin/v1/approvals/${pending[0]!.id}/approve`, approver, { code });
  t.equal(ok2.status, 200, `approved: ${ok2.text}`);
  const res2 = await again;
  t.equal(res2.json.return_code, 0, `forwarded: ${res2.text}`);
});
