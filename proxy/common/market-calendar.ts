// How far ahead a list of KRX closed days reaches. A list names each year's holidays as the exchange announces
// them, so it is taken to cover through 31 December of the latest year it names; past that, every holiday would be
// read as a trading day without a word. The policy's calendar.holidays, risk.holidays and
// response.compensation.holidays (the days compensation deadlines skip) are judged alike: fewer
// than `warnDays` days left is said at policy load (log), in /readyz (a warning: the replica stays ready), in the
// posture report and in kguard_calendar_days_left. An empty list keeps no calendar and is not judged here.
import type { Language } from './errors.js';
import { daysBetweenDates, seoulDate } from './kst.js';

export type CalendarName = 'policy' | 'risk' | 'compensation';

export interface CalendarCoverage {
  readonly calendar: CalendarName;
  /** The last Seoul date the list covers: 31 December of the latest year it names. */
  readonly coveredThrough: string;
  /** Whole days from today (Seoul) to coveredThrough; negative once it has run out. */
  readonly daysLeft: number;
  /** Fewer than warnDays days left (0 days of warning: never). */
  readonly short: boolean;
}

/** policy.calendarWarnDays when not configured. */
export const CALENDAR_WARN_DAYS_DEFAULT = 30;

/** undefined: the list is empty. */
export function calendarCoverage(calendar: CalendarName, holidays: Iterable<string>, nowMs: number, warnDays: number): CalendarCoverage | undefined {
  let last = '';
  for (const d of holidays) if (d > last) last = d;
  if (last === '') return undefined;
  const coveredThrough = `${last.slice(0, 4)}-12-31`;
  const daysLeft = daysBetweenDates(seoulDate(nowMs), coveredThrough);
  return { calendar, coveredThrough, daysLeft, short: warnDays > 0 && daysLeft < warnDays };
}

const WHERE = {
  policy: { ko: '정책의 휴장일 목록(calendar.holidays)', en: "the policy's holiday list (calendar.holidays)" },
  risk: { ko: '리스크 휴장일 목록(risk.holidays)', en: 'the risk holiday list (risk.holidays)' },
  compensation: { ko: '보상 기한의 휴일 목록(response.compensation.holidays)', en: 'the compensation holiday list (response.compensation.holidays)' },
} as const;

/** What a list past its end gets wrong, and what to add: KRX closed days, or (compensation) public holidays. */
const PAST = {
  market: {
    en: { ran: 'KRX holidays since are treated as trading days', ends: 'from then KRX holidays would be treated as trading days' },
    ko: { ran: '그 뒤의 KRX 휴장일이 거래일로 처리됩니다', ends: '그 뒤의 KRX 휴장일은 거래일로 처리됩니다' },
    add: {
      en: ["add the exchange's announced closed days", "add the next year's announced closed days"],
      ko: ['거래소가 공고한 휴장일을 추가하세요', '다음 해 거래소 공고 휴장일을 추가하세요'],
    },
  },
  compensation: {
    en: {
      ran: 'holidays since count as business days in compensation deadlines',
      ends: 'from then holidays would count as business days in compensation deadlines',
    },
    ko: { ran: '그 뒤의 휴일이 보상 기한의 영업일로 계산됩니다', ends: '그 뒤의 휴일은 보상 기한의 영업일로 계산됩니다' },
    add: { en: ['add the public holidays since', "add the next year's public holidays"], ko: ['그 뒤의 공휴일을 추가하세요', '다음 해 공휴일을 추가하세요'] },
  },
} as const;

/** What an operator reads about a short calendar, in their language. */
export function calendarWarning(c: CalendarCoverage, lang: Language): string {
  const where = WHERE[c.calendar][lang];
  const past = PAST[c.calendar === 'compensation' ? 'compensation' : 'market'];
  const [addRan, addEnds] = past.add[lang];
  if (lang === 'en')
    return c.daysLeft < 0
      ? `${where} ran out on ${c.coveredThrough} (${-c.daysLeft} days ago): ${past.en.ran}; ${addRan}`
      : `${where} ends on ${c.coveredThrough} (${c.daysLeft} days left): ${past.en.ends}; ${addEnds}`;
  return c.daysLeft < 0
    ? `${where}이 ${c.coveredThrough}에 끝났습니다 (${-c.daysLeft}일 지남): ${past.ko.ran}. ${addRan}`
    : `${where}이 ${c.coveredThrough}에 끝납니다 (${c.daysLeft}일 남음): ${past.ko.ends}. ${addEnds}`;
}
