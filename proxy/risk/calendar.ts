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

export function sessionAt(cfg: Pick<RiskConfig, 'sessions' | 'holidays'>, nowMs: number): SessionCheck {
  const st = seoulParts(nowMs);
  const mins = st.hour * 60 + st.minute;
  const holiday = cfg.holidays.has(st.date);
  const open = !holiday && cfg.sessions.some((s) => s.days.includes(st.weekday) && mins >= s.startMin && mins < s.endMin);
  return { open, holiday, date: st.date, hhmm: `${String(st.hour).padStart(2, '0')}:${String(st.minute).padStart(2, '0')}` };
}
