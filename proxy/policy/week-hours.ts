// The hours of the week a trading-window rule opens, compared between two
// versions of it: what the new windows open that the old ones did not, and
// what they close. Each weekday is a set of [start, end) intervals; overlapping
// and touching windows merge, so a rewrite into other pieces opens nothing.
import { parseClock, WEEKDAYS } from './clock.js';

/** A stretch of one weekday, as the policy writes it (end exclusive; 24:00 is midnight at its end). */
export interface WeekSpan {
  readonly day: (typeof WEEKDAYS)[number];
  readonly start: string;
  readonly end: string;
}
interface WindowDoc {
  readonly days?: readonly string[];
  readonly start: string;
  readonly end: string;
}
type Interval = [start: number, end: number];

const WEEKDAYS_DEFAULT = ['mon', 'tue', 'wed', 'thu', 'fri'];
/** Monday first, as a reviewer reads a week. */
const WEEK_ORDER = [1, 2, 3, 4, 5, 6, 0];

/** Per weekday (0 = Sunday), the merged intervals in ms since Seoul midnight. */
function byWeekday(windows: readonly WindowDoc[]): Interval[][] {
  const days: Interval[][] = WEEKDAYS.map(() => []);
  for (const w of windows) {
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

function spans(perDay: readonly Interval[][]): WeekSpan[] {
  return WEEK_ORDER.flatMap((d) => perDay[d]!.map(([s, e]) => ({ day: WEEKDAYS[d]!, start: clock(s), end: clock(e) })));
}

/** What the new windows open that the old ones kept closed, and what they close that the old ones opened. */
export function weekHours(oldWindows: readonly WindowDoc[] = [], newWindows: readonly WindowDoc[] = []): { opened: WeekSpan[]; closed: WeekSpan[] } {
  const before = byWeekday(oldWindows);
  const after = byWeekday(newWindows);
  return {
    opened: spans(after.map((iv, d) => subtract(iv, before[d]!))),
    closed: spans(before.map((iv, d) => subtract(iv, after[d]!))),
  };
}
