// A bot's stored baseline document (baseline.ts) as text: written once per learned call, and read back, where one
// this sidecar cannot read is reported, not used.
import { type Baseline, LOG_SCALE, LOG_WINDOWS, type RateBaseline } from './baseline.js';
import { modelJson } from './model.js';

/** The stored document: a baseline whose log windows are integers of 1/logScale (absent: floats, as written before). */
type Stored = Omit<Baseline, (typeof LOG_WINDOWS)[number]> & { logScale?: number } & Partial<Record<(typeof LOG_WINDOWS)[number], number[]>>;

/**
 * The baseline's JSON text, written once per learned call: its log windows as integers (LOG_SCALE) and its learned
 * model's text put together by modelJson (10 KB of base64 need no scan for characters to escape), both of which
 * JSON.stringify was slow at. The model comes last; readers do not mind the order.
 */
export function baselineJson(b: Baseline): string {
  const stored: Stored = { ...b, model: undefined, logScale: LOG_SCALE };
  for (const w of LOG_WINDOWS) {
    const logs = b[w];
    if (logs) stored[w] = logs.map((x) => Math.round(x * LOG_SCALE));
  }
  const text = JSON.stringify(stored);
  return b.model === undefined ? text : `${text.slice(0, -1)},"model":${modelJson(b.model)}}`;
}

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
  if (!ok || !logsReadable(b as Stored)) return undefined;
  // An optional part that cannot be read is learned afresh rather than fail every call of the bot.
  if (b.sequence !== undefined && !sequenceReadable(b.sequence)) delete b.sequence;
  const d = b.dormantBuys;
  if (d !== undefined && !(obj(d) && nums(d.days, d.dormant) && typeof d.day === 'string')) delete b.dormantBuys;
  const c = b.callDays;
  if (c !== undefined && !(obj(c) && nums(c.days, c.count, c.ewma, c.max) && typeof c.day === 'string')) delete b.callDays;
  return b;
}

/**
 * The log windows back in natural logs, in place: integers of 1/LOG_SCALE give the very numbers learnInto pushed; a
 * document written before (no logScale) holds floats, rounded here to what it pushes now, so what is kept in memory
 * is what the next write stores. False when a window is no list of finite numbers or the scale is another.
 */
function logsReadable(s: Stored): boolean {
  if (s.logScale !== undefined && s.logScale !== LOG_SCALE) return false;
  const integers = s.logScale === LOG_SCALE;
  delete s.logScale;
  for (const w of LOG_WINDOWS) {
    const logs = s[w];
    if (logs === undefined) continue;
    if (!Array.isArray(logs) || !logs.every((x) => Number.isFinite(x) && (!integers || Number.isInteger(x)))) return false;
    s[w] = integers ? logs.map((x) => x / LOG_SCALE) : logs.map((x) => Math.round(x * LOG_SCALE) / LOG_SCALE);
  }
  return true;
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
