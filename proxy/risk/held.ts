// A held call's judgement, kept for its retry. In approval mode `pending` the
// bot is answered at once and sends the held call again with the approval's
// id: a new request, judged afresh, that neither counts toward escalation nor
// has a lead-in of its own. What the held call counted, the detectors that
// held it and its lead-in (an order's or read's) are kept under the call's fields, so the
// retry its owner approved takes the count off, opens the approval grace and
// teaches the lead-in, as a call approved while it waited does.
import { createHash } from 'node:crypto';
import type { Store } from '../state/types.js';
import type { RiskInput } from './types.js';

export interface HeldCall {
  /** The escalation bucket the held call was counted in. */
  readonly hotKey?: string;
  /** The detectors that flagged it. */
  readonly detectors: readonly string[];
  /** An order's or account read's lead-in (sequence.ts). */
  readonly lead?: string;
}

/**
 * The bot and what the call does (api-id, stock, side, quantity, price, condition): what an approval is bound to, as
 * the engine sees it. An order at the market sent no price: the one the sidecar gave it (a read's, a quote's) has
 * moved by the retry, which is still the call its owner approved.
 */
function heldKey(input: RiskInput): string {
  const price = input.pricedBy ? null : (input.price ?? null);
  const what = JSON.stringify([input.apiId, input.stkCd ?? null, input.side ?? null, input.qty ?? null, price, input.condition ?? null]);
  return `risk:held:${input.botId}:${createHash('sha256').update(what).digest('hex').slice(0, 32)}`;
}

export async function noteHeld(store: Store, input: RiskInput, held: HeldCall, ttlMs: number): Promise<void> {
  await store.set(heldKey(input), JSON.stringify(held), ttlMs);
}

/** The held call this retry sends again, taken (read once): undefined when none is kept (expired, or held before this version). */
export async function takeHeld(store: Store, input: RiskInput): Promise<HeldCall | undefined> {
  const key = heldKey(input);
  const raw = await store.get(key);
  if (raw === null) return undefined;
  await store.del(key);
  try {
    const h = JSON.parse(raw) as HeldCall;
    return Array.isArray(h.detectors) ? h : undefined;
  } catch {
    return undefined;
  }
}
