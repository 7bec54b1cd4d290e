// A lockdown's steps as the admin API reports them, the small resting order
// the lockdown tests leave open for its cancel-all, the recovery steps an
// unlock needs, and a Kiwoom slow to list open orders (a lockdown answered 202).
import type { Test } from 'tap';
import type { TrRequest, TrResponse } from '../../proxy/kiwoom/client.js';
import { latch, type Latch } from './gates.js';
import type { Harness } from './harness.js';

export interface LockdownStep {
  step: string;
  ok: boolean;
  status?: string;
  errors: string[];
}

/** One share of 005930 at 60,000: below the simulator's quote, so it rests in the book. */
export const RESTING_ORDER = { dmst_stex_tp: 'KRX', stk_cd: '005930', ord_qty: '1', ord_uv: '60000', trde_tp: '0' };

export const stepsOf = (report: Record<string, unknown>): LockdownStep[] => report.steps as LockdownStep[];

/** Step 2: kill sessions and revoke the broker tokens. */
export const revokeStep = (report: Record<string, unknown>): LockdownStep => stepsOf(report).find((s) => s.step.startsWith('2 '))!;

/** The recovery checklist's required steps: an unlock needs each confirmed. */
export const RECOVERY_STEPS = ['change-account-password', 'reissue-api-key', 'scan-bot-host', 'register-new-key', 'review-trades'];

/** Confirms every required recovery step of incident `id` through the admin API of `h` (any replica's). */
export async function confirmRecoverySteps(t: Test, h: Pick<Harness, 'admin'>, id: string, token: string): Promise<void> {
  for (const step of RECOVERY_STEPS) {
    const r = await h.admin('POST', `/admin/v1/incidents/${id}/steps/${step}/confirm`, token, { note: 'checked' });
    t.equal(r.status, 200, `${step} confirmed: ${r.text.slice(0, 200)}`);
  }
}

/**
 * Holds the sidecar's open-order listings (ka10075) at its upstream client, as a Kiwoom slow to answer them, until
 * the latch is released (released at the test's end too); `firstOnly`: only the first listing waits.
 */
export function holdListings(t: Test, h: Pick<Harness, 'sidecar'>, firstOnly = false): Latch {
  const kiwoom = h.sidecar.parts.kiwoom;
  const call = kiwoom.call.bind(kiwoom);
  const hung = latch();
  let held = false;
  kiwoom.call = async (req: TrRequest): Promise<TrResponse> => {
    if (req.apiId === 'ka10075' && !(firstOnly && held)) {
      held = true;
      hung.reached();
      await hung.passed;
    }
    return call(req);
  };
  t.teardown(() => {
    kiwoom.call = call;
    hung.release();
  });
  return hung;
}
