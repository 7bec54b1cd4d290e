// Cancel every open order of one account: list all pages, cancel with
// bounded concurrency and retries, then list again to confirm; repeat a few
// rounds for orders that slipped through (paging shifts while rows vanish).
import { IncompleteOrderList, type BrokerSession, type OpenOrder } from './types.js';

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

/** An order Kiwoom accepted the cancel of: what the incident names, so it can be matched with the broker's records. */
export interface CancelledOrder {
  readonly ordNo: string;
  readonly stkCd: string;
  readonly side: OpenOrder['side'];
  /** The quantity still open when it was listed: what the cancel took off. */
  readonly qty: number;
}

/** Cancelled orders named in an account's record at most (the count `cancelled` stays exact). */
export const MAX_NAMED_CANCELS = 500;

export interface CancelAllReport {
  /** Distinct open orders seen across rounds (but those the caller had already counted: cancelAll's `counted`). */
  readonly listed: number;
  readonly cancelled: number;
  /** The orders whose cancel Kiwoom accepted (the first MAX_NAMED_CANCELS). */
  readonly cancelledOrders?: readonly CancelledOrder[];
  /** Orders still open after the last confirmation, with the last error. */
  readonly notCancelled: readonly CancelFailure[];
  readonly rounds: number;
  readonly attempts: number;
  /** True when the final listing, read to its last page, showed no open order. */
  readonly confirmed: boolean;
  /** The final listing broke off (cont-yn Y without a next-key): orders past it may be open, so nothing is confirmed. */
  readonly listIncomplete?: boolean;
  /**
   * A confirming listing failed after cancels were sent: what is open now is unknown (as for an account never listed),
   * `notCancelled` names the orders whose cancel failed, and the counts stay what was done.
   */
  readonly error?: string;
}

/** Why a cancel-all ended before confirming: the incident was unlocked meanwhile (on any replica). */
export const STOPPED_BY_UNLOCK = 'stopped: the incident was unlocked, so no further order was cancelled';

/**
 * One order's cancel as it ended in a run (accepted, refused, or every try failed): told once per order and run
 * for each order a cancel was sent for, never for one the run stopped before sending (the audit's record of it).
 */
export interface CancelSent {
  readonly order: OpenOrder;
  readonly ok: boolean;
  /** Kiwoom's return_code; absent when no answer came (transport error, 5xx, 429). */
  readonly returnCode?: string | number;
  /** Kiwoom's refusal message, or the last error when no answer came. */
  readonly detail?: string;
  readonly attempts: number;
}

/** Asked before each listing and each cancel: true once the incident is being unlocked. A Store that cannot answer is
 * no unlock (the cancels go on: a lockdown cancels rather than not). */
export type StopCheck = () => Promise<boolean>;

