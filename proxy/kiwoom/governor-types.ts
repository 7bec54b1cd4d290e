// The governor's vocabulary: which limit a call counts against, who goes
// first, and what a caller holds while its call is out (governor.ts).
import type { GovernorLimits } from '../common/kiwoom-limits.js';
import type { ApiKind } from './types.js';

export type LimitsSetting = GovernorLimits | 'off';

/** Which of Kiwoom's per-key limits a call counts against. */
export type CallClass = 'query' | 'order' | 'token';
/** Who goes first when a key's window is full. */
export type CallPriority = 'lockdown' | 'cancel' | 'normal';

/** The class and priority of an upstream call of this kind. */
export function classify(kind: ApiKind | undefined, lockdown = false): { cls: CallClass; priority: CallPriority } {
  const cls: CallClass = kind === 'order' || kind === 'modify' || kind === 'cancel' ? 'order' : 'query';
  const priority: CallPriority = lockdown ? 'lockdown' : kind === 'cancel' ? 'cancel' : 'normal';
  return { cls, priority };
}

export interface Permit {
  /** The call was answered (or failed): its slot frees windowMs from now. Idempotent. */
  settle(): void;
}

export interface AdmitRequest {
  /** The app key's keyed fingerprint. */
  readonly key: string;
  readonly cls: CallClass;
  readonly priority: CallPriority;
  readonly botId: string;
  readonly signal?: AbortSignal;
}
