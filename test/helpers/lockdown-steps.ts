// A lockdown's steps as the admin API reports them, and the small resting
// order the lockdown tests leave open for its cancel-all.

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
