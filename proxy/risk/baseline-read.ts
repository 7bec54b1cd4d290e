// Reading a bot's stored baseline document (baseline.ts): one this sidecar cannot read is reported, not used.
import type { Baseline, RateBaseline } from './baseline.js';

/**
 * The stored document as a baseline, or undefined when it cannot be one (not JSON, cut short, a field missing or of
 * another kind): the caller judges the bot as having none (warm-up, as a missing one) and says so, rather than let
 * a detector or learnInto fail on it at every call. Optional fields are filled in as they learn.
 */
export function readBaseline(json: string): Baseline | undefined {
  let b: Baseline;
  try {
    b = JSON.parse(json) as Baseline;
  } catch {
    return undefined;
  }
  const obj = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v);
  const nums = (...vs: unknown[]): boolean => vs.every((v) => typeof v === 'number' && Number.isFinite(v));
  const rate = (r: RateBaseline | undefined): boolean => obj(r) && nums(r!.minute, r!.count, r!.ewma, r!.minutes);
  const ok =
    obj(b) &&
    b.v === 1 &&
    Array.isArray(b.hourOfWeek) &&
    b.hourOfWeek.length === 168 &&
    nums(b.firstSeen, b.lastSeen, b.calls, b.orders, b.orderShare) &&
    [b.sources, b.clients, b.apis, b.symbols].every(obj) &&
    Array.isArray(b.logQty) &&
    Array.isArray(b.logNotional) &&
    rate(b.rate) &&
    rate(b.cancelRate) &&
    obj(b.sells) &&
    Array.isArray(b.sells.distinct);
  if (!ok) return undefined;
  // An optional part that cannot be read is learned afresh rather than fail every call of the bot.
  if (b.sequence !== undefined && !sequenceReadable(b.sequence)) delete b.sequence;
  return b;
}

/** The orders' lead-ins at the top, the account reads' (when any) under `reads`: both readable. */
function sequenceReadable(s: unknown): boolean {
  const reads = (s as { reads?: unknown } | null)?.reads;
  return leadSetReadable(s) && (reads === undefined || reads === null || leadSetReadable(reads));
}

function leadSetReadable(s: unknown): boolean {
  if (typeof s !== 'object' || s === null) return false;
  const { days, day, leads } = s as { days?: unknown; day?: unknown; leads?: unknown };
  // The last day is a Seoul date: sequence counts the days since it (oneOffDays).
  const lead = (l: unknown): boolean =>
    Array.isArray(l) && l.length === 3 && Number.isFinite(l[0]) && Number.isFinite(l[1]) && typeof l[2] === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(l[2]);
  return Number.isFinite(days) && typeof day === 'string' && typeof leads === 'object' && leads !== null && Object.values(leads).every(lead);
}
