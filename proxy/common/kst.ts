// Korea Standard Time (Asia/Seoul) without a time-zone database: Korea has
// used UTC+9 with no daylight saving since 1988, so a fixed offset is exact.
// This is the only place that knows the offset. It lives in common so that
// infrastructure parts (state) can use it; the domain parts take it through
// proxy/kiwoom/protocol, which re-exports it with Kiwoom's own time formats.
//
// Weekdays have ONE convention in this code base: 0 = Sunday … 6 = Saturday,
// as Date#getUTCDay (and the risk config's `sessions[].days`). Parts with
// weekday names (the policy's 'mon'…'sun') map names to these numbers.

export const KST_OFFSET_MS = 9 * 3_600_000;
export const DAY_MS = 86_400_000;

/** Wall-clock parts of an instant in Seoul. */
export interface SeoulParts {
  /** YYYY-MM-DD */
  readonly date: string;
  readonly year: number;
  /** 1..12 */
  readonly month: number;
  /** 1..31 */
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  /** 0 = Sunday … 6 = Saturday */
  readonly weekday: number;
  /** Milliseconds since Seoul midnight. */
  readonly msOfDay: number;
}

export function seoulParts(epochMs: number): SeoulParts {
  // The shifted instant read in UTC is Seoul's wall clock.
  const d = new Date(epochMs + KST_OFFSET_MS);
  return {
    date: d.toISOString().slice(0, 10),
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    weekday: d.getUTCDay(),
    msOfDay: seoulTimeOfDay(epochMs),
  };
}

/** YYYY-MM-DD of the Seoul calendar day containing epochMs. */
export function seoulDate(epochMs: number): string {
  return new Date(epochMs + KST_OFFSET_MS).toISOString().slice(0, 10);
}

/** Calendar days from date `from` to date `to` (both YYYY-MM-DD; negative when `to` is earlier). */
export function daysBetweenDates(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS);
}

/** YYYYMMDD of the Seoul calendar day containing epochMs (for fixed-window keys). */
export function seoulDay(epochMs: number): string {
  const iso = new Date(epochMs + KST_OFFSET_MS).toISOString();
  return iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10);
}

/** Milliseconds since Seoul midnight (0..86_399_999). */
export function seoulTimeOfDay(epochMs: number): number {
  const local = epochMs + KST_OFFSET_MS;
  return ((local % DAY_MS) + DAY_MS) % DAY_MS;
}

/** 0 = Sunday … 6 = Saturday, in Seoul. */
export function seoulWeekday(epochMs: number): number {
  const day = Math.floor((epochMs + KST_OFFSET_MS) / DAY_MS); // days since 1970-01-01, a Thursday (4)
  return (((day + 4) % 7) + 7) % 7;
}

/** Epoch ms of the Seoul midnight that starts the day containing epochMs. */
export function seoulMidnight(epochMs: number): number {
  return epochMs - seoulTimeOfDay(epochMs);
}

/** Milliseconds from epochMs to the next Seoul midnight (1..86_400_000). */
export function msUntilSeoulMidnight(epochMs: number): number {
  return DAY_MS - seoulTimeOfDay(epochMs);
}

/** Epoch ms of a Seoul wall-clock time on a Seoul date (YYYY-MM-DD). */
export function seoulToEpoch(date: string, hh = 0, mm = 0, ss = 0): number {
  return Date.parse(`${date}T00:00:00Z`) + ((hh * 60 + mm) * 60 + ss) * 1000 - KST_OFFSET_MS;
}
