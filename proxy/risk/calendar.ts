// The market's calendar as the risk config states it (sessions by weekday,
// holidays): whether a moment in Seoul falls inside a trading session.
import { seoulParts } from '../kiwoom/protocol/index.js';
import type { RiskConfig } from './config.js';

export interface SessionCheck {
  readonly open: boolean;
  readonly holiday: boolean;
  readonly date: string;
  readonly hhmm: string;
}

const DAY_MS = 86_400_000;
/** Calendar days tradingDaysSince looks back at most (a calendar with no sessions would otherwise walk to `sinceMs`). */
const MAX_DAYS_BACK = 400;

/**
 * The trading days (a weekday with a session, not a holiday) after `sinceMs`'s Seoul date, up to and including
 * `nowMs`'s: 0 on the same day, 1 from a Friday to the Monday after. Counted up to `cap`.
 */
export function tradingDaysSince(cfg: Pick<RiskConfig, 'sessions' | 'holidays'>, sinceMs: number, nowMs: number, cap: number): number {
  const since = seoulParts(sinceMs).date;
  let n = 0;
  // Seoul has no daylight saving: a day back is 24 hours back.
  for (let t = nowMs, k = 0; n < cap && k < MAX_DAYS_BACK; t -= DAY_MS, k++) {
    const day = seoulParts(t);
    if (day.date <= since) break;
    if (!cfg.holidays.has(day.date) && cfg.sessions.some((s) => s.days.includes(day.weekday))) n++;
  }
  return n;
}

export function sessionAt(cfg: Pick<RiskConfig, 'sessions' | 'holidays'>, nowMs: number): SessionCheck {
  const st = seoulParts(nowMs);
  const mins = st.hour * 60 + st.minute;
  const holiday = cfg.holidays.has(st.date);
  const open = !holiday && cfg.sessions.some((s) => s.days.includes(st.weekday) && mins >= s.startMin && mins < s.endMin);
  return { open, holiday, date: st.date, hhmm: `${String(st.hour).padStart(2, '0')}:${String(st.minute).padStart(2, '0')}` };
}
