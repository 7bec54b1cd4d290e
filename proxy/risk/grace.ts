// The approval grace (risk.approvalGrace): once the owner approves a held
// call, calls from the same address flagged by nothing new are not held again
// for a while. "Nothing new" includes the size: a size detector scores the
// approved order and one a hundred times larger alike (its score saturates),
// so an order a size detector flags is covered only when it is on the approved
// order's side and no larger than it, in shares and in KRW.
import { notionalOf } from './baseline.js';
import type { DetectorName } from './config.js';
import type { Contribution, RiskInput } from './types.js';

/** Detectors that judge how much a call moves: what the owner approved is a size, not a licence for any size. */
const SIZE_DETECTORS: ReadonlySet<DetectorName> = new Set<DetectorName>(['volume', 'drain', 'sell_off', 'order_size']);

interface ApprovedSize {
  readonly kind: string;
  readonly side?: string;
  readonly qty?: number;
  readonly notional?: number;
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
  };
  return { at, source, detectors, size };
}

/** At most the approved amount; an amount the approved call did not have is not covered (fail closed). */
const within = (value: number | undefined, approved: number | undefined): boolean => value === undefined || (approved !== undefined && value <= approved);

/** Whether the grace covers the call: same address, every flag one the approved call had, and no larger when sized. */
export function graceCovers(g: Grace, input: RiskInput, source: string, contributions: readonly Contribution[]): boolean {
  if (g.source !== source || !contributions.every((c) => g.detectors.includes(c.detector))) return false;
  if (!contributions.some((c) => SIZE_DETECTORS.has(c.detector))) return true;
  const s = g.size;
  if (!s || s.kind !== input.kind || s.side !== input.side) return false;
  return within(input.qty, s.qty) && within(notionalOf(input), s.notional);
}
