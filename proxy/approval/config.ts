// Approval configuration: config section `approval`.
import { num, oneOf, section, str } from '../common/validate.js';

export type ApprovalMode = 'hold' | 'pending';

export interface ApprovalConfig {
  /** hold: the bot's request waits; pending: immediate KG3004 with an approval id to retry with. */
  readonly mode: ApprovalMode;
  /** Longest a bot request is held open in hold mode. */
  readonly holdMs: number;
  readonly stepUpTimeoutMs: number;
  readonly adminTimeoutMs: number;
  /** Distinct admin approvers needed for admin-level approvals (four-eyes: 1 or 2). */
  readonly adminApprovers: number;
  /** After approval, how long the single-use approval may be consumed. */
  readonly useWithinMs: number;
  /** How long decided approvals stay listable. */
  readonly retentionMs: number;
  readonly maxPending: number;
  readonly maxPendingPerBot: number;
  /** Waiters re-check the store this often in case a pub/sub message was lost. */
  readonly pollMs: number;
  readonly totp: {
    readonly periodSec: number;
    readonly digits: number;
    readonly window: number;
    readonly maxFailures: number;
    readonly lockoutMs: number;
    /** Each lockout in a row doubles the last, up to this: maxFailures guesses per lockout, not per fixed window. */
    readonly maxLockoutMs: number;
    readonly issuer: string;
  };
  readonly header: string;
}

export function parseApprovalConfig(raw: unknown, path = 'approval'): ApprovalConfig {
  const r = section(raw, path, [
    'mode',
    'holdSeconds',
    'stepUpTimeoutSeconds',
    'adminTimeoutSeconds',
    'adminApprovers',
    'useWithinSeconds',
    'retentionHours',
    'maxPending',
    'maxPendingPerBot',
    'pollMs',
    'totp',
    'header',
  ]);
  const t = section(r.totp, `${path}.totp`, ['periodSec', 'digits', 'window', 'maxFailures', 'lockoutSeconds', 'maxLockoutSeconds', 'issuer']);
  return {
    mode: oneOf(r, 'mode', path, 'hold', ['hold', 'pending'] as const),
    holdMs: num(r, 'holdSeconds', path, 60, 1, 3600) * 1000,
    stepUpTimeoutMs: num(r, 'stepUpTimeoutSeconds', path, 300, 1, 86_400) * 1000,
    adminTimeoutMs: num(r, 'adminTimeoutSeconds', path, 300, 1, 86_400) * 1000,
    adminApprovers: num(r, 'adminApprovers', path, 1, 1, 2, true),
    useWithinMs: num(r, 'useWithinSeconds', path, 120, 1, 86_400) * 1000,
    retentionMs: num(r, 'retentionHours', path, 24, 1, 24 * 365) * 3_600_000,
    maxPending: num(r, 'maxPending', path, 1000, 1, 1e6, true),
    maxPendingPerBot: num(r, 'maxPendingPerBot', path, 20, 1, 1e5, true),
    pollMs: num(r, 'pollMs', path, 2000, 10, 60_000, true),
    totp: {
      periodSec: num(t, 'periodSec', `${path}.totp`, 30, 10, 300, true),
      digits: num(t, 'digits', `${path}.totp`, 6, 6, 8, true),
      window: num(t, 'window', `${path}.totp`, 1, 0, 5, true),
      maxFailures: num(t, 'maxFailures', `${path}.totp`, 5, 1, 100, true),
      lockoutMs: num(t, 'lockoutSeconds', `${path}.totp`, 300, 1, 86_400) * 1000,
      maxLockoutMs: num(t, 'maxLockoutSeconds', `${path}.totp`, 86_400, 1, 30 * 86_400) * 1000,
      issuer: str(t, 'issuer', `${path}.totp`, 'kiwoom-guard', /^[A-Za-z0-9 ._-]{1,64}$/),
    },
    header: str(r, 'header', path, 'x-kguard-approval-id', /^[a-z0-9-]{1,64}$/),
  };
}
