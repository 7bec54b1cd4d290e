// What a policy test case reports, in Korean or English: how a decision differed from `expect`, where a modify's
// or cancel's side came from, and a case that cannot run. Outcomes, rule ids and order numbers are as written.
import type { Language } from '../common/errors.js';

export const CASE_TEXT = {
  ko: {
    outcome: (expected: string, got: string, rule: string | undefined, reason: string | undefined) =>
      `기대한 판정 ${expected}, 실제 ${got}${rule ? ` (규칙 ${rule})` : ''}${reason ? ` — ${reason}` : ''}`,
    rule: (expected: string, got: string | undefined) => `기대한 규칙 ${expected}, 실제 ${got ?? '(없음)'}`,
    shadow: (expected: string, got: string) => `기대한 섀도 거부 [${expected}], 실제 [${got}]`,
    reason: (reason: string, needle: string) => `사유 ${reason}에 ${needle}이(가) 없습니다`,
    sideOfOrder: (no: string | undefined) => `주문 ${no}의 구분`,
    noOrderNamed: '원주문 번호(orig_ord_no)가 없습니다',
    notPlaced: (no: string) => `이 케이스에서 주문 ${no}이(가) 접수되지 않았습니다 (before 호출에 orderNo: "${no}"를 주면 접수됩니다)`,
    unknownSide: (no: string) => `주문 ${no}은(는) 구분을 모르는 주문을 정정한 것입니다`,
    bothSides: (why: string) => `${why}; 매수 규칙과 매도 규칙이 모두 적용됩니다`,
    bothOutcomes: '한 케이스에 succeeded와 refused를 함께 쓸 수 없습니다',
    refusedOrderNo: 'refused 케이스의 before 호출은 주문을 만들지 않습니다: orderNo를 빼십시오',
  },
  en: {
    outcome: (expected: string, got: string, rule: string | undefined, reason: string | undefined) =>
      `expected ${expected}, got ${got}${rule ? ` by ${rule}` : ''}${reason ? ` (${reason})` : ''}`,
    rule: (expected: string, got: string | undefined) => `expected rule ${expected}, got ${got ?? '(none)'}`,
    shadow: (expected: string, got: string) => `expected shadow denies [${expected}], got [${got}]`,
    reason: (reason: string, needle: string) => `reason ${reason} does not contain ${needle}`,
    sideOfOrder: (no: string | undefined) => `the side of order ${no}`,
    noOrderNamed: 'no order named',
    notPlaced: (no: string) => `no order ${no} was placed in this case (a before call places one with orderNo: "${no}")`,
    unknownSide: (no: string) => `order ${no} modified an order of unknown side`,
    bothSides: (why: string) => `${why}; the rules for buys and for sells both apply`,
    bothOutcomes: 'a case is either succeeded or refused, not both',
    refusedOrderNo: 'the before calls of a refused case place no order: leave out orderNo',
  },
} as const satisfies Record<Language, unknown>;
