// The policy document's clock and weekday syntax. Seoul time itself (offset,
// date, time of day, weekday numbers) comes from proxy/kiwoom/protocol.

/** 'HH:MM' or 'HH:MM:SS' (24:00 allowed) to milliseconds since midnight. */
export function parseClock(text: string): number {
  const [h, m, s] = text.split(':').map(Number);
  return ((h ?? 0) * 3600 + (m ?? 0) * 60 + (s ?? 0)) * 1000;
}

/** Weekday names as the policy document writes them, indexed by weekday number (0 = Sunday, as seoulWeekday). */
export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
