// A write to shared state that failed here may still be done: a hung Redis
// (a stall, a fork, SIGSTOP) runs what was already sent on the connection
// when it wakes, after our call timed out and failed closed. A key's issue
// lock or a token's retirement claim written that way is held by nobody and
// would shut the key until it lapses (issueLockTtlMs, a minute or more at
// times). The undo goes out after the write on the same connection, so it
// runs after it; it is tried again, backing off, until the write would have
// lapsed anyway.
import { GuardError } from '../common/errors.js';
import type { Store } from '../state/types.js';

const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 2_000;

export function undoLater(undo: () => Promise<unknown>, forMs: number, until = Date.now() + forMs, delayMs = 0): void {
  undo().catch(() => {
    const next = Math.min(MAX_RETRY_MS, Math.max(FIRST_RETRY_MS, delayMs * 2));
    if (Date.now() + next < until) setTimeout(() => undoLater(undo, forMs, until, next), next).unref();
  });
}

/** SET NX of an issue lock; when the write fails, the lock is taken back later if it turns out to hold our fence. */
export async function takeLock(store: Store, key: string, fence: string, ttlMs: number): Promise<boolean> {
  try {
    return await store.setIfAbsent(key, fence, ttlMs);
  } catch (err) {
    undoLater(async () => {
      if ((await store.get(key)) === fence) await store.del(key);
    }, ttlMs);
    throw err instanceof GuardError ? err : new GuardError('KG7001', 'issue lock', { cause: err });
  }
}
