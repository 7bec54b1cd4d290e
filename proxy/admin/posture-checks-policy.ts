// Posture checks on the policy in force, as it applies to one bot's orders:
// size and rate limits, market orders, a trading window, and whether that
// window is enforced or only in shadow mode.
import { calendarWarning } from '../common/market-calendar.js';
import { fail, listed, pass, type PostureCheck, type Verdict } from './posture-kit.js';
import { coverage, marketTypesAllowed } from './posture-policy.js';
import type { PostureRule, PostureSnapshot } from './posture-types.js';

/** Runs `judge` on the policy's rules when the bot can order and the policy could be read; otherwise the common verdicts. */
function onOrders(s: PostureSnapshot, judge: (rules: readonly PostureRule[]) => Verdict): Verdict {
  if (!s.bot.canOrder)
    return pass('이 봇의 허용 목록에는 주문 API가 없어 주문을 낼 수 없습니다.', "the bot's allowlist has no order api-id: it cannot place orders");
  const p = s.policy;
  if (p.state !== 'loaded') {
    const why = {
      missing: ['적용 중인 정책이 없습니다', 'no valid policy is in force'],
      changed: [
        '디스크의 정책 파일이 적용 중인 정책과 다릅니다 (거부된 편집이나 아직 반영되지 않은 편집)',
        'the policy file on disk is not the policy in force (a rejected or pending edit)',
      ],
      unreadable: ['적용 중인 정책 파일을 다시 읽지 못했습니다', 'the policy file in force could not be read again'],
    }[p.state];
    return fail(`${why[0]}: ${p.detail}. 이 검사를 판단할 수 없습니다.`, `${why[1]}: ${p.detail}; this cannot be judged`);
  }
  return judge(p.rules);
}

const extra = (c: { shadow: readonly string[]; partial: readonly string[] }, lang: 'ko' | 'en'): string => {
  const parts: string[] = [];
  if (c.shadow.length) parts.push(lang === 'ko' ? `섀도 모드: ${listed(c.shadow)}` : `shadow only: ${listed(c.shadow)}`);
  if (c.partial.length) parts.push(lang === 'ko' ? `일부 주문만: ${listed(c.partial)}` : `some orders only: ${listed(c.partial)}`);
  return parts.length ? ` (${parts.join('; ')})` : '';
};

export const orderLimits: PostureCheck = {
  id: 'order-limits',
  area: 'policy',
  weight: 10,
  title: { ko: '주문 한도 (수량·금액, 속도)', en: 'Order limits (size and rate)' },
  recommendation: {
    anchor: 'order-limits',
    ko: '이 봇의 모든 주문을 고르는 order-size 규칙(maxQuantity, maxNotional)과 rate-limit 규칙(when: { kinds: [order, modify, cancel] })을 enforce 모드로 두고 kguard policy explain 으로 확인하세요.',
    en: 'Add an order-size rule (maxQuantity, maxNotional) and a rate-limit rule (when: { kinds: [order, modify, cancel] }) that select every order of this bot, in enforce mode; check with kguard policy explain.',
  },
  run: (s) =>
    onOrders(s, (rules) => {
      const size = coverage(rules, 'order-size', s.bot);
      const rate = coverage(rules, 'rate-limit', s.bot);
      if (size.enforced.length > 0 && rate.enforced.length > 0)
        return pass(
          `주문 수량·금액 한도(${listed(size.enforced)})와 속도 한도(${listed(rate.enforced)})가 이 봇의 모든 주문에 적용됩니다.`,
          `size limits (${listed(size.enforced)}) and rate limits (${listed(rate.enforced)}) apply to every order of this bot`,
        );
      const missingKo = [size.enforced.length ? '' : `order-size${extra(size, 'ko')}`, rate.enforced.length ? '' : `rate-limit${extra(rate, 'ko')}`].filter(
        Boolean,
      );
      const missingEn = [size.enforced.length ? '' : `order-size${extra(size, 'en')}`, rate.enforced.length ? '' : `rate-limit${extra(rate, 'en')}`].filter(
        Boolean,
      );
      return fail(
        `이 봇의 주문 전체에 적용되는 강제 규칙이 없습니다: ${missingKo.join(', ')}. 한 번의 실수나 탈취로 계좌 전체가 주문될 수 있습니다.`,
        `no enforced rule limits every order of this bot: ${missingEn.join(', ')}; one bug or one stolen secret can order the whole account`,
      );
    }),
};

export const marketOrders: PostureCheck = {
  id: 'market-orders',
  area: 'policy',
  weight: 6,
  title: { ko: '시장가 주문', en: 'Market orders' },
  recommendation: {
    anchor: 'market-orders',
    ko: '이 봇에 trade-types 규칙으로 지정가만 허용하세요 (allow: [limit], 또는 deny: [market, market-ioc, market-fok]).',
    en: 'Allow this bot limit orders only with a trade-types rule (allow: [limit], or deny: [market, market-ioc, market-fok]).',
  },
  run: (s) =>
    onOrders(s, (rules) => {
      const allowed = marketTypesAllowed(rules, s.bot);
      if (allowed.length === 0) return pass('시장가 주문은 정책이 거부합니다.', 'market orders are refused by the policy');
      return fail(
        `시장가 주문이 허용됩니다 (${allowed.join(', ')}): 가격 상한이 없어 호가가 얇을 때 큰 손실이 날 수 있고, 가격 범위 검사(price-collar)도 적용되지 않습니다.`,
        `market orders are allowed (${allowed.join(', ')}): no price bound, so a thin book can fill far away, and the price collar cannot judge them`,
      );
    }),
};

