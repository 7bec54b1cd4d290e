// Trading windows in Asia/Seoul time, and postures imposed by the policy file.
import { say, type CompiledRule } from '../compiled.js';
import type { RuleDoc } from '../document.js';
import { parseClock, WEEKDAYS } from '../clock.js';
import { base, BOOK_KINDS, EVERY_KIND, type CompileContext } from './common.js';

type Doc<T extends RuleDoc['type']> = Extract<RuleDoc, { type: T }>;

const WEEKDAYS_DEFAULT = ['mon', 'tue', 'wed', 'thu', 'fri'];

export function compileTradingWindow(doc: Doc<'trading-window'>, index: number, ctx: CompileContext): CompiledRule {
  const { lang, holidays } = ctx;
  // Per weekday, the [start, end) intervals in ms since Seoul midnight.
  const byDay: [number, number][][] = WEEKDAYS.map(() => []);
  for (const w of doc.windows) {
    for (const d of w.days ?? WEEKDAYS_DEFAULT) byDay[WEEKDAYS.indexOf(d as (typeof WEEKDAYS)[number])]!.push([parseClock(w.start), parseClock(w.end)]);
  }
  const closedOnHolidays = doc.closedOnHolidays ?? true;
  const describe = doc.windows.map((w) => `${(w.days ?? WEEKDAYS_DEFAULT).join('/')} ${w.start}-${w.end}`).join(', ');
  return {
    ...base(doc, index, 'trading-window', BOOK_KINDS, true),
    needs: 0,
    check: (f) => {
      if (closedOnHolidays && holidays.size > 0 && holidays.has(f.day)) {
        return { outcome: 'deny', reason: doc.message ?? say(lang, `휴장일입니다 (${f.day})`, `market holiday (${f.day})`) };
      }
      const tod = f.timeOfDay;
      const intervals = byDay[f.weekday]!;
      for (let i = 0; i < intervals.length; i++) {
        const iv = intervals[i]!;
        if (tod >= iv[0] && tod < iv[1]) return undefined;
      }
      return {
        outcome: 'deny',
        reason: doc.message ?? say(lang, `거래 가능 시간이 아닙니다 (KST; 허용: ${describe})`, `outside the trading window (KST; allowed: ${describe})`),
      };
    },
  };
}

export function compileTradingStateRule(doc: Doc<'trading-state'>, index: number, _ctx: CompileContext): CompiledRule {
  return {
    ...base(doc, index, 'trading-state', EVERY_KIND, true),
    needs: 0,
    posture: doc.state,
  };
}
