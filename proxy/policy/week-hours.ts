// The hours of the week a trading-window rule opens, compared between two
// versions of it: what the new windows open that the old ones did not, and
// what they close. Each weekday is a set of [start, end) intervals; overlapping
// and touching windows merge, so a rewrite into other pieces opens nothing.
// A window may be for some venues only (markets): the week is compared per
// venue, and a stretch that moved for some venues only is named with them.
import { parseClock, WEEKDAYS } from './clock.js';

/** A stretch of one weekday, as the policy writes it (end exclusive; 24:00 is midnight at its end). */
export interface WeekSpan {
  readonly day: (typeof WEEKDAYS)[number];
  readonly start: string;
  readonly end: string;
  /** The venues it opened or closed for, when not for every call ('none': calls that name no known venue). */
  readonly markets?: readonly SpanVenue[];
}
interface WindowDoc {
  readonly days?: readonly string[];
  readonly start: string;
  readonly end: string;
  readonly markets?: readonly string[];
}
/** Who a window can be for: each venue, and the calls that name none a policy knows (only windows without markets). */
export type SpanVenue = 'KRX' | 'NXT' | 'SOR' | 'none';
const SPAN_VENUES: readonly SpanVenue[] = ['KRX', 'NXT', 'SOR', 'none'];
type Interval = [start: number, end: number];

const WEEKDAYS_DEFAULT = ['mon', 'tue', 'wed', 'thu', 'fri'];
/** Monday first, as a reviewer reads a week. */
const WEEK_ORDER = [1, 2, 3, 4, 5, 6, 0];

/** Per weekday (0 = Sunday), the merged intervals in ms since Seoul midnight of the windows that are for `venue`. */
function byWeekday(windows: readonly WindowDoc[], venue: SpanVenue): Interval[][] {
  const days: Interval[][] = WEEKDAYS.map(() => []);
  for (const w of windows) {
    if (w.markets !== undefined && !w.markets.includes(venue)) continue;
    const start = parseClock(w.start);
    const end = parseClock(w.end);
    if (end <= start) continue; // opens nothing (the loader refuses it; a diff of an older file must not break on one)
    for (const d of w.days ?? WEEKDAYS_DEFAULT) days[WEEKDAYS.indexOf(d as (typeof WEEKDAYS)[number])]?.push([start, end]);
  }
  return days.map(merge);
}

function merge(intervals: Interval[]): Interval[] {
  const out: Interval[] = [];
  for (const [s, e] of [...intervals].sort((a, b) => a[0] - b[0])) {
    const last = out[out.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

/** The parts of `a` that `b` does not cover (both merged and sorted). */
function subtract(a: readonly Interval[], b: readonly Interval[]): Interval[] {
  const out: Interval[] = [];
  for (const [s0, e] of a) {
    let s = s0;
    for (const [bs, be] of b) {
      if (be <= s || bs >= e) continue;
      if (bs > s) out.push([s, bs]);
      s = Math.max(s, be);
    }
    if (s < e) out.push([s, e]);
  }
  return out;
}

function clock(ms: number): string {
  const total = Math.round(ms / 1000);
  const [h, m, s] = [Math.floor(total / 3600), Math.floor(total / 60) % 60, total % 60];
  const hm = `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`;
  return s === 0 ? hm : `${hm}:${String(s).padStart(2, '0')}`;
}

/** Per venue, per weekday, the intervals → the week's spans, a stretch that is the same for every venue named once without them. */
function spans(perVenue: readonly Interval[][][]): WeekSpan[] {
  const out: WeekSpan[] = [];
  for (const d of WEEK_ORDER) {
    const venuesOf = new Map<string, { s: number; e: number; venues: SpanVenue[] }>();
    perVenue.forEach((perDay, vi) => {
      for (const [s, e] of perDay[d]!) {
        const key = `${s}-${e}`;
        const hit = venuesOf.get(key) ?? { s, e, venues: [] };
        hit.venues.push(SPAN_VENUES[vi]!);
        venuesOf.set(key, hit);
      }
    });
    for (const { s, e, venues } of [...venuesOf.values()].sort((a, b) => a.s - b.s || a.e - b.e)) {
      const span = { day: WEEKDAYS[d]!, start: clock(s), end: clock(e) };
      out.push(venues.length === SPAN_VENUES.length ? span : { ...span, markets: venues });
    }
  }
  return out;
}

/** What the new windows open that the old ones kept closed, and what they close that the old ones opened, venue by venue. */
export function weekHours(oldWindows: readonly WindowDoc[] = [], newWindows: readonly WindowDoc[] = []): { opened: WeekSpan[]; closed: WeekSpan[] } {
  const before = SPAN_VENUES.map((v) => byWeekday(oldWindows, v));
  const after = SPAN_VENUES.map((v) => byWeekday(newWindows, v));
  return {
    opened: spans(after.map((perDay, vi) => perDay.map((iv, d) => subtract(iv, before[vi]![d]!)))),
    closed: spans(before.map((perDay, vi) => perDay.map((iv, d) => subtract(iv, after[vi]![d]!)))),
  };
}
