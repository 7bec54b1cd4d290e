// Waiting for a decision (hold mode): a waiter re-reads the approval when the
// shared channel names it, on a poll timer and at expiry. Pub/sub only makes
// it prompt; the poll keeps it correct when pub/sub is down, and the store's
// decision keys are always the answer, never the message itself.
import type { Logger } from 'pino';
import { GuardError } from '../common/errors.js';
import type { Store, Unsubscribe } from '../state/types.js';
import type { ApprovalConfig } from './config.js';
import { CHANNEL, K } from './records.js';
import type { ApprovalOutcome, ApprovalRecord, ApprovalView } from './types.js';

export interface ApprovalWaits {
  /** Resolves when decided or expired ('timeout' also when the signal aborts); rejects (KG7001) if the store fails. */
  waitFor(rec: ApprovalRecord, signal?: AbortSignal): Promise<ApprovalOutcome>;
  /** Wakes every waiter (each re-reads once) and drops the subscription. */
  close(): Promise<void>;
}

export interface ApprovalWaitsDeps {
  readonly store: Store;
  readonly cfg: ApprovalConfig;
  readonly logger: Logger;
  readonly now: () => number;
  readonly view: (rec: ApprovalRecord) => Promise<ApprovalView>;
}

export function approvalWaits({ store, cfg, logger, now, view }: ApprovalWaitsDeps): ApprovalWaits {
  const waiters = new Map<string, Set<() => void>>();
  let subscription: Promise<Unsubscribe> | undefined;

  // One subscription per service, made on the first wait.
  function ensureSubscribed(): Promise<Unsubscribe> {
    subscription ??= store.subscribe(CHANNEL, (id) => {
      for (const wake of waiters.get(id) ?? []) wake();
    });
    return subscription;
  }

  /** The record as stored now: closing a hold early (abandon) rewrites its expiry; gone means expired. */
  async function current(rec: ApprovalRecord): Promise<ApprovalView | undefined> {
    const json = await store.get(K.rec(rec.id));
    return json ? view(JSON.parse(json) as ApprovalRecord) : undefined;
  }

  function waitFor(rec: ApprovalRecord, signal?: AbortSignal): Promise<ApprovalOutcome> {
    return new Promise<ApprovalOutcome>((resolve, reject) => {
      let done = false;
      const timers: NodeJS.Timeout[] = [];
      const set = waiters.get(rec.id) ?? new Set();
      waiters.set(rec.id, set);
      const cleanup = (): void => {
        done = true;
        timers.forEach(clearTimeout);
        clearInterval(poll);
        set.delete(check);
        if (set.size === 0) waiters.delete(rec.id);
        signal?.removeEventListener('abort', onAbort);
      };
      const finish = (o: ApprovalOutcome): void => {
        if (done) return;
        cleanup();
        resolve(o);
      };
      const check = (): void => {
        if (done) return;
        current(rec).then(
          (v) => {
            if (v === undefined) finish('timeout');
            else if (v.status === 'approved' || v.status === 'consumed') finish('approved');
            else if (v.status === 'refused') finish('refused');
            else if (v.status === 'timeout') {
              finish('timeout');
              void store.hdel(K.open, rec.id).catch(() => undefined);
            }
          },
          (err: unknown) => {
            if (done) return;
            cleanup();
            reject(err instanceof GuardError ? err : new GuardError('KG7001', undefined, { cause: err }));
          },
        );
      };
      const onAbort = (): void => finish('timeout');
      set.add(check);
      const poll = setInterval(check, cfg.pollMs);
      timers.push(setTimeout(check, Math.max(0, Date.parse(rec.expiresAt) - now()) + 5));
      if (signal?.aborted) return finish('timeout');
      signal?.addEventListener('abort', onAbort, { once: true });
      ensureSubscribed().then(check, (err: unknown) => {
        logger.warn({ err: (err as Error).message }, 'approval pub/sub unavailable; polling');
        check();
      });
    });
  }

  async function close(): Promise<void> {
    for (const set of waiters.values()) for (const wake of set) wake();
    if (subscription) await (await subscription.catch(() => async () => undefined))();
  }

  return { waitFor, close };
}
