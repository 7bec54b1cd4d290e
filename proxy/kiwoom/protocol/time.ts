// Kiwoom's time formats, all in Korea time (UTC+9): au10001's expires_dt
// (YYYYMMDDHHMMSS) and order/fill times (HHmmss, today). The Seoul calendar
// itself (offset, date, weekday with 0 = Sunday) lives in common/kst.ts so the
// infrastructure layer can use it too; it is re-exported here.
import { KST_OFFSET_MS, seoulMidnight } from '../../common/kst.js';

export {
  DAY_MS,
  KST_OFFSET_MS,
  msUntilSeoulMidnight,
  seoulDate,
  seoulDay,
  seoulMidnight,
  seoulParts,
  seoulTimeOfDay,
  seoulToEpoch,
  seoulWeekday,
  type SeoulParts,
} from '../../common/kst.js';

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** expires_dt: YYYYMMDDHHMMSS in Korea time → the instant; undefined unless 14 digits. */
export function parseExpiresDt(s: unknown): Date | undefined {
  if (typeof s !== 'string' || !/^\d{14}$/.test(s)) return undefined;
  const [y, mo, d, h, mi, se] = [s.slice(0, 4), s.slice(4, 6), s.slice(6, 8), s.slice(8, 10), s.slice(10, 12), s.slice(12, 14)].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return new Date(Date.UTC(y, mo - 1, d, h, mi, se) - KST_OFFSET_MS);
}

/** The instant (a Date or epoch ms) → expires_dt, YYYYMMDDHHMMSS in Korea time. */
export function formatExpiresDt(at: Date | number): string {
  const k = new Date((typeof at === 'number' ? at : at.getTime()) + KST_OFFSET_MS);
  return `${pad(k.getUTCFullYear(), 4)}${pad(k.getUTCMonth() + 1)}${pad(k.getUTCDate())}${pad(k.getUTCHours())}${pad(k.getUTCMinutes())}${pad(k.getUTCSeconds())}`;
}

/** HHmmss in Korea time, as in order and fill lists (tm, ord_tm). */
export function formatHhmmss(epochMs: number): string {
  return formatExpiresDt(epochMs).slice(8);
}

/** HHmmss today in Seoul (Kiwoom's order and fill inquiries cover the current day) → epoch ms; undefined unless 6 digits. */
export function hhmmssToEpoch(hhmmss: string, nowMs: number): number | undefined {
  if (!/^\d{6}$/.test(hhmmss)) return undefined;
  const secs = Number(hhmmss.slice(0, 2)) * 3600 + Number(hhmmss.slice(2, 4)) * 60 + Number(hhmmss.slice(4, 6));
  return seoulMidnight(nowMs) + secs * 1000;
}
