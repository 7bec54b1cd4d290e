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
 * Holds the sidecar's upstream calls of `apiId` at its Kiwoom client (written, not yet at the simulator) until the
 * latch is released (released at the test's end too); `firstOnly`: only the first call waits.
 */
export function holdUpstreamCalls(t: Test, h: Pick<Harness, 'sidecar'>, apiId: string, firstOnly = false): Latch {
  const kiwoom = h.sidecar.parts.kiwoom;
  const call = kiwoom.call.bind(kiwoom);
  const hung = latch();
  let held = false;
  kiwoom.call = async (req: TrRequest): Promise<TrResponse> => {
    if (req.apiId === apiId && !(firstOnly && held)) {
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

/** Kiwoom slow to list open orders (ka10075): the lockdown's cancel-all waits (a lockdown answered 202). */
export const holdListings = (t: Test, h: Pick<Harness, 'sidecar'>, firstOnly = false): Latch => holdUpstreamCalls(t, h, 'ka10075', firstOnly);

/**
 * An order written to Kiwoom as the kill switch is pressed: held on the wire (past every check of the sidecar)
 * until the lockdown of `bot` is recorded, then placed. The incident and Kiwoom's order number.
 */
export async function orderPlacedDuringLockdown(
  t: Test,
  h: Pick<Harness, 'sidecar' | 'call' | 'admin'>,
  o: { admin: string; bot: string; order: Record<string, string>; token?: string },
): Promise<{ incidentId: string; ordNo: string }> {
  const onWire = holdUpstreamCalls(t, h, 'kt10000');
  const answer = h.call('kt10000', o.order, o.token ? { token: o.token } : undefined);
  await onWire.waiting;
  const lock = await h.admin('POST', '/admin/v1/lockdown', o.admin, { bot: o.bot, reason: 'order on the wire' });
  t.equal(lock.status, 201, lock.text.slice(0, 300));
  onWire.release();
  const placed = await answer;
  t.equal(placed.json.return_code, 0, `Kiwoom placed it: ${placed.text}`);
  return { incidentId: String(lock.json.id), ordNo: String(placed.json.ord_no) };
}
