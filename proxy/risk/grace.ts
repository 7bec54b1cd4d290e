// The approval grace (risk.approvalGrace): once the owner approves a held
// call, calls from the same address flagged by nothing new are not held again
// for a while. "Nothing new" includes the size: a size detector scores the
// approved order and one a hundred times larger alike (its score saturates),
// so an order a size detector flags is covered only when it is on the approved
// order's side and at most sizeFactor times its KRW (and its shares, in the same
// stock: share counts of different stocks say nothing of each other). The
// factor leaves room for the next order of a deliberate change (a rebalance
// into another name of the same value), not for one a hundred times larger.
import type { Store } from '../state/types.js';
import { normaliseIp, notionalOf, symbolOf } from './baseline.js';
import type { DetectorName, RiskConfig } from './config.js';
import type { Contribution, RiskInput } from './types.js';

/** Detectors that judge how much a call moves: what the owner approved is a size, not a licence for any size. */
const SIZE_DETECTORS: ReadonlySet<DetectorName> = new Set<DetectorName>(['volume', 'drain', 'sell_off', 'order_size']);

interface ApprovedSize {
  readonly kind: string;
  readonly side?: string;
  readonly qty?: number;
  readonly notional?: number;
  readonly stkCd?: string;
}

export interface Grace {
  readonly at: number;
  readonly source: string;
  readonly detectors: readonly string[];
  readonly size?: ApprovedSize;
}

/** The grace an approved call opens, for what flagged it. */
export function openGrace(input: RiskInput, at: number, source: string, detectors: readonly string[]): Grace {
  const notional = notionalOf(input);
  const size: ApprovedSize = {
    kind: input.kind,
    ...(input.side !== undefined ? { side: input.side } : {}),
    ...(input.qty !== undefined ? { qty: input.qty } : {}),
    ...(notional !== undefined ? { notional } : {}),
    ...(input.stkCd !== undefined ? { stkCd: input.stkCd } : {}),
  };
  return { at, source, detectors, size };
}

/** At most `factor` times the approved amount; an amount the approved call did not have is not covered (fail closed). */
const within = (value: number | undefined, approved: number | undefined, factor: number): boolean =>
  value === undefined || (approved !== undefined && value <= approved * factor);

/** Whether the grace covers the call: same address, every flag one the approved call had, and no larger (sizeFactor) when sized. */
export function graceCovers(g: Grace, input: RiskInput, source: string, contributions: readonly Contribution[], sizeFactor: number): boolean {
  if (g.source !== source || !contributions.every((c) => g.detectors.includes(c.detector))) return false;
  if (!contributions.some((c) => SIZE_DETECTORS.has(c.detector))) return true;
  const s = g.size;
  if (!s || s.kind !== input.kind || s.side !== input.side) return false;
  // One stock however the code is spelt (A005930, 005930_AL, 005930): the policy and Kiwoom read them as one, so
  // another spelling must not make more shares of the approved stock look like shares of another.
  const stock = symbolOf(input.stkCd);
  const sameStock = stock !== undefined && stock === symbolOf(s.stkCd);
  const notional = notionalOf(input);
  // Without a price on either side only shares of one stock compare.
  if (notional === undefined || s.notional === undefined) return sameStock && input.qty !== undefined && within(input.qty, s.qty, sizeFactor);
  return within(notional, s.notional, sizeFactor) && (!sameStock || within(input.qty, s.qty, sizeFactor));
}

export const graceKey = (botId: string): string => `risk:grace:${botId}`;

/**
 * The grace an approval opened, when the call comes from the approved call's address, every detector that flagged
 * it also flagged the approved one (the same flags from another address are other evidence), and a size it is
 * flagged for is no larger than the approved one's.
 */
export async function graceFor(store: Store, cfg: RiskConfig, input: RiskInput, contributions: readonly Contribution[], nowMs: number) {
  const raw = await store.get(graceKey(input.botId));
  if (!raw) return undefined;
  const g = JSON.parse(raw) as Grace;
  if (!(nowMs >= g.at && nowMs - g.at < cfg.approvalGrace.windowMs)) return undefined;
  if (!graceCovers(g, input, normaliseIp(input.sourceIp), contributions, cfg.approvalGrace.sizeFactor)) return undefined;
  return { detectors: g.detectors, at: g.at, minutes: cfg.approvalGrace.windowMs / 60_000 };
}
