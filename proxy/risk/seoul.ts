// Asia/Seoul has had no daylight saving time since 1988, so a fixed +9 h
// offset is exact and avoids depending on the host's tz database.
const SEOUL_OFFSET_MS = 9 * 3_600_000;

export interface SeoulTime {
  /** 0 = Sunday ... 6 = Saturday */
  readonly dayOfWeek: number;
  readonly hour: number;
  readonly minute: number;
  /** YYYY-MM-DD in Seoul */
  readonly date: string;
  /** dayOfWeek * 24 + hour, 0..167 */
  readonly hourOfWeek: number;
}

export function seoulTime(epochMs: number): SeoulTime {
  const d = new Date(epochMs + SEOUL_OFFSET_MS);
  const dayOfWeek = d.getUTCDay();
  const hour = d.getUTCHours();
  return {
    dayOfWeek,
    hour,
    minute: d.getUTCMinutes(),
    date: d.toISOString().slice(0, 10),
    hourOfWeek: dayOfWeek * 24 + hour,
  };
}

/** Epoch ms for a Seoul wall-clock time (used by tests and recovery deadlines). */
export function seoulToEpoch(date: string, hh = 0, mm = 0): number {
  return Date.parse(`${date}T00:00:00Z`) + (hh * 60 + mm) * 60_000 - SEOUL_OFFSET_MS;
}
