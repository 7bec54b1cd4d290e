// The lockdown check on every call's path: is this bot, its account or
// everything locked? Kept apart from issuing a lockdown because it is hot-path
// code that must stay one store round trip.
import { GuardError } from '../common/errors.js';
import type { ResponseContext } from './context.js';
import { K } from './keys.js';

export interface LockCheckCall {
  readonly botId: string;
  readonly account: string;
  readonly kind?: string;
  readonly body?: unknown;
}

// trde_tp values whose execution depends on a condition (KIWOOM.md): conditional limit, stop-limit.
export const CONDITIONAL_TRDE_TP: ReadonlySet<string> = new Set(['5', '28']);

export interface LockCheck {
  /** Incident id holding a lock on this bot/account, if any. */
  lockedBy(botId: string, account: string): Promise<string | undefined>;
  /** Throws KG3008 while the bot, its account or everything is locked. */
  checkLockdown(call: LockCheckCall): Promise<void>;
}

export function createLockCheck(ctx: ResponseContext): LockCheck {
  const { store } = ctx;

  async function lockedBy(botId: string, account: string): Promise<string | undefined> {
    // One MGET: the lockdown check sits on every call's path.
    const [all, bot, acct] = await store.mget(account ? [K.lockAll, K.lockBot(botId), K.lockAccount(account)] : [K.lockAll, K.lockBot(botId)]);
    return all ?? bot ?? acct ?? undefined;
  }

  async function checkLockdown(call: LockCheckCall): Promise<void> {
    // Lock flags live in the shared store: if it was wiped, "no flag" proves nothing (fail closed until confirmed).
    if (store.flushDetected()) throw new GuardError('KG7003', 'lockdown flags may have been lost');
    const id = await lockedBy(call.botId, call.account);
    if (!id) return;
    const tp = call.body && typeof call.body === 'object' ? (call.body as Record<string, unknown>).trde_tp : undefined;
    const conditional = typeof tp === 'string' && CONDITIONAL_TRDE_TP.has(tp);
    throw new GuardError('KG3008', conditional ? `incident ${id}; conditional orders suspended` : `incident ${id}`);
  }

  return { lockedBy, checkLockdown };
}
