// Daily caps reset at midnight in Asia/Seoul (UTC+9, no daylight saving
// since 1988), the trading day Kiwoom uses. Put the day in a fixed-window key.
const SEOUL_OFFSET_MS = 9 * 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/** 'YYYYMMDD' of the Seoul calendar day containing epochMs. */
export function seoulDay(epochMs: number): string {
  const d = new Date(epochMs + SEOUL_OFFSET_MS);
  const y = d.getUTCFullYear();
  const m = String(d.getUTCMonth() + 1).padStart(2, '0');
  const day = String(d.getUTCDate()).padStart(2, '0');
  return `${y}${m}${day}`;
}

/** Milliseconds from epochMs to the next Seoul midnight (1..86_400_000). */
export function msUntilSeoulMidnight(epochMs: number): number {
  return DAY_MS - ((epochMs + SEOUL_OFFSET_MS) % DAY_MS);
}
