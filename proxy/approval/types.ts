export type ApprovalLevel = 'step_up' | 'admin';
export type ApprovalOutcome = 'approved' | 'refused' | 'timeout';
export type ApprovalStatus = 'pending' | 'approved' | 'refused' | 'timeout' | 'consumed';
export type ApproverRole = 'approver' | 'admin';

/** The call that needs approval, as the pipeline judged it. */
export interface ApprovalCall {
  readonly botId: string;
  readonly account: string;
  readonly apiId: string;
  /** Parsed JSON body that was judged; the approval is bound to its canonical hash. */
  readonly body: unknown;
  /** Approver name of the bot's owner (may confirm step-ups; may NOT approve admin-level calls). */
  readonly owner?: string;
  readonly score: number;
  readonly level: ApprovalLevel;
  /** Non-secret explanations (detector reasons, policy rule names). */
  readonly reasons?: readonly string[];
  /** The policy rule that held the call, for the approver to read. */
  readonly ruleId?: string;
  readonly requestId?: string;
  /** The bot's session epoch when it made the call: ending its sessions voids the approval (consume). */
  readonly sessionEpoch?: number;
}

export interface ApprovalRecord {
  readonly id: string;
  readonly callHash: string;
  readonly botId: string;
  readonly account: string;
  readonly apiId: string;
  readonly owner?: string;
  readonly level: ApprovalLevel;
  readonly score: number;
  readonly reasons: readonly string[];
  /** The policy rule that held the call. */
  readonly ruleId?: string;
  /** Whitelisted, non-secret order fields for the approver to read. */
  readonly summary: Readonly<Record<string, string>>;
  readonly requiredApprovals: number;
  readonly mode: 'hold' | 'pending';
  readonly requestId?: string;
  /** The session epoch the call was made in; a retry from a later epoch (sessions ended meanwhile) cannot use it. */
  readonly sessionEpoch?: number;
  readonly createdAt: string;
  readonly expiresAt: string;
  /** Set when it was closed before its expiry: the bot's sessions ended, or the held request itself ended. */
  readonly closedEarly?: 'session-ended' | 'request-ended';
}

export interface ApprovalView extends ApprovalRecord {
  readonly status: ApprovalStatus;
  readonly approvals: readonly { readonly approver: string; readonly at: string }[];
  /** ownCall: declined as a call the bot did make (not counted toward its lockdown). */
  readonly refusal?: { readonly approver: string; readonly reason: string; readonly at: string; readonly ownCall?: boolean };
}

export interface ApprovalTicket {
  readonly id: string;
  readonly callHash: string;
  readonly level: ApprovalLevel;
  readonly expiresAt: string;
  /** Resolves when decided or expired; an aborted signal resolves 'timeout' and expires the approval at once (nobody waits). Rejects (KG7001) if the store fails. */
  wait(signal?: AbortSignal): Promise<ApprovalOutcome>;
}

export interface Enrolment {
  /** Base32 TOTP secret (ASCII) — show once, then zero-fill. */
  readonly secret: Buffer;
  /** otpauth:// URI for QR codes — show once, then zero-fill. */
  readonly uri: Buffer;
}

export interface ApprovalService {
  /** `holdMs` (hold mode): how much longer the request waiting for it is kept open; the approval ends no later. */
  request(call: ApprovalCall, opts?: { mode?: 'hold' | 'pending'; holdMs?: number }): Promise<ApprovalTicket>;
  /** `code` is the approver's current TOTP code (digits, as bytes). */
  approve(id: string, approver: string, code: Buffer): Promise<ApprovalView>;
  /**
   * Refuses a held call. By default it was not the bot's (a sign of compromise: the risk engine is told, and the
   * bot's next order locks it down); `ownCall` declines a call the bot did make, without that.
   */
  refuse(id: string, approver: string, reason: string, opts?: { ownCall?: boolean }): Promise<ApprovalView>;
  get(id: string): Promise<ApprovalView>;
  list(filter?: { status?: ApprovalStatus; botId?: string }): Promise<ApprovalView[]>;
  /**
   * Single use: succeeds once for an approved approval whose hash matches the call; throws a GuardError otherwise.
   * `level`: the level the call needs now; a step-up approval does not do for an admin-level call (KG3009).
   * `sessionEpoch`: the retrying call's session epoch; an approval asked for in an epoch since ended is void (KG2007).
   * `requestId`: the call that uses it (in pending mode a retry, not the held request): its audit record says so (`usedBy`).
   */
  consume(id: string, callHash: string, opts?: { level?: ApprovalLevel; sessionEpoch?: number; requestId?: string }): Promise<ApprovalView>;
  enroll(approver: string, roles: readonly ApproverRole[], actor: string, opts?: { replace?: boolean }): Promise<Enrolment>;
  approvers(): Promise<{ name: string; roles: ApproverRole[]; enrolledAt: string }[]>;
  removeApprover(approver: string, actor: string): Promise<void>;
  close(): Promise<void>;
}
