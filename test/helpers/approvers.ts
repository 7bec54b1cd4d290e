// An admin and one enrolled approver ("bob") on a harness, for tests that hold
// calls for approval: the approver's TOTP secret is wiped at teardown.
import type { Test } from 'tap';
import { base32Decode, totpAt } from '../../proxy/approval/index.js';
import type { CallResult, Harness } from './harness.js';

const TOTP = { periodSec: 30, digits: 6, window: 1 };

export interface Approvers {
  /** An admin-role token (sec-lead). */
  readonly admin: string;
  /** bob's approver-role token. */
  readonly approver: string;
  /** bob approves the approval with his current code. */
  approve(id: string): Promise<CallResult>;
}

export async function enrolApprover(t: Test, h: Harness): Promise<Approvers> {
  const admin = await h.adminToken('sec-lead', 'admin');
  const approver = await h.adminToken('bob', 'approver');
  const enrolled = await h.admin('POST', '/admin/v1/approvers', admin, { name: 'bob', roles: ['approver'] });
  t.equal(enrolled.status, 201, 'approver enrolled');
  const secret = base32Decode(Buffer.from(String(enrolled.json.secret), 'ascii'));
  t.teardown(() => {
    secret.fill(0);
  });
  return {
    admin,
    approver,
    approve: (id) => h.admin('POST', `/admin/v1/approvals/${id}/approve`, approver, { code: totpAt(secret, Date.now(), TOTP) }),
  };
}
