// Cancel every open order of one account: list all pages, cancel with
// bounded concurrency and retries, then list again to confirm; repeat a few
// rounds for orders that slipped through (paging shifts while rows vanish).
import type { BrokerSession, OpenOrder } from './types.js';

export interface CancelAllOptions {
  readonly concurrency: number;
  readonly retries: number;
  readonly retryBackoffMs: number;
  readonly confirmRounds: number;
  readonly maxOrders: number;
}

export interface CancelFailure {
  readonly ordNo: string;
  readonly stkCd: string;
  readonly reason: string;
}

export interface CancelAllReport {
  /** Distinct open orders seen across rounds. */
  readonly listed: number;
  readonly cancelled: number;
  /** Orders still open after the last confirmation, with the last error. */
  readonly notCancelled: readonly CancelFailure[];
  readonly rounds: number;
  readonly attempts: number;
  /** True when the final listing showed no open order. */
  readonly confirmed: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function pool<T>(items: readonly T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

function errText(err: unknown): string {
  // GuardError messages carry codes and non-secret details only.
  return err instanceof Error ? err.message.slice(0, 200) : 'error';
}

/** Listing is a read: safe to retry on transport errors, 5xx and 429. */
async function listWithRetry(session: BrokerSession, opts: CancelAllOptions): Promise<OpenOrder[]> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await session.listOpenOrders();
    } catch (err) {
      if (attempt >= opts.retries) throw err;
      await sleep(opts.retryBackoffMs * 2 ** attempt);
    }
  }
}

export async function cancelAll(session: BrokerSession, opts: CancelAllOptions): Promise<CancelAllReport> {
  const seen = new Set<string>();
  const lastError = new Map<string, string>();
  let cancelled = 0,
    attempts = 0,
    rounds = 0;
  let open: OpenOrder[] = await listWithRetry(session, opts);
  while (open.length > 0 && rounds < opts.confirmRounds) {
    rounds++;
    const batch = open.slice(0, opts.maxOrders);
    for (const o of batch) seen.add(o.ordNo);
    await pool(batch, opts.concurrency, async (order) => {
      for (let attempt = 0; attempt <= opts.retries; attempt++) {
        attempts++;
        try {
          const r = await session.cancel(order);
          if (r.ok) {
            cancelled++;
            lastError.delete(order.ordNo);
            return;
          }
          // A refusal (already filled, already cancelled) is not retried: the confirmation listing decides.
          lastError.set(order.ordNo, r.detail ?? 'refused');
          return;
        } catch (err) {
          lastError.set(order.ordNo, errText(err));
          if (attempt < opts.retries) await sleep(opts.retryBackoffMs * 2 ** attempt);
        }
      }
    });
    open = await listWithRetry(session, opts);
  }
  const notCancelled = open.map((o) => ({ ordNo: o.ordNo, stkCd: o.stkCd, reason: lastError.get(o.ordNo) ?? 'still open after confirmation' }));
  for (const o of open) seen.add(o.ordNo);
  return { listed: seen.size, cancelled, notCancelled, rounds, attempts, confirmed: open.length === 0 };
}
