// An admin and one enrolled approver ("bob") on a harness, for tests that hold
// calls for approval: the approver's TOTP secret is wiped at teardown.
import type { Test } from 'tap';
import { base32Decode, totpAt } from '../../proxy/approval/index.js';
import { seoulToEpoch } from '../../proxy/risk/index.js';
import { startHarness, type CallResult, type Harness } from './harness.js';

const TOTP = { periodSec: 30, digits: 6, window: 1 };

export interface Approvers {
  /** An admin-role token (sec-lead). */
  readonly admin: string;
  /** bob's approver-role token. */
  readonly approver: string;
  /** bob's current TOTP code. */
  code(): string;
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
  const code = () => totpAt(secret, Date.now(), TOTP);
  return {
    admin,
    approver,
    code,
    approve: (id) => h.admin('POST', `/admin/v1/approvals/${id}/approve`, approver, { code: code() }),
  };
}

export interface ApprovalWorld extends Approvers {
  readonly h: Harness;
  /** The bot's token the warm-up used. */
  readonly token: string;
  setClock(ms: number): void;
  /** A fresh small limit sell of 005930, each at its own price (no two are duplicates of each other). */
  sell(): Record<string, string>;
}

/**
 * A sidecar on a fake clock, on the idealised simulator with the governor off (Kiwoom's 5 calls/s would make the
 * warm-up below take 8 s of real time while the fake clock stands still; these tests are about approvals), whose bot has two days of ordinary daytime activity behind it (queries and 20 small
 * resting sells of 005930 from 127.0.0.1), an admin and an enrolled approver; the clock then stands at Wednesday
 * 2026-01-07 11:00 Seoul, in session at a usual hour.
 */
export async function approvalWorld(
  t: Test,
  opts: { mode: 'hold' | 'pending'; policyFile?: string; config?: Record<string, unknown> },
): Promise<ApprovalWorld> {
  let fakeNow = seoulToEpoch('2026-01-05', 10, 0);
  const h = await startHarness({
    clock: () => fakeNow,
    sim: { ideal: true },
    ...(opts.policyFile ? { policyFile: opts.policyFile } : {}),
    config: { approval: { mode: opts.mode, holdSeconds: 20 }, upstream: { limits: 'off' }, ...opts.config },
  });
  t.teardown(() => h.close());
  const approvers = await enrolApprover(t, h);
  const token = await h.token();
  let price = 90_000;
  const sell = () => ({ dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: String((price += 10)), trde_tp: '0' });
  for (const day of ['2026-01-05', '2026-01-06']) {
    for (let i = 0; i < 30; i++) {
      fakeNow = seoulToEpoch(day, 10, 0) + i * 5 * 60_000;
      const r = i % 3 === 0 ? await h.call('kt10001', sell(), { token }) : await h.call('ka10001', { stk_cd: '005930' }, { token });
      if (r.json.return_code !== 0) t.fail(`warm-up call refused: ${r.text}`);
    }
  }
  fakeNow = seoulToEpoch('2026-01-07', 11, 0);
  return {
    ...approvers,
    h,
    token,
    sell,
    setClock: (ms) => {
      fakeNow = ms;
    },
  };
}