/** Why a cancel-all is not confirmed, for step 3 and its retries. */
export function notConfirmedText(r: { readonly notCancelled?: readonly unknown[]; readonly listIncomplete?: boolean; readonly error?: string }): string {
  const n = `${r.notCancelled?.length ?? 0} order(s) could not be cancelled`;
  if (r.error === STOPPED_BY_UNLOCK) return `${n}; ${STOPPED_BY_UNLOCK}`;
  if (r.error) return `${n}; the open orders could not be listed again to confirm the cancels (${r.error}), so more may be open`;
  return r.listIncomplete ? `${n}; Kiwoom's open-order list broke off (cont-yn Y without a next-key), so more may be open` : n;
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

interface Listing {
  readonly orders: OpenOrder[];
  readonly complete: boolean;
}

/**
 * Listing is a read: safe to retry on transport errors, 5xx and 429. A list that breaks off is retried too, and if
 * it still does, what it showed is cancelled all the same (better than nothing) but never taken for the whole list.
 */
async function listWithRetry(session: BrokerSession, opts: CancelAllOptions): Promise<Listing> {
  for (let attempt = 0; ; attempt++) {
    try {
      return { orders: await session.listOpenOrders(), complete: true };
    } catch (err) {
      if (attempt >= opts.retries) {
        if (err instanceof IncompleteOrderList) return { orders: [...err.orders], complete: false };
        throw err;
      }
      await sleep(opts.retryBackoffMs * 2 ** attempt);
    }
  }
}

const countOf = (seen: ReadonlySet<string>, counted: ReadonlySet<string>): number => [...seen].filter((ordNo) => !counted.has(ordNo)).length;

/** `counted`: orders an earlier run on this account already counted as listed (still open at its end): not counted again. */
/**
 * `stopped`: an unlock started since (the bot may trade again): no cancel is sent after it, as a listing Kiwoom answers
 * after the unlock can hold the bot's new orders.
 */
export async function cancelAll(
  session: BrokerSession,
  opts: CancelAllOptions,
  counted: ReadonlySet<string> = new Set(),
  stopped: StopCheck = async () => false,
  onSent: (c: CancelSent) => void = () => undefined,
): Promise<CancelAllReport> {
  // Telling of a cancel (the audit's record) never stops the cancels.
  const told = (c: CancelSent): void => {
    try {
      onSent(c);
    } catch {
      // the recorder keeps its own failures
    }
  };
  const isStopped = () => stopped().catch(() => false);
  let halted = false;
  const seen = new Set<string>();
  const lastError = new Map<string, string>();
  const cancelledOrders: CancelledOrder[] = [];
  const cancelledNos = new Set<string>();
  let cancelled = 0,
    attempts = 0,
    rounds = 0;
  let listing = await listWithRetry(session, opts);
  let open = listing.orders;
  while ((open.length > 0 || !listing.complete) && rounds < opts.confirmRounds) {
    if (await isStopped()) {
      halted = true;
      break;
    }
    rounds++;
    const batch = open.slice(0, opts.maxOrders);
    for (const o of batch) seen.add(o.ordNo);
    await pool(batch, opts.concurrency, async (order) => {
      let tries = 0;
      for (let attempt = 0; attempt <= opts.retries; attempt++) {
        // Checked after the listing came back: an order it shows may be one the bot placed after the unlock.
        if (halted || (await isStopped())) {
          halted = true;
          if (tries > 0) told({ order, ok: false, detail: lastError.get(order.ordNo) ?? 'error', attempts: tries });
          lastError.set(order.ordNo, STOPPED_BY_UNLOCK);
          return;
        }
        attempts++;
        tries++;
        try {
          const r = await session.cancel(order);
          const code = r.returnCode === undefined ? {} : { returnCode: r.returnCode };
          if (r.ok) {
            cancelled++;
            cancelledNos.add(order.ordNo);
            if (cancelledOrders.length < MAX_NAMED_CANCELS)
              cancelledOrders.push({ ordNo: order.ordNo, stkCd: order.stkCd, side: order.side, qty: order.remaining });
            lastError.delete(order.ordNo);
            told({ order, ok: true, ...code, attempts: tries });
            return;
          }
          // A refusal (already filled, already cancelled) is not retried: the confirmation listing decides.
          lastError.set(order.ordNo, r.detail ?? 'refused');
          told({ order, ok: false, ...code, detail: r.detail ?? 'refused', attempts: tries });
          return;
        } catch (err) {
          lastError.set(order.ordNo, errText(err));
          if (attempt < opts.retries) await sleep(opts.retryBackoffMs * 2 ** attempt);
        }
      }
      told({ order, ok: false, detail: lastError.get(order.ordNo) ?? 'error', attempts: tries });
    });
    if (halted) break;
    try {
      listing = await listWithRetry(session, opts);
    } catch (err) {
      // The cancels were sent: a report that threw them away would say none went through.
      const failed = batch.filter((o) => lastError.has(o.ordNo)).map((o) => ({ ordNo: o.ordNo, stkCd: o.stkCd, reason: lastError.get(o.ordNo)! }));
      return { listed: countOf(seen, counted), cancelled, cancelledOrders, notCancelled: failed, rounds, attempts, confirmed: false, error: errText(err) };
    }
    open = listing.orders;
  }
  // Stopped before the listing that confirms: the orders whose cancel Kiwoom accepted are not named open.
  const notCancelled = open
    .filter((o) => !(halted && cancelledNos.has(o.ordNo)))
    .map((o) => ({ ordNo: o.ordNo, stkCd: o.stkCd, reason: lastError.get(o.ordNo) ?? (halted ? STOPPED_BY_UNLOCK : 'still open after confirmation') }));
  for (const o of open) seen.add(o.ordNo);
  const complete = listing.complete;
  return {
    listed: countOf(seen, counted),
    cancelled,
    cancelledOrders,
    notCancelled,
    rounds,
    attempts,
    confirmed: !halted && complete && open.length === 0,
    ...(complete ? {} : { listIncomplete: true }),
    ...(halted ? { error: STOPPED_BY_UNLOCK } : {}),
  };
}
