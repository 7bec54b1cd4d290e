// Trading windows in Asia/Seoul time, and postures imposed by the policy file.
import { say, type CompiledRule } from '../compiled.js';
import type { RuleDoc } from '../document.js';
import { parseClock, WEEKDAYS } from '../clock.js';
import type { Venue } from '../../kiwoom/protocol/index.js';
import { base, BOOK_KINDS, EVERY_KIND, refuse, type CompileContext } from './common.js';

type Doc<T extends RuleDoc['type']> = Extract<RuleDoc, { type: T }>;

const WEEKDAYS_DEFAULT = ['mon', 'tue', 'wed', 'thu', 'fri'];
const VENUES: readonly Venue[] = ['KRX', 'NXT', 'SOR'];

export function compileTradingWindow(doc: Doc<'trading-window'>, index: number, ctx: CompileContext): CompiledRule {
  const { lang, holidays } = ctx;
  // Per weekday, the [start, end) intervals in ms since Seoul midnight, each with the venues it is for (undefined: all).
  const byDay: [number, number, ReadonlySet<string> | undefined][][] = WEEKDAYS.map(() => []);
  for (const w of doc.windows) {
    const venues = w.markets ? new Set<string>(w.markets) : undefined;
    for (const d of w.days ?? WEEKDAYS_DEFAULT) byDay[WEEKDAYS.indexOf(d as (typeof WEEKDAYS)[number])]!.push([parseClock(w.start), parseClock(w.end), venues]);
  }
  const closedOnHolidays = doc.closedOnHolidays ?? true;
  // The refusal names the windows of the call's venue (dmst_stex_tp) only: a KRX order at 19:00 is told KRX's hours.
  const describe = (venue: Venue | undefined): string =>
    doc.windows
      .filter((w) => w.markets === undefined || (venue !== undefined && w.markets.includes(venue)))
      .map((w) => `${w.markets ? `${w.markets.join('/')} ` : ''}${(w.days ?? WEEKDAYS_DEFAULT).join('/')} ${w.start}-${w.end}`)
      .join(', ');
  // Precomputed per venue; a venue the policy cannot name (another spelling, none at all) is not echoed back.
  const venueAware = doc.windows.some((w) => w.markets !== undefined);
  const refusalFor = (venue: Venue | undefined): string => {
    const allowed = describe(venue);
    if (!venueAware) return say(lang, `거래 가능 시간이 아닙니다 (KST; 허용: ${allowed})`, `outside the trading window (KST; allowed: ${allowed})`);
    const where = venue ?? say(lang, '시장 구분(dmst_stex_tp) 없음 또는 알 수 없음', 'no known venue (dmst_stex_tp)');
    return allowed === ''
      ? say(lang, `${where}: 이 시장에는 거래 가능 시간이 없습니다`, `${where}: no trading window is set for this venue`)
      : say(lang, `거래 가능 시간이 아닙니다 (${where}, KST; 허용: ${allowed})`, `outside the trading window (${where}, KST; allowed: ${allowed})`);
  };
  const refusals = new Map<string, string>(VENUES.map((v) => [v, refusalFor(v)]));
  const otherRefusal = refusalFor(undefined);
  return {
    ...base(doc, index, 'trading-window', BOOK_KINDS, true),
    needs: 0,
    check: (f) => {
      if (closedOnHolidays && holidays.size > 0 && holidays.has(f.day)) {
        return refuse(doc, lang, `휴장일입니다 (${f.day})`, `market holiday (${f.day})`);
      }
      const tod = f.timeOfDay;
      const venue = f.venue;
      const intervals = byDay[f.weekday]!;
      for (let i = 0; i < intervals.length; i++) {
        const iv = intervals[i]!;
        if (tod >= iv[0] && tod < iv[1] && (iv[2] === undefined || (venue !== undefined && iv[2].has(venue)))) return undefined;
      }
      return { outcome: 'deny', reason: doc.message ?? (venue === undefined ? otherRefusal : (refusals.get(venue) ?? otherRefusal)) };
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
