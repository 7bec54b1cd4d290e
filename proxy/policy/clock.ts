// Asia/Seoul time without a time-zone database: Korea has used UTC+9 with no
// daylight saving since 1988, so a fixed offset is exact.

export const SEOUL_OFFSET_MS = 9 * 60 * 60 * 1000;
export const DAY_MS = 24 * 60 * 60 * 1000;

/** YYYY-MM-DD of the Seoul calendar day containing `t`. */
export function seoulDate(t: number): string {
  return new Date(t + SEOUL_OFFSET_MS).toISOString().slice(0, 10);
}

/** Milliseconds since Seoul midnight. */
export function seoulTimeOfDay(t: number): number {
  const local = t + SEOUL_OFFSET_MS;
  return ((local % DAY_MS) + DAY_MS) % DAY_MS;
}

/** 0 = Monday … 6 = Sunday, in Seoul. */
export function seoulWeekday(t: number): number {
  const day = Math.floor((t + SEOUL_OFFSET_MS) / DAY_MS); // days since 1970-01-01 (a Thursday)
  return (((day + 3) % 7) + 7) % 7;
}

/** 'HH:MM' or 'HH:MM:SS' (24:00 allowed) to milliseconds since midnight. */
export function parseClock(text: string): number {
  const [h, m, s] = text.split(':').map(Number);
  return ((h ?? 0) * 3600 + (m ?? 0) * 60 + (s ?? 0)) * 1000;
}

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