export const tradingWindow: PostureCheck = {
  id: 'trading-window',
  area: 'policy',
  weight: 6,
  title: { ko: '거래 시간대', en: 'Trading window' },
  recommendation: {
    anchor: 'trading-window',
    ko: '이 봇의 주문에 trading-window 규칙을 두세요 (예: 월–금 09:00–15:30 KST; NXT 애프터마켓처럼 시장마다 다르면 창마다 markets: [KRX] / [NXT]). 장외 시간의 주문은 거의 언제나 사고나 탈취입니다.',
    en: 'Give this bot a trading-window rule (e.g. mon-fri 09:00-15:30 KST; per venue with markets: [KRX] / [NXT] on each window where the hours differ, as for the NXT after-market): an order outside market hours is almost always a bug or a thief.',
  },
  run: (s) =>
    onOrders(s, (rules) => {
      const w = coverage(rules, 'trading-window', s.bot);
      const all = [...w.enforced, ...w.shadow];
      if (all.length > 0) return pass(`거래 시간대 규칙이 있습니다: ${listed(all)}.`, `a trading-window rule selects this bot's orders: ${listed(all)}`);
      return fail(
        `이 봇의 주문을 시간으로 제한하는 규칙이 없습니다${extra(w, 'ko')}: 새벽에도 주문이 나갈 수 있습니다.`,
        `no rule limits this bot's orders to trading hours${extra(w, 'en')}: orders can go out at 3 a.m.`,
      );
    }),
};

export const windowShadow: PostureCheck = {
  id: 'window-shadow',
  area: 'policy',
  weight: 2,
  title: { ko: '거래 시간대 규칙의 강제 여부', en: 'Trading window enforced, not shadow' },
  recommendation: {
    anchor: 'window-enforce',
    ko: '섀도 결과(kguard_policy_decisions_total{decision="shadow-deny"})가 맞아 보이면 시간대 규칙의 mode: shadow 를 mode: enforce 로 바꾸세요.',
    en: 'Once the shadow results (kguard_policy_decisions_total{decision="shadow-deny"}) look right, change the hours rule from mode: shadow to mode: enforce.',
  },
  run: (s) =>
    onOrders(s, (rules) => {
      const w = coverage(rules, 'trading-window', s.bot);
      if (w.enforced.length > 0) return pass(`거래 시간대 규칙이 강제됩니다: ${listed(w.enforced)}.`, `the trading window is enforced: ${listed(w.enforced)}`);
      if (w.shadow.length > 0)
        return fail(
          `거래 시간대 규칙이 섀도 모드뿐입니다 (${listed(w.shadow)}): 장외 주문은 기록만 되고 나갑니다.`,
          `the trading window is in shadow mode only (${listed(w.shadow)}): orders outside it are logged, and still sent`,
        );
      return pass('시간대 규칙이 없습니다 (trading-window 검사를 보세요).', 'there is no trading-window rule to enforce (see the trading-window check)');
    }),
};

export const holidayCalendar: PostureCheck = {
  id: 'holiday-calendar',
  area: 'policy',
  weight: 2,
  title: { ko: '휴장일 목록의 기간', en: 'Holiday list reaches ahead' },
  recommendation: {
    anchor: 'holiday-calendar',
    ko: '거래소(KRX)가 공고한 다음 해 휴장일을 정책의 calendar.holidays (와 risk.holidays 를 쓴다면 그것)에 추가하세요. 날짜를 추측하지 말고 공고를 확인하세요. response.compensation.holidays 를 쓴다면 다음 해 공휴일을 그것에 추가하세요.',
    en: "Add the exchange's announced closed days for the next year to the policy's calendar.holidays (and to risk.holidays if you use it); take them from KRX's announcement, never guess. If you use response.compensation.holidays, add the next year's public holidays to it.",
  },
  run: (s) =>
    onOrders(s, () => {
      const short = (s.calendars ?? []).filter((c) => c.short);
      if (short.length > 0) return fail(short.map((c) => calendarWarning(c, 'ko')).join('; '), short.map((c) => calendarWarning(c, 'en')).join('; '));
      const all = (s.calendars ?? []).map((c) => `${c.calendar} ${c.coveredThrough}`);
      return all.length > 0
        ? pass(`휴장일 목록이 충분히 앞까지 있습니다: ${listed(all)}.`, `the holiday lists reach far enough ahead: ${listed(all)}`)
        : pass('휴장일 목록이 없습니다 (휴장일 판단 없음).', 'no holiday list is kept (no holiday is judged)');
    }),
};
