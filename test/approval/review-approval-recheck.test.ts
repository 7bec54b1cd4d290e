// Review regression: a call held for approval must not go out if, while it
// waited, the bot was disabled and its sessions ended. The session's liveness
// (and the lockdown flags) are checked again once approval arrives.
import t from 'tap';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { startHarness, FIXTURES, CANARY, waitFor } from '../helpers/harness.js';
import { base32Decode, totpAt } from '../../proxy/approval/index.js';

const TOTP = { periodSec: 30, digits: 6, window: 1 };

t.test('a held order whose bot is disabled during the hold is refused after approval, not forwarded', async (t) => {
  const policyFile = path.join(FIXTURES, '..', '..', 'tmp', `review-approval-${process.pid}.yaml`);
  const { mkdir, rm } = await import('node:fs/promises');
  await mkdir(path.dirname(policyFile), { recursive: true });
  await writeFile(
    policyFile,
    `${readFileSync(path.join(FIXTURES, 'policy-open.yaml'), 'utf8')}  - { id: approve-size, type: require-approval, outcome: step-up, minQuantity: 5 }\n`,
  );
  t.teardown(() => rm(policyFile, { force: true }));
  // A hold far longer than the file's time-out: the held call must end when the approver's attempt closes it.
  const h = await startHarness({ policyFile, config: { approval: { mode: 'hold', holdSeconds: 3600 }, limits: { requestTimeoutMs: 3_600_000 } } });
  t.teardown(() => h.close());
  const admin = await h.adminToken('sec-lead', 'admin');
  const approver = await h.adminToken('bob', 'approver');
  const enrolled = await h.admin('POST', '/admin/v1/approvers', admin, { name: 'bob', roles: ['approver'] });
  t.equal(enrolled.status, 201, 'approver enrolled');
  const secret = base32Decode(Buffer.from(String(enrolled.json.secret), 'ascii'));

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

  const disabled = await h.admin('POST', `/admin/v1/bots/${h.botId}/disable`, admin, {});
  t.equal(disabled.status, 200, 'bot disabled while its order is held');
  const ok = await h.admin('POST', `/admin/v1/approvals/${pending[0]!.id}/approve`, approver, { code: totpAt(secret, Date.now(), TOTP) });
  // The approver is told the call is over (its bot's sessions ended), not "approved".
  t.match(ok.json, { code: 'KG3007' }, `not approvable: ${ok.text}`);
  const res = await held;
  t.not(res.json.return_code, 0, `refused: ${res.text}`);
  t.match(String(res.json.return_msg), /KG2006|KG2007/, 'refused as a disabled bot / ended session');
  t.notOk(
    h.sim.orders(CANARY.account).some((o) => o.stkCd === '035420'),
    'nothing reached the broker',
  );
  secret.fill(0);
});
